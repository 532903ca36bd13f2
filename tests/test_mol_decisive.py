"""The decisive run of issue 23: its configs, its statistic and its command line."""

from __future__ import annotations

import dataclasses

import math

import pandas as pd
import pytest

from gafn_lib.repro import mol_experiments as mx
from gafn_lib.repro.molecules import decisive
from gafn_lib.repro.molecules.configs import GAFN_RELEASE, GAFN_RELEASE_NO_C, GFN, GFN_RELEASE, GFN_RELEASE_LOSS, GFN_RELEASE_NO_C, RANDOM, decisive_runs


def test_decisive_runs_are_release_gfn_default_gfn_and_random_at_one_budget():
    runs = decisive_runs()
    assert [label for label, _ in runs] == [RANDOM, RANDOM, GFN, GFN, GFN_RELEASE_LOSS, GFN_RELEASE_LOSS, GFN_RELEASE, GFN_RELEASE,
                                            GAFN_RELEASE, GAFN_RELEASE, GFN_RELEASE_NO_C, GFN_RELEASE_NO_C, GAFN_RELEASE_NO_C, GAFN_RELEASE_NO_C]
    assert [c.seed for _, c in runs] == [0, 1] * 7
    rand, default, loss_only, release, gafn, no_c, gafn_no_c = (c for _, c in runs[::2])
    assert no_c == dataclasses.replace(release, log_reg_c=0.0)  # the release GFlowNet but for log_reg_c
    assert gafn_no_c == dataclasses.replace(gafn, log_reg_c=0.0)
    assert (gafn.augment, gafn.rnd_features, gafn.terminal, gafn.network, gafn.eta) == ("joint", "graph", "release", "release", 0.1)
    assert (loss_only.network, loss_only.hidden, loss_only.n_rounds, loss_only.log_reg_c, loss_only.leaf_coef) == ("compact", 128, 3, 2.5e-5, 10.0)
    assert (release.augment, release.network, release.hidden, release.n_rounds) == ("none", "release", 256, 10)
    assert (release.log_reg_c, release.leaf_coef, release.objective) == (2.5e-5, 10.0, "fm")
    assert (default.augment, default.network, default.log_reg_c, default.leaf_coef) == ("none", "compact", 0.0, None)
    assert {c.n_steps for _, c in runs} == {15_000}  # 4 molecules per step for all three
    assert rand.reward_threshold == release.reward_threshold == 7.0
    with pytest.raises(ValueError, match="methods"):
        decisive_runs(methods=["PPO"])


def test_two_proportion_z_by_hand():
    # 30/1000 vs 10/1000: pooled p = 0.02, se = sqrt(0.02*0.98*0.002) = 0.0062610
    assert decisive.two_proportion_z(30, 1000, 10, 1000) == pytest.approx(0.02 / math.sqrt(0.02 * 0.98 * 0.002))
    assert decisive.two_proportion_z(0, 10, 0, 10) == 0.0
    with pytest.raises(ValueError):
        decisive.two_proportion_z(1, 0, 1, 10)


def _curves(rates: dict[tuple[str, int], list[float]], window: int = 1000) -> pd.DataFrame:
    rows = []
    for (method, seed), values in rates.items():
        for i, rate in enumerate(values):
            rows.append({"method": method, "seed": seed, "molecules_generated": (i + 1) * window, "window_molecules": window,
                         "hit_rate": rate, "mean_score": 5.0 + rate, "unique_fraction": 1.0, "mean_length": 6.0, "top10_reward": 0.3, "n_modes": 0})
    return pd.DataFrame(rows)


def test_tail_hits_reads_the_last_third_and_the_verdicts_can_go_either_way():
    curves = _curves({
        ("A", 0): [0.0, 0.0, 0.0, 0.0, 0.05, 0.05], ("A", 1): [0.0] * 4 + [0.04, 0.06],
        ("B", 0): [0.01] * 6, ("B", 1): [0.0] * 6,
        (RANDOM, 0): [0.01] * 6, (RANDOM, 1): [0.01] * 6,
    })
    hits = decisive.tail_hits(curves).set_index(["method", "seed"])
    assert hits.loc[("A", 0), "molecules"] == 2000 and hits.loc[("A", 0), "hits"] == 100
    assert hits.loc[("A", 1), "hit_rate"] == pytest.approx(0.05)
    verdicts = decisive.against_random(hits.reset_index(), RANDOM).set_index("method")
    assert verdicts.loc["A", "verdict"] == "beats random"
    assert verdicts.loc["B", "verdict"] == "inconclusive"  # equal in seed 0, worse in seed 1
    worse = decisive.against_random(decisive.tail_hits(_curves({("C", 0): [0.0] * 6, (RANDOM, 0): [0.02] * 6})), RANDOM)
    assert worse.loc[0, "verdict"] == "worse than random"
    with pytest.raises(ValueError, match="tail"):
        decisive.tail_hits(curves, tail=0)


