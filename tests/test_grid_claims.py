"""The GridWorld claim builders of ``gafn_lib.repro.experiments`` on synthetic run tables: the
paper's claims as the paper states them ("faster" as time to event with censoring, "still as good"
as non-inferiority), RND against count at count's best η, one row per distinct comparison, stuck
baselines, and PPO's chance to reach a goal by hand."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from gafn_lib.repro import claims as cl
from gafn_lib.repro import experiments as ex

H = 16
N_MODES = 3
BUDGET = 32_000.0  # trajectories of a run: its censoring time


def run_rows(method: str, seed: int, *, l1: list[float], modes: list[int], first_visit: float | None = None,
             height: int = H, exact: list[float] | None = None, run: str | None = None, **extra) -> list[dict]:
    """One run's logged rows: ``l1`` / ``modes`` per logged step (steps 100, 200, ...)."""
    steps = [100 * (i + 1) for i in range(len(l1))]
    exact = exact if exact is not None else l1
    rows = []
    for i, step in enumerate(steps):
        last = i == len(steps) - 1
        rows.append(dict(
            run=run or f"{method}-{height}-{seed}", method=method, seed=seed, height=height, step=step,
            trajectories=BUDGET * step / steps[-1], l1_mean_visited=l1[i], l1_mean_exact=exact[i],
            modes_found=modes[i], modes_covered=min(modes[i], 1), n_modes=N_MODES, mean_length=3.0,
            first_visit_all_modes=(first_visit if first_visit is not None and last else math.nan),
            first_visit_recorded=True, **extra,
        ))
    return rows


