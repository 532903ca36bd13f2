"""Notebook 06's profiles (issue 23, item 6): the long and paper profiles in the release
configuration, their cost estimate, the sampler tables from the window columns, the claims with
duplicates marked, the decisive report reader, and the paper profile end to end on a local Ray
instance with a tiny budget."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("rdkit")

from gafn_lib.molecules.config import MolTrainConfig  # noqa: E402
from gafn_lib.repro import claims as cl  # noqa: E402
from gafn_lib.repro import mol_experiments as mx  # noqa: E402
from gafn_lib.repro.molecules import cost, decisive, sampler  # noqa: E402

#: Fields that vary per run, not per configuration.
RUN_FIELDS = ("seed", "n_steps", "log_every")


def _fields(config) -> dict:
    return {k: v for k, v in dataclasses.asdict(config).items() if k not in RUN_FIELDS}


# ------------------------------------------------------------------------------ profiles
def test_long_profile_is_the_release_configuration_at_a_quarter_of_the_paper_budget():
    runs = mx.long_runs()
    assert [(label, c.seed) for label, c in runs] == [(m, s) for s in (0, 1, 2) for m in mx.RELEASE_PROFILE_METHODS]  # seed-major
    assert set(mx.RELEASE_PROFILE_METHODS) == set(mx.MOL_METHODS) | {mx.GFN_RELEASE_NO_C}
    by_label = {label: c for label, c in runs if c.seed == 0}
    reward = {k: v for k, v in mx.PAPER_REWARD.items()}
    gafn, gfn, gfn_no_c = by_label[mx.GAFN], by_label[mx.GFN], by_label[mx.GFN_RELEASE_NO_C]
    assert _fields(gafn) == _fields(MolTrainConfig.preset("release", **reward))
    # the GFlowNet: the release preset without augmentation; the intrinsic-only fields at their (inert) defaults
    assert _fields(gfn) == _fields(MolTrainConfig.preset("release", augment="none", rnd_features="fixed", terminal="paper", **reward))
    # the sixth method: that GFlowNet with log_reg_c 0 and nothing else changed, as in the decisive run
    assert gfn.log_reg_c == 2.5e-5 and gfn_no_c.log_reg_c == 0.0
    assert _fields(gfn_no_c) == {**_fields(gfn), "log_reg_c": 0.0}
    decisive_no_c = dict(mx.decisive_runs(seeds=[0], methods=[mx.GFN_RELEASE_NO_C]))[mx.GFN_RELEASE_NO_C]
    assert _fields(decisive_no_c) == _fields(gfn_no_c) and decisive_no_c.n_steps == 15_000
    assert (gafn.network, gafn.hidden, gafn.n_rounds, gafn.augment) == ("release", 256, 10, "joint")
    for label, config in runs:
        per_step = getattr(config, "n_chains", None) if label == mx.MARS else config.batch_size
        assert config.n_steps * per_step >= 250_000, label  # 25 % of the paper's 1,000,000 molecules
        assert 50 <= config.n_steps // config.log_every <= 101, label  # metric rows for curves
        assert config.reward_threshold == 7.0
    assert gafn.n_steps == mx.LONG_STEPS == 62_500
    assert {c.hidden for label, c in runs if label in (mx.PPO, mx.MARS, mx.RANDOM)} == {128}  # the baselines at their defaults
    assert mx.LONG_CHECKPOINT_EVERY == 2_000
    # the notebook reads the same runs, method-major
    from gafn_lib.runner import run_id

    assert sorted(run_id(c) for _, c in runs) == sorted(run_id(c) for _, c in mx.notebook_runs("long"))


def test_paper_profile_uses_the_release_preset_and_quick_and_smoke_do_not():
    paper = {label: c for label, c in mx.notebook_runs("paper") if c.seed == 0}
    assert paper[mx.GAFN].network == paper[mx.GFN].network == "release"
    assert paper[mx.GAFN].n_steps == 250_000 and paper[mx.PPO].n_steps == 62_500
    assert mx.notebook_settings("paper")["checkpoint_every"] == mx.PAPER_CHECKPOINT_EVERY
    for profile in ("quick", "smoke"):
        settings = mx.notebook_settings(profile)
        assert settings["method_fields"] == {} and settings["checkpoint_every"] is None
        assert {c.network for label, c in mx.notebook_runs(profile) if label in (mx.GAFN, mx.GFN)} == {"compact"}


def test_profile_builders_name_their_bad_parameters():
    with pytest.raises(ValueError, match="n_steps"):
        mx.notebook_settings("long", n_steps=0)
    with pytest.raises(ValueError, match="methods"):
        mx.sweep_runs("long", ["PPO+"])
    with pytest.raises(ValueError, match="method_fields"):
        mx.molecule_runs([0], 8, method_fields={"nope": {}})
    with pytest.raises(ValueError, match="methods has unknown labels"):
        mx.molecule_runs([0], 8, ["GFlowNet (typo)"])
    with pytest.raises(ValueError, match="quick profile"):  # the sixth method is the long and paper profiles' only
        mx.sweep_runs("quick", [mx.GFN_RELEASE_NO_C])
    with pytest.raises(ValueError, match="label must be one of"):
        mx.variant_fields("GFlowNet (release, log_reg_c 1)")


def test_a_variant_label_never_trains_its_base_config():
    """A variant built by molecule_runs without method_fields still gets its own fields, so it can
    never silently be a second copy of its base method's run."""
    from gafn_lib.runner import run_id

    runs = dict(mx.molecule_runs([0], 8, [mx.GFN, mx.GFN_RELEASE_NO_C, mx.GFN_RELEASE_LOSS], n_logs=2))
    assert runs[mx.GFN_RELEASE_NO_C].log_reg_c == 0.0 and runs[mx.GFN_RELEASE_NO_C].network == "release"
    assert runs[mx.GFN_RELEASE_LOSS].network == "compact" and runs[mx.GFN_RELEASE_LOSS].log_reg_c == 2.5e-5
    assert len({run_id(c) for c in runs.values()}) == 3
    assert mx.variant_fields(mx.GFN) == {} and mx.variant_fields(mx.RANDOM) == {}
    direct = mx.method_config(mx.GFN_RELEASE_NO_C, seed=0, molecules=8, n_logs=2)  # one config, by hand
    assert run_id(direct) == run_id(runs[mx.GFN_RELEASE_NO_C])