def test_tail_hits_averages_length_and_uniqueness_by_molecules():
    curves = _curves({("A", 0): [0.0] * 6})
    curves["window_molecules"] = [1000, 1000, 1000, 1000, 1000, 3000]  # windows 5 and 6 make the tail (start >= 4,000)
    curves["molecules_generated"] = curves["window_molecules"].cumsum()
    curves["mean_length"] = [8.0, 8.0, 8.0, 8.0, 2.0, 4.0]
    curves["unique_fraction"] = [1.0, 1.0, 1.0, 1.0, 0.2, 0.6]
    hits = decisive.tail_hits(curves, tail=0.5).iloc[0]
    assert hits["molecules"] == 4000
    assert hits["mean_length"] == pytest.approx((1000 * 2.0 + 3000 * 4.0) / 4000)  # 3.5
    assert hits["unique_fraction"] == pytest.approx((1000 * 0.2 + 3000 * 0.6) / 4000)  # 0.5
    bare = decisive.tail_hits(curves.drop(columns=["mean_length", "unique_fraction"]), tail=0.5)
    assert list(bare.columns) == ["method", "seed", "molecules", "hits", "hit_rate", "mean_score"]


def test_decisive_figure_adds_the_modes_panel_when_the_curves_have_it():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    curves = _curves({("A", 0): [0.0, 0.05], (RANDOM, 0): [0.01, 0.01]})
    fig = decisive.plot_decisive(curves, "t")
    assert len(fig.axes) == 3 and "modes" in fig.axes[2].get_ylabel()
    assert list(fig.axes[0].lines[0].get_ydata()) == [0.0, 50.0]  # cumulative hits of A: 0, then 0.05 × 1000
    plt.close(fig)
    fig = decisive.plot_decisive(curves.drop(columns=["n_modes"]), "t")
    assert len(fig.axes) == 2
    plt.close(fig)


def test_status_lists_the_ten_runs(tmp_path, capsys):
    assert mx.main(["decisive", "--status", "--results-dir", str(tmp_path), "--no-archive"]) == 0
    out = capsys.readouterr().out
    assert "0 of 14 runs done" in out and "GFlowNet (release)" in out


def test_cli_rejects_unknown_methods_and_report_for_long(tmp_path):
    with pytest.raises(SystemExit):
        mx.main(["decisive", "--methods", "PPO", "--results-dir", str(tmp_path), "--no-archive"])
    with pytest.raises(SystemExit):
        mx.main(["long", "--report", "--results-dir", str(tmp_path), "--no-archive"])


def test_tiny_decisive_run_end_to_end(tmp_path):
    runs = decisive_runs(seeds=[0], n_steps=6, n_logs=3, hidden=8, n_rounds=1, max_blocks=3)
    mx.run_molecules(runs, tmp_path, workers=1, backend="serial", progress=False)
    assert mx.report_decisive(runs, tmp_path, tables_dir=tmp_path / "tables", figures_dir=tmp_path / "figures") == 0
    curves = pd.read_csv(tmp_path / "tables" / "decisive_curves.csv")
    assert set(curves["method"]) == {GFN_RELEASE, GFN_RELEASE_LOSS, GFN, RANDOM, GAFN_RELEASE, GFN_RELEASE_NO_C, GAFN_RELEASE_NO_C}
    assert (curves.groupby("method")["molecules_generated"].max() == 24).all()
    verdicts = pd.read_csv(tmp_path / "tables" / "decisive_verdicts.csv")
    assert set(verdicts["method"]) == {GFN_RELEASE, GFN_RELEASE_LOSS, GFN, GAFN_RELEASE, GFN_RELEASE_NO_C, GAFN_RELEASE_NO_C}
    paired = pd.read_csv(tmp_path / "tables" / "decisive_gafn_vs_gfn.csv")
    assert list(paired["method"]) == [GAFN_RELEASE, GAFN_RELEASE, GAFN_RELEASE_NO_C]
    assert list(paired["reference"]) == [GFN_RELEASE, GFN_RELEASE_NO_C, GFN_RELEASE_NO_C]
    assert "GFlowNet_hit_rate" in paired.columns and paired["verdict"].isin(["beats GFlowNet", "worse than GFlowNet", "inconclusive"]).all()
    folder = mx.decisive.report_dir(tmp_path / "results")  # where notebook 06 reads the report
    folder.mkdir(parents=True)
    for name in [*mx.decisive.REPORT_TABLES.values(), *mx.decisive.OPTIONAL_REPORT_TABLES.values()]:
        (folder / name).write_bytes((tmp_path / "tables" / name).read_bytes())
    report = mx.decisive.read_report(tmp_path / "results")
    assert set(report) == {"curves", "tail_hits", "verdicts", "gafn_vs_gfn"}
    (folder / mx.decisive.OPTIONAL_REPORT_TABLES["gafn_vs_gfn"]).unlink()
    assert "gafn_vs_gfn" not in mx.decisive.read_report(tmp_path / "results")  # optional
    assert (tmp_path / "figures" / "molecules_decisive.png").exists()