def frame(*runs: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([row for rows in runs for row in rows])


INITIAL = 2 / H**2  # the sparse grid's L1 of a sampler that has visited no goal


# ------------------------------------------------------------------------------------ faster
def test_time_to_event_row_censors_runs_that_never_found_every_goal():
    gafn = [run_rows(ex.GAFN, s, l1=[INITIAL, 1e-3], modes=[1, 3], first_visit=1_000.0 * (s + 1)) for s in range(5)]
    # TB: two runs found every goal late, three never did (censored at the budget)
    found_late = {0: 20_000.0, 1: 25_000.0}
    tb = [run_rows(ex.TB, s, l1=[INITIAL, 3e-3], modes=[1, 3 if s in found_late else 2], first_visit=found_late.get(s)) for s in range(5)]
    table = frame(*gafn, *tb)
    row = ex.time_to_event_claim(table, ex.faster_text(ex.TB), ex.GAFN, ex.TB, height=H)
    assert row.kind == cl.TIME_TO_EVENT and row.metric == ex.FIRST_VISIT_ALL and row.scope == "H=16"
    assert row.events_a == (True,) * 5 and row.events_b == (True, True, False, False, False)
    assert row.values_b[2:] == (BUDGET,) * 3  # censored at the budget
    assert row.verdict == cl.SUPPORTED  # every GAFlowNet run certainly finished first: 25 of 25 pairs, p = 1/252
    assert any("censored at its budget (32,000)" in n for n in row.notes)
    # the other way round it is contradicted, never supported
    assert ex.time_to_event_claim(table, "TB faster", ex.TB, ex.GAFN, height=H).verdict == cl.CONTRADICTED


def test_time_to_event_row_cannot_beat_a_censored_run_it_did_not_outlast():
    # B's runs stopped (censored) at 1,500 visited states, before A found the goals at 2,000: undetermined pairs
    a = [run_rows("A", s, l1=[INITIAL, 1e-3], modes=[1, 3], first_visit=2_000.0) for s in range(5)]
    b = [run_rows("B", s, l1=[INITIAL, INITIAL], modes=[0, 0]) for s in range(5)]
    table = frame(*a, *b)
    table.loc[table["method"] == "B", "trajectories"] = table.loc[table["method"] == "B", "trajectories"] * 1_500 / BUDGET
    assert ex.time_to_event_claim(table, "A faster", "A", "B").verdict == cl.INCONCLUSIVE


def test_comparison_claims_leave_out_faster_rows_for_runs_stored_before_first_visits():
    runs = [run_rows(m, s, l1=[INITIAL, 1e-3], modes=[1, 3], first_visit=500.0) for m in ex.COMPARISON_METHODS for s in range(4)]
    table = frame(*runs)
    with_faster = ex.comparison_claims(table, [H])
    assert sum(r.kind == cl.TIME_TO_EVENT for r in with_faster) == 3  # vs TB, MCMC, PPO
    table.loc[table["run"] == "PPO-16-0", "first_visit_recorded"] = False
    assert ex.runs_without_first_visits(table) == ["PPO-16-0"]
    with pytest.warns(UserWarning, match="stored before first visits"):
        without = ex.comparison_claims(table, [H])
    assert not any(r.kind == cl.TIME_TO_EVENT for r in without) and len(without) == len(with_faster) - 3


# --------------------------------------------------------------------------- still as good
def dense_table(ratio: float, r0: float = 0.1) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    tb = 1e-3 * (1 + 0.02 * rng.standard_normal(6))
    runs = [run_rows(ex.TB, s, l1=[5e-3, v], modes=[4, 4], r0=r0) for s, v in enumerate(tb)]
    runs += [run_rows(ex.GAFN, s, l1=[5e-3, v * ratio], modes=[4, 4], r0=r0) for s, v in enumerate(tb)]
    table = frame(*runs)
    table["n_modes"] = 4
    return table


@pytest.mark.parametrize("ratio, verdict", [(1.03, cl.SUPPORTED), (0.9, cl.SUPPORTED), (1.3, cl.CONTRADICTED)])
def test_dense_reward_l1_is_a_noninferiority_row_with_the_stated_margin(ratio, verdict):
    assert ex.DENSE_MARGIN == 0.10
    results = ex.dense_reward_claims(dense_table(ratio), [0.1])
    l1_rows = [r for r in results if r.metric in ex.L1_METRICS]
    assert len(l1_rows) == 2 and all(r.kind == cl.NONINFERIORITY and r.relative and r.margin == 0.10 for r in l1_rows)
    assert all(r.verdict == verdict for r in l1_rows), [r.verdict_label for r in l1_rows]
    assert "10 %" in l1_rows[0].verdict_label and l1_rows[0].scope == "R0=0.1"
    covered = [r for r in results if r.metric == "modes_covered"]
    assert len(covered) == 1 and covered[0].kind == cl.SUPERIORITY and "our addition" in covered[0].claim


# ----------------------------------------------------------------------------- RND vs count
def test_count_eta_is_selected_by_the_sweep_metric_and_compared_directly_with_rnd():
    etas = [1e-3, 1e-2, 1e-1]
    runs = []
    means = {1e-3: 4e-3, 1e-2: 2e-3, 1e-1: 3e-3}  # count's best: 0.01
    for eta, m in means.items():
        runs += [run_rows(ex.count_eta_label(eta), s, l1=[INITIAL, m * (1 + 0.01 * s)], modes=[1, 3]) for s in range(4)]
    runs += [run_rows("RND (paper)", s, l1=[INITIAL, 1e-3 * (1 + 0.01 * s)], modes=[1, 3]) for s in range(4)]
    table = frame(*runs)
    selection = ex.best_eta(table, [ex.count_eta_label(e) for e in etas])
    assert selection.eta == 1e-2 and selection.label == "count η=0.01" and selection.metric == "l1_mean_visited"
    assert list(selection.means["eta"]) == etas and "favours count" in selection.describe()
    assert ex.eta_of_label("count η=0.01") == 0.01 and ex.eta_of_label("η=0.005") == 0.005
    spec = [s for s in ex.ablation_specs(H, etas, selection) if s.method_b == selection.label]
    assert len(spec) == 1 and spec[0].method_a == "RND (paper)" and "favours count" in spec[0].text
    rows = ex.build_claims(table, spec)
    assert [r.verdict for r in rows] == [cl.SUPPORTED, cl.SUPPORTED]
    with pytest.raises(ValueError, match="labels"):
        ex.best_eta(table, ["count η=5"])


def test_every_profile_runs_count_at_every_eta_of_the_rnd_sweep():
    from gafn_lib.repro.profiles import profile_value

    for profile in ("quick", "paper", "smoke"):
        labelled = ex.notebook_labelled_runs(profile)["03"]
        height = profile_value(profile, **ex.ABLATION_HEIGHT)
        etas = ex.eta_sweep(profile_value(profile, **ex.ETAS), height)
        counts = {round(c.eta, 12) for label, c in labelled if label.startswith("count η=")}
        assert counts == {round(e, 12) for e in etas}
        assert all(c.intrinsic == "count" and c.augment == "joint" for label, c in labelled if label.startswith("count η="))


# ----------------------------------------------------------------------------- duplicates
def test_node_vs_joint_restatement_is_one_comparison():
    runs = []
    for label, value in (("joint (GAFlowNet)", 1e-3), ("edge", 3e-3), ("node", 2e-3), ("none (TB)", 4e-3), ("RND (paper)", 1e-3),
                         ("count η/√N", 1.5e-3), ("η=0.005", 1e-3), ("η=0.01", 1.2e-3)):
        run = {"RND (paper)": "joint", "η=0.005": "joint"}.get(label)  # the same runs under three labels
        runs += [run_rows(label, s, l1=[INITIAL, value * (1 + 0.01 * s)], modes=[1, 3],
                          run=f"{run or label}-{s}") for s in range(4)]
    table = frame(*runs)
    table.loc[table["method"] == "joint (GAFlowNet)", "run"] = table["run"].str.replace("joint (GAFlowNet)", "joint", regex=False)
    results = ex.ablation_claims(table, height=H, etas=[0.005, 0.01])
    by_text = {}
    for r in results:
        by_text.setdefault(r.claim, []).append(r)
    node_worse = by_text[ex.NODE_WORSE_TEXT]
    assert all(r.duplicate_of.startswith("Joint augmentation has a lower final L1 than node") for r in node_worse)
    paper_eta = [r for r in results if r.label_a == "η=0.005"]
    assert all(r.duplicate_of.startswith(ex.RND_TEXT) for r in paper_eta)  # the same runs as RND (paper) vs none
    distinct = cl.distinct_results(results)
    assert len(distinct) == len(results) - 4 and sum(cl.verdict_counts(results, distinct=True).values()) == len(distinct)


def smoke_01_table() -> pd.DataFrame:
    """Notebook 01's default smoke runs (their real run ids), with synthetic values."""
    from gafn_lib.runner import run_id

    values = {ex.GAFN: 1e-3, ex.TB: 3e-3, ex.MCMC: 2e-3, ex.PPO: INITIAL}
    rows = []
    for label, config in ex.notebook_labelled_runs("smoke")["01"]:
        modes = 0 if label == ex.PPO else 3
        rows += run_rows(label, config.seed, l1=[INITIAL, values[label]], modes=[0, modes], height=config.height,
                         first_visit=None if label == ex.PPO else 100.0, run=run_id(config))
    return frame(rows)


def test_notebook_02_rows_repeat_notebook_01_and_count_as_no_distinct_comparison():
    table = smoke_01_table()
    heights = [6]
    first = ex.comparison_claims(table, heights, notebook="01", profile="smoke")
    assert not any(r.duplicate_of for r in first)
    sampling = ex.sampling_claims(table[table["method"].isin([ex.GAFN, ex.TB])], heights, notebook="02", profile="smoke")
    assert sampling and all(r.duplicate_of.startswith("notebook 01: ") for r in sampling)
    assert cl.distinct_results(sampling) == []
    assert sum(cl.verdict_counts(sampling, distinct=True).values()) == 0
    assert sum(cl.verdict_counts(first + sampling, distinct=True).values()) == len(first)
    assert "0 distinct comparisons" in ex.distinct_summary(sampling)


# ------------------------------------------------------------------------------------ stuck
def test_stuck_flags_from_each_runs_first_logged_row():
    table = frame(
        # PPO never found a goal: at the initial L1 throughout
        *[run_rows(ex.PPO, s, l1=[INITIAL, INITIAL], modes=[0, 0]) for s in range(4)],
        # MCMC: 3 % below its first logged L1, a goal found late in 3 of 4 seeds, one run that moved
        *[run_rows(ex.MCMC, s, l1=[INITIAL, INITIAL * 0.97], modes=[0, 1]) for s in range(3)],
        run_rows(ex.MCMC, 3, l1=[INITIAL, INITIAL * 0.5], modes=[0, 3]),
        # DB touched a goal early but its L1 never moved
        *[run_rows("DB", s, l1=[INITIAL * 0.999, INITIAL * 0.999], modes=[1, 1]) for s in range(4)],
        # GAFlowNet had found every goal by its first logged row and stayed: converged, not stuck
        *[run_rows(ex.GAFN, s, l1=[1e-4, 1e-4], modes=[3, 3]) for s in range(4)],
    )
    assert ex.near_stuck_runs(table, ex.PPO, "l1_mean_visited").tolist() == [True] * 4
    assert ex.near_stuck_runs(table, ex.PPO, "modes_found").tolist() == [True] * 4
    assert ex.near_stuck_runs(table, ex.MCMC, "l1_mean_visited").tolist() == [True, True, True, False]
    assert ex.near_stuck_runs(table, ex.MCMC, "modes_found").tolist() == [False] * 4  # it found goals
    assert ex.near_stuck_runs(table, "DB", "l1_mean_exact").tolist() == [True] * 4
    assert ex.near_stuck_runs(table, ex.GAFN, "l1_mean_visited").tolist() == [False] * 4
    assert list(ex.initial_values(table, ex.MCMC, "l1_mean_visited")) == [INITIAL] * 4

    rows = ex.claim(table, "GAFlowNet beats MCMC", ex.GAFN, ex.MCMC, "l1_mean_visited")
    notes = "; ".join(rows[0].notes)
    assert "MCMC stuck at initial value in 3/4 seeds" in notes and "first logged value (step 100)" in notes
    assert "uninformative: MCMC stuck in 3/4 seeds" in notes
    summary = ex.stuck_summary(table, [ex.PPO, ex.MCMC, "DB"])
    assert summary.set_index("method")["l1_mean_visited: stuck"].to_dict() == {ex.PPO: 4, ex.MCMC: 3, "DB": 4}
    assert summary.set_index("method")["never found a goal"].to_dict() == {ex.PPO: 4, ex.MCMC: 0, "DB": 0}


def test_objective_rows_against_stuck_plain_objectives_say_uninformative():
    table = frame(*[run_rows("DB", s, l1=[INITIAL, INITIAL], modes=[0, 0]) for s in range(5)],
                  *[run_rows("DB + joint RND", s, l1=[INITIAL, 1e-3], modes=[0, 3]) for s in range(5)])
    results = ex.objective_claims(table, ["db"])
    assert all(any(n.startswith("uninformative: DB stuck in 5/5 seeds") for n in r.notes) for r in results)


# -------------------------------------------------------------------------------------- PPO
def test_uniform_policy_reach_by_hand_on_a_4x4_grid():
    # H = 4: interior states (both coordinates <= 2) allow move, move, stop, each with 1/3; a
    # coordinate at 3 ends the trajectory. Goals (2, 1), (1, 2), (2, 2).
    reach = ex.uniform_policy_reach(4, trajectories=10)
    third = Fraction(1, 3)
    p_21 = 3 * third**3 * third            # C(3, 1) paths of 3 moves, then stop
    p_22 = 6 * third**4 * third            # C(4, 2) paths of 4 moves, then stop
    assert reach.p_goal == pytest.approx([float(p_21), float(p_21), float(p_22)], rel=1e-12)  # goals (1, 2), (2, 1), (2, 2)
    assert reach.p_any_goal == pytest.approx(float(2 * p_21 + p_22), rel=1e-12)  # 8/81
    # P(moves >= n): 2/3, 4/9, 8/27, then from (2,1) and (1,2) only (2/9 · 2/3), then from (2,2) only
    mean = Fraction(2, 3) + Fraction(4, 9) + Fraction(8, 27) + Fraction(4, 27) + Fraction(4, 81)
    assert reach.mean_moves == pytest.approx(float(mean), rel=1e-12)  # 130/81
    assert reach.far_goal_moves == 4
    assert reach.p_at_least_far == pytest.approx(4 / 27, rel=1e-12)
    assert reach.p_at_least_far_approx == pytest.approx((2 / 3) ** 4)
    assert reach.expected_goal_hits == pytest.approx(10 * 8 / 81)
    assert reach.p_any_hit == pytest.approx(1 - (1 - 8 / 81) ** 10)
    assert "1/3" in reach.describe() and "H = 4" in reach.describe()
    for name, bad in (("height", dict(height=3)), ("ndim", dict(height=8, ndim=0)), ("trajectories", dict(height=8, trajectories=0))):
        with pytest.raises(ValueError, match=name):
            ex.uniform_policy_reach(**bad)


def test_uniform_policy_cannot_reach_a_goal_from_h32_within_the_papers_budget():
    reach = ex.uniform_policy_reach(32)
    assert reach.trajectories == 320_000 and reach.mean_moves == pytest.approx(2.0, abs=1e-6)
    assert reach.p_at_least_far < reach.p_at_least_far_approx < 1e-10 and reach.p_any_hit < 1e-6


def test_ppo_tuning_sweep_is_small_and_reuses_notebook_01s_ppo_runs():
    from gafn_lib.runner import run_id

    runs = ex.ppo_tuning_runs()
    assert len(runs) == 16 and len({label for label, _ in runs}) == 8
    assert {c.height for _, c in runs} == {32} and {c.n_steps for _, c in runs} == {20_000} and {c.seed for _, c in runs} == {0, 1}
    assert {(c.entropy_coef, c.lr, c.intrinsic) for _, c in runs} == {
        (e, lr, i) for e in (0.01, 0.1) for lr in (1e-4, 1e-3) for i in ("none", "rnd")}
    paper_01 = ex.notebook_labelled_runs("paper")["01"]
    ppo_32 = {run_id(c) for label, c in paper_01 if label == ex.PPO and c.height == 32 and c.seed in (0, 1)}
    release = {run_id(c) for label, c in runs if label == ex.ppo_tuning_label(0.1, 1e-3, "none")}
    assert release == ppo_32  # trained once
    assert {run_id(c) for _, c in runs} <= {run_id(c) for _, c in paper_01}
    assert not any(label.startswith("PPO, c_H") for label, _ in ex.notebook_labelled_runs("quick")["01"])
    with pytest.raises(ValueError, match="grid"):
        ex.ppo_tuning_runs(grid={"lr": (1e-3,)})


def test_ppo_tuning_degrades_gracefully_when_not_trained(tmp_path, capsys):
    table, missing = ex.load_complete(ex.ppo_tuning_runs(), tmp_path)
    assert table is None and len(missing) == 16
    assert ex.main(["ppo-tuning", "--status", "--results-dir", str(tmp_path)]) == 0
    assert "0 of 16 runs finished" in capsys.readouterr().out


def test_ppo_tuning_summary_counts_goals_and_lengths():
    runs = [run_rows(ex.ppo_tuning_label(0.1, 1e-3, "none"), s, l1=[INITIAL, INITIAL], modes=[0, 0], intrinsic="none",
                     entropy_coef=0.1, lr=1e-3) for s in (0, 1)]
    summary = ex.ppo_tuning_summary(frame(*runs))
    assert summary.loc[0, "goals ever reached (per seed)"] == "0, 0" and summary.loc[0, "final mean length (moves)"] == 3.0


# ------------------------------------------------------------------------------------ seeds
def test_paper_profile_runs_ten_seeds_and_the_ablations_at_h32():
    assert ex.SEEDS["paper"] == list(range(10)) and ex.ABLATION_HEIGHT["paper"] == 32
    runs = ex.notebook_labelled_runs("paper")
    for nb in ("01", "02", "03", "04", "05"):
        seeds = {c.seed for label, c in runs[nb] if not label.startswith("PPO, c_H")}
        assert seeds == set(range(10)), nb
    assert {c.height for _, c in runs["03"] + runs["04"] + runs["05"]} == {32}