def test_scale_note_of_the_long_profile_states_the_share_and_the_seed_limit():
    s = mx.notebook_settings("long")
    note = mx.scale_note("long", s["molecules"], len(s["seeds"]), s["reward"])
    assert "250,000 molecules" in note and "25 %" in note and "release" in note and "without log_reg_c" in note
    assert "CANNOT" in note and "4 vs 4" in note


# ------------------------------------------------------------------------------ cost
def test_cost_estimate_by_hand():
    runs = mx.long_runs(mx.MOL_METHODS, seeds=[0])
    table = cost.cost_estimate(runs, rates={mx.GAFN: 5.0, mx.GFN: 10.0, mx.PPO: 2.5, mx.MARS: 12.5, mx.RANDOM: 62.5}).set_index("method")
    assert table.loc[mx.GAFN, "core_hours_per_run"] == pytest.approx(62_500 / 5.0 / 3600)
    assert table.loc[mx.PPO, "core_hours"] == pytest.approx(15_625 / 2.5 / 3600)
    expected = (62_500 / 5 + 62_500 / 10 + 15_625 / 2.5 + 15_625 / 12.5 + 62_500 / 62.5) / 3600
    assert table.loc["total", "core_hours"] == pytest.approx(expected)
    half = cost.cost_estimate(runs, rates={mx.GAFN: 5.0, mx.GFN: 10.0, mx.PPO: 2.5, mx.MARS: 12.5, mx.RANDOM: 62.5},
                              steps_done={0: 31_250}).set_index("method")
    assert half.loc[mx.GAFN, "core_hours_left"] == pytest.approx(31_250 / 5.0 / 3600)
    unknown = cost.cost_estimate(runs, rates={mx.GAFN: 5.0}).set_index("method")
    assert math.isnan(unknown.loc[mx.PPO, "core_hours"]) and math.isnan(unknown.loc["total", "core_hours"])
    with pytest.raises(ValueError, match=r"rates\['GAFlowNet'\]"):
        cost.cost_estimate(runs, rates={mx.GAFN: 0.0})
    with pytest.raises(ValueError, match=r"steps_done\[0\]"):
        cost.cost_estimate(runs, steps_done={0: 10**9})
    with pytest.raises(ValueError, match="workers"):
        cost.format_cost(table.reset_index(), workers=0)


def test_measured_rates_cover_every_method_and_give_the_documented_total():
    assert set(cost.RELEASE_CPU_STEPS_PER_SECOND) == set(mx.RELEASE_PROFILE_METHODS)
    table = cost.cost_estimate(mx.long_runs()).set_index("method")
    assert 29 < table.loc["total", "core_hours"] < 33  # docs/distributed.md: about 31 core-hours
    assert table.loc[mx.GFN_RELEASE_NO_C, "core_hours"] == pytest.approx(3 * 62_500 / 5.64 / 3600)  # about 9.2


def test_long_status_prints_the_cost_estimate(tmp_path, capsys):
    assert mx.main(["long", "--status", "--results-dir", str(tmp_path), "--no-archive", "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "0 of 18 runs done" in out and "core-hours in all" in out and "on 2 core(s)" in out


def test_cli_checks_backend_and_address(tmp_path, capsys):
    base = ["long", "--results-dir", str(tmp_path), "--no-archive", "--seeds", "0", "--methods", mx.RANDOM]
    with pytest.raises(SystemExit):
        mx.main(base + ["--backend", "serial", "--workers", "2"])
    assert "--backend serial" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        mx.main(base + ["--address", "localhost:6379"])
    assert "--address" in capsys.readouterr().err
    assert mx.main(["paper", "--status", "--results-dir", str(tmp_path), "--no-archive"]) == 0
    assert "0 of 18 runs done" in capsys.readouterr().out


# ------------------------------------------------------------------------------ sampler tables and claims
def _table(n_seeds: int = 4, windows: int = 6, window: int = 1000, with_windows: bool = True, methods=mx.MOL_METHODS) -> pd.DataFrame:
    """Runs of ``methods`` with made-up rows: PPO's and MARS's hit rates well above random search's
    late in training, GAFlowNet and GFlowNet at random search's, the GFlowNet without ``log_reg_c``
    (when in ``methods``) between them."""
    late = {mx.GAFN: 0.001, mx.GFN: 0.001, mx.GFN_RELEASE_NO_C: 0.01, mx.PPO: 0.05, mx.MARS: 0.08, mx.RANDOM: 0.001}
    final = {mx.GAFN: (0.7, 10, 8, 0.27), mx.GFN: (0.6, 7, 6, 0.26), mx.GFN_RELEASE_NO_C: (0.9, 20, 15, 0.3),
             mx.PPO: (1.4, 300, 40, 0.53), mx.MARS: (1.3, 900, 30, 0.48), mx.RANDOM: (0.7, 12, 11, 0.28)}
    rows = []
    for method in methods:
        for seed in range(n_seeds):
            reward, modes, separated, tanimoto = final[method]
            for i in range(windows):
                row = {"method": method, "seed": seed, "run": f"{method}-{seed}", "step": i + 1, "molecules_generated": (i + 1) * window,
                       "top10_reward": reward * (i + 1) / windows + 0.01 * seed, "top10_score": 7.7, "top10_score_norm": 0.96,
                       "n_modes": modes * (i + 1) // windows + seed, "n_modes_separated": separated * (i + 1) // windows + seed,
                       "top10_tanimoto": tanimoto + 0.001 * seed, "unique_molecules": (i + 1) * window, "wall_seconds": 1.0}
                if with_windows:
                    rate = late[method] if i >= windows // 2 else 0.001
                    row.update({"window_molecules": window, "hit_rate": rate + 0.0001 * seed, "mean_score": 5 + 10 * rate,
                                "unique_fraction": 1.0, "mean_length": 6.0})
                rows.append(row)
    return pd.DataFrame(rows)


def test_sampler_tables_from_window_columns():
    table = _table()
    assert sampler.has_window_columns(table) and not sampler.has_window_columns(_table(with_windows=False))
    tails = sampler.tail_table(table).set_index(["method", "seed"])
    assert tails.loc[(mx.PPO, 0), "molecules"] == 2000 and tails.loc[(mx.PPO, 0), "hits"] == 100
    vs = sampler.hit_rate_vs_random(table).set_index("method")
    assert list(vs.index) == [mx.GAFN, mx.GFN, mx.PPO, mx.MARS]
    assert vs.loc[mx.PPO, "verdict"] == vs.loc[mx.MARS, "verdict"] == "beats random"
    assert vs.loc[mx.GAFN, "verdict"] == "inconclusive"
    # against any reference: PPO beats GFlowNet in every seed, MARS beats PPO, GFlowNet is worse than PPO
    vs_gfn = sampler.hit_rate_vs(table, mx.GFN, [mx.GAFN, mx.PPO]).set_index("method")
    assert vs_gfn.loc[mx.PPO, "verdict"] == f"beats {mx.GFN}" and vs_gfn.loc[mx.GAFN, "verdict"] == "inconclusive"
    assert f"{mx.GFN}_hit_rate" in vs_gfn.columns and len(vs_gfn.loc[mx.PPO, "z"].split("; ")) == 4
    assert sampler.hit_rate_vs(table, mx.PPO, [mx.MARS]).loc[0, "verdict"] == f"beats {mx.PPO}"
    assert sampler.hit_rate_vs(table, mx.PPO, [mx.GFN]).loc[0, "verdict"] == f"worse than {mx.PPO}"
    assert sampler.hit_rate_vs(table[table["method"] != mx.GFN], mx.GFN, [mx.GAFN]).empty  # no reference run
    summary = sampler.summary_table(table).set_index("method")
    for column in ("top10_reward_mean", "top10_score_norm_mean", "n_modes_mean", "n_modes_separated_mean", "tail_hit_rate_mean",
                   "tail_mean_score_std", "seeds"):
        assert column in summary.columns, column
    assert summary.loc[mx.MARS, "tail_hit_rate_mean"] == pytest.approx(0.08 + 0.0001 * 1.5)
    assert summary.loc[mx.MARS, "tail_mean_length_mean"] == 6.0 and summary.loc[mx.MARS, "tail_unique_fraction_mean"] == 1.0
    shown = sampler.format_summary(sampler.summary_table(table)).set_index("method")
    assert shown.loc[mx.MARS, "n_modes"] == "902 ± 1.29" and shown.loc[mx.MARS, "seeds"] == 4
    old = sampler.summary_table(_table(with_windows=False))
    assert "tail_hit_rate_mean" not in old.columns and "n_modes_separated_mean" in old.columns
    with pytest.raises(ValueError, match="window columns"):
        sampler.tail_table(_table(with_windows=False))


def test_finished_runs_give_each_runs_late_window_and_final_metrics():
    table = _table(n_seeds=2, methods=(mx.RANDOM, mx.PPO))
    runs = sampler.finished_runs(table)
    assert runs[["method", "seed"]].values.tolist() == [[mx.PPO, 0], [mx.PPO, 1], [mx.RANDOM, 0], [mx.RANDOM, 1]]  # table order
    ppo1 = runs.set_index(["method", "seed"]).loc[(mx.PPO, 1)]
    # the last third of 6 windows of 1,000: windows 5 and 6, at PPO's late rate 0.05 + 0.0001 · seed
    assert ppo1["late_hits"] == round(2000 * 0.0501) and ppo1["late_hit_rate"] == pytest.approx(0.0501)
    assert ppo1["late_mean_score"] == pytest.approx(5 + 10 * 0.05) and ppo1["late_mean_length"] == 6.0
    assert ppo1["n_modes"] == 300 + 1 and ppo1["n_modes_separated"] == 40 + 1 and ppo1["hours"] == pytest.approx(1 / 3600)
    assert ppo1["top10_reward"] == pytest.approx(1.4 + 0.01)
    shown = sampler.format_finished_runs(runs).set_index(["method", "seed"])
    assert shown.loc[(mx.PPO, 1), "late_hit_rate"] == "5.01 %"
    # runs stored before the window columns: the final metrics only
    assert "late_hit_rate" not in sampler.finished_runs(_table(n_seeds=1, with_windows=False)).columns
    assert sampler.finished_runs(table.iloc[:0]).empty


def test_claims_mark_duplicate_comparisons_and_count_distinct_ones():
    # without the window and separated-modes columns: the 27 rows of the paper's claims are 19 comparisons
    old = _table(with_windows=False).drop(columns=["n_modes_separated"])
    results = mx.molecule_claims(old)
    assert len(results) == 27 and len(cl.distinct_results(results)) == 19
    duplicates = [r for r in results if r.duplicate_of]
    assert len(duplicates) == 8
    row = next(r for r in results if r.claim.startswith("PPO finds better molecules than MARS"))
    assert row.duplicate_of.startswith("MARS does poorly under the sparse reward") and "(PPO vs MARS)" in row.duplicate_of
    assert sum(cl.verdict_counts(results, distinct=True).values()) == 19
    # with them: + 4 hit-rate rows against random search, + 4 separated-modes rows, all distinct
    results = mx.molecule_claims(_table())
    assert len(results) == 35 and len(cl.distinct_results(results)) == 27
    hit_rows = {r.label_a: r for r in results if r.metric == "tail_hit_rate"}
    assert set(hit_rows) == {mx.GAFN, mx.GFN, mx.PPO, mx.MARS} and {r.label_b for r in hit_rows.values()} == {mx.RANDOM}
    assert hit_rows[mx.PPO].verdict == "supported"  # 4 vs 4 seeds, complete separation
    assert hit_rows[mx.GAFN].verdict != "supported"
    separated = [r for r in results if r.metric == "n_modes_separated"]
    assert len(separated) == 4 and all(any("agree" in n for n in r.notes) for r in separated)
    # at 3 seeds per method no row can be decided
    three = mx.molecule_claims(_table(n_seeds=3))
    assert all(r.verdict == "inconclusive" for r in three)


def test_claims_and_hit_rate_tests_cover_the_gflownet_without_log_reg_c():
    """With the long profile's sixth method, every claim about "the GFlowNet" has a row per GFlowNet
    (12 more rows, 9 more distinct comparisons), and GAFlowNet's hit rate is tested against each."""
    table = _table(methods=mx.RELEASE_PROFILE_METHODS)
    results = mx.molecule_claims(table)
    against = [r for r in results if mx.GFN_RELEASE_NO_C in (r.label_a, r.label_b)]
    assert len(results) == 35 + 12 and len(against) == 12
    # 3 of them repeat a comparison of another claim ("diverse" vs PPO and MARS is "PPO and MARS are
    # similar"; "lower in quality" is "GAFlowNet finds the best molecules"), as for the GFlowNet
    assert len(cl.distinct_results(results)) == 27 + 9
    quality = next(r for r in against if r.claim.startswith("GFlowNet is lower in quality than GAFlowNet"))
    assert (quality.label_a, quality.label_b) == (mx.GAFN, mx.GFN_RELEASE_NO_C) and quality.verdict == "contradicted"
    # restricted to the paper's five methods, the rows are those of the five
    assert len(mx.molecule_claims(table, methods=mx.MOL_METHODS)) == 35
    vs = sampler.gafn_vs_gflownets(table)
    assert list(vs["reference"]) == [mx.GFN, mx.GFN_RELEASE_NO_C] and set(vs["method"]) == {mx.GAFN}
    assert list(vs["verdict"]) == ["inconclusive", "worse than GFlowNet"]  # 0.001 against 0.001, then against 0.01
    assert list(sampler.gafn_vs_gflownets(_table())["reference"]) == [mx.GFN]  # the quick profile has one GFlowNet
    assert sampler.gafn_vs_gflownets(table[table["method"] != mx.GAFN]).empty
    assert sampler.summary_table(table)["method"].tolist() == list(mx.RELEASE_PROFILE_METHODS)
    learners = [m for m in mx.RELEASE_PROFILE_METHODS if m != mx.RANDOM]
    assert sampler.hit_rate_vs_random(table)["method"].tolist() == learners  # in table order


def test_plain_findings_say_every_seed_only_when_the_table_verdict_does():
    from gafn_lib.repro.molecules import findings

    table = _table(methods=mx.RELEASE_PROFILE_METHODS)
    vs_random = sampler.hit_rate_vs_random(table)
    sentences = dict(zip(vs_random["method"], findings.table_sentences(vs_random, reference="random search")))
    for method, verdict in zip(vs_random["method"], vs_random["verdict"]):
        # "in every seed" exactly when the table's verdict is one-sided in every seed, and then in the verdict's direction
        assert ("in every seed" in sentences[method]) == (verdict != "inconclusive"), (method, verdict, sentences[method])
        assert ("more often" in sentences[method]) == (verdict == "beats random") or verdict == "inconclusive"
    assert sentences[mx.PPO].startswith("PPO's sampler hits more often than random search's") and "4 of 4" in sentences[mx.PPO]
    assert "no verdict" in sentences[mx.GAFN] and "no difference in seeds 0, 1, 2, 3" in sentences[mx.GAFN]
    vs_gfn = sampler.gafn_vs_gflownets(table)  # against each GFlowNet, named in the sentence
    against_gfn, against_no_c = findings.table_sentences(vs_gfn, reference_column="reference")
    assert against_gfn.startswith(f"{mx.GAFN} against {mx.GFN}, late-training hit rate: no verdict")
    assert against_no_c.startswith(f"{mx.GAFN}'s sampler hits less often than {mx.GFN_RELEASE_NO_C}'s late in training in every seed (4 of 4; z = ")
    # mixed seeds: each side named, no verdict
    mixed = findings.comparison_sentence("A", "B", [0, 1, 2], [2.0, -1.7, 1.6])
    assert mixed == "A against B, late-training hit rate: no verdict (more often in seed 0; less often in seed 1; no difference in seed 2; z = +2.0, -1.7, +1.6)."
    assert findings.seed_sides([0, 1], [-decisive.Z_CRITICAL - 1e-9, decisive.Z_CRITICAL]) == {"above": [], "below": [0], "level": [1]}
    # the table's verdict (from unrounded z) decides "every seed" when a rounded z sits at the threshold
    assert "in every seed (2 of 2; z = +1.6, +3.0)" in findings.comparison_sentence("A", "B", [0, 1], [1.6, 3.0], verdict="beats B")
    assert "no verdict (more often in seed 1; no difference in seed 0" in findings.comparison_sentence("A", "B", [0, 1], [1.6, 3.0], verdict="inconclusive")
    # ranks, best first by each metric's direction; the best method named when it is not GAFlowNet
    summary = sampler.summary_table(table)
    ranks = findings.rank_sentences(summary)
    assert ranks[0] == f"{mx.GAFN} ranks 4 of 6 on mean top-10 reward: 0.715 ± 0.013; best: {mx.PPO}, 1.41 ± 0.013."  # 1.4 + 0.01·seed, seeds 0–3
    # diversity: the lowest Tanimoto is best (GFlowNet 0.26 < GAFlowNet 0.27 < ... < PPO 0.53)
    assert ranks[2].startswith(f"{mx.GAFN} ranks 2 of 6 on top-10 diversity") and ranks[2].endswith(f"best: {mx.GFN}, 0.262 ± 0.0013.")
    assert findings.rank_sentences(summary, method=mx.GFN)[2] == f"{mx.GFN} ranks 1 of 6 on top-10 diversity (lower Tanimoto similarity): 0.262 ± 0.0013."
    assert len(findings.plain_findings(vs_random, vs_gfn, summary)) == len(vs_random) + len(vs_gfn) + 4
    no_hits = summary.assign(tail_hit_rate_mean=[np.nan if m == mx.GAFN else v for m, v in zip(summary["method"], summary["tail_hit_rate_mean"])])
    assert len(findings.rank_sentences(no_hits)) == 3  # a metric GAFlowNet has no value for gets no rank
    assert findings.plain_findings(None, None, None) == [] and findings.rank_sentences(summary, method="absent") == []
    with pytest.raises(ValueError, match="z must be"):
        findings.seed_values("+1.0; n/a")
    with pytest.raises(ValueError, match="one value per seed"):
        findings.seed_sides([0, 1], [1.0])


def test_sampler_panels_draw_four_axes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4)
    mx.plot_sampler_panels(_table(n_seeds=2), axes, threshold=7.0)
    assert axes[0].get_yscale() == "log" and "score > 7" in axes[0].get_ylabel()
    assert all(len(ax.get_lines()) == len(mx.MOL_METHODS) for ax in axes)
    plt.close(fig)


# ------------------------------------------------------------------------------ decisive report
def test_read_report_needs_every_table(tmp_path):
    assert decisive.read_report(tmp_path) is None
    folder = decisive.report_dir(tmp_path)
    folder.mkdir(parents=True)
    for key, name in decisive.REPORT_TABLES.items():
        pd.DataFrame({"method": ["Random"], "key": [key]}).to_csv(folder / name, index=False)
    report = decisive.read_report(tmp_path)
    assert set(report) == {"curves", "tail_hits", "verdicts"} and report["verdicts"].loc[0, "key"] == "verdicts"
    (folder / decisive.REPORT_TABLES["curves"]).unlink()
    assert decisive.read_report(tmp_path) is None
    assert "decisive --report" in decisive.REPORT_COMMAND


# ------------------------------------------------------------------------------ the paper profile on Ray
def test_paper_profile_runs_end_to_end_on_a_local_ray_instance(tmp_path):
    """Every method of the paper profile (release-configuration GFlowNets, paper reward, the
    profile's checkpoint period) for one seed with 4 GFlowNet steps (16 molecules per run) and a
    tiny network, trained by Ray tasks; the stored tables have every method's rows with the window
    columns, and the notebook's tables and claims are built from them."""
    ray = pytest.importorskip("ray")
    from gafn_lib.runner import ExperimentStore, run_id

    runs = mx.notebook_runs("paper", seeds=[0], n_steps=4, hidden=8, n_rounds=1, max_blocks=3)
    assert {label: c.network for label, c in runs if label in (mx.GAFN, mx.GFN)} == {mx.GAFN: "release", mx.GFN: "release"}
    assert {c.reward_threshold for _, c in runs} == {7.0}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        table = mx.run_molecules(runs, tmp_path, workers=2, backend="ray", progress=False,
                                 checkpoint_every=mx.notebook_settings("paper")["checkpoint_every"])
    finally:
        ray.shutdown()
    store = ExperimentStore.open(mx.MOL_STORE, tmp_path)
    for _, config in runs:
        assert store.is_complete(run_id(config))
        assert store.read_metadata(run_id(config))["backend"] == "ray"
    assert set(table["method"]) == set(mx.RELEASE_PROFILE_METHODS)
    generated = table.groupby("method")["molecules_generated"].max()
    assert (generated.drop(mx.MARS) == 16).all() and generated[mx.MARS] == 32  # MARS also counts its 16 initial chain states
    assert sampler.has_window_columns(table)
    again = mx.load_molecules(runs, tmp_path)  # read back from the store
    assert len(again) == len(table) and np.allclose(again["hit_rate"].fillna(-1), table["hit_rate"].fillna(-1))
    assert set(sampler.summary_table(table)["method"]) == set(mx.RELEASE_PROFILE_METHODS)
    assert len(mx.molecule_claims(table, scope="paper reward")) == 35 + 12  # a row per GFlowNet for each GFlowNet claim


def test_tail_of_a_run_with_few_long_windows_is_its_last_window():
    # the smoke profile: 2 windows of 8 molecules, no window starting in the last third
    table = _table(n_seeds=1, windows=2, window=8)
    tails = sampler.tail_table(table).set_index(["method", "seed"])
    assert (tails["molecules"] == 8).all()
    assert len(sampler.hit_rate_vs_random(table)) == 4


def test_progress_names_the_runs_a_live_sweep_holds(tmp_path):
    """Two sweeps train the long profile at once (the sixth method on its own core): --status says
    which runs another live process holds, so none is started twice."""
    import subprocess
    import sys

    from gafn_lib.runner import ExperimentStore, run_id
    from gafn_lib.runner.locks import RunLocks

    runs = mx.long_runs([mx.GFN_RELEASE_NO_C, mx.RANDOM], seeds=[0])
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        locks = RunLocks(ExperimentStore.open(mx.MOL_STORE, tmp_path).root)
        locks.pid = other.pid  # that process's sweep holds the first run
        locks.acquire([run_id(runs[0][1])])
        status = mx.progress_of(runs, tmp_path)["status"].tolist()
        assert status[0] == f"not started · in a live sweep (pid {other.pid} on {locks.host} since {locks.owner(run_id(runs[0][1])).started_at})"
        assert status[1] == "not started"
    finally:
        other.kill()
        other.wait()
    assert mx.progress_of(runs, tmp_path)["status"].tolist() == ["not started", "not started"]  # its process is gone
