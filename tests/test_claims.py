"""The claims function: verdict logic (win, loss, overlap, saturation, stuck baseline, too few seeds),
the table, the experiment helpers that call it, and the Student t helpers kept for other code.
The rank rule itself (monotonicity, exactness, non-inferiority, censoring) is in test_claims_rule.py."""

import math
import random

import pytest

from gafn_lib.repro import claims as cl


def test_t_quantile_matches_tables():
    # Student t 97.5 % quantiles from standard tables.
    for df, expected in [(1, 12.7062), (2, 4.30265), (4, 2.77645), (10, 2.22814), (30, 2.04227), (1000, 1.96234)]:
        assert cl.t_quantile(0.975, df) == pytest.approx(expected, rel=1e-5)
    assert cl.t_quantile(0.025, 4) == pytest.approx(-2.77645, rel=1e-5)
    # fractional df (Welch) lies between its integer neighbours
    assert cl.t_quantile(0.975, 2) > cl.t_quantile(0.975, 2.5) > cl.t_quantile(0.975, 3)


def test_t_cdf_inverts_quantile():
    for df in (1.3, 2, 5.7, 40):
        for q in (0.6, 0.9, 0.975, 0.999):
            assert cl.t_cdf(cl.t_quantile(q, df), df) == pytest.approx(q, abs=1e-9)


def _brute_p(a, b, better):
    """Slow, obvious exact p-value: every assignment of the pooled values to the groups, counting
    strictly ordered pairs; ties count for neither side (so untied data only is compared with it)."""
    import itertools

    pooled, n_a = list(a) + list(b), len(a)
    def u(xs, ys):
        return sum((x < y) if better == "lower" else (x > y) for x in xs for y in ys)
    observed = u(a, b)
    hits = total = 0
    for idx in itertools.combinations(range(len(pooled)), n_a):
        xs = [pooled[i] for i in idx]
        ys = [pooled[i] for i in range(len(pooled)) if i not in idx]
        hits += u(xs, ys) >= observed
        total += 1
    return hits / total


def test_p_value_matches_brute_force_permutation():
    rng = random.Random(0)
    for _ in range(20):
        a = [rng.gauss(0, 1) for _ in range(rng.randint(1, 6))]
        b = [rng.gauss(0.5, 2) for _ in range(rng.randint(1, 6))]
        better = rng.choice(cl.BETTER)
        r = cl.compare("c", a, b, metric="m", better=better)
        assert r.p_value == pytest.approx(_brute_p(a, b, better))
        assert r.p_reverse == pytest.approx(_brute_p(a, b, "higher" if better == "lower" else "lower"))
        assert r.test == cl.MANN_WHITNEY and math.isnan(r.df)


def test_clear_win():
    r = cl.compare("A lower", [1.0, 1.1, 0.9, 1.05], [2.0, 2.1, 1.9, 2.05], metric="l1", better="lower", label_a="A", label_b="B")
    assert r.verdict == cl.SUPPORTED and r.ci_high < 0
    assert r.effect_size < 0 and r.n_a == r.n_b == 4
    assert r.p_value == pytest.approx(1 / 70) and r.shift == pytest.approx(-1.0)
    same = cl.compare("A higher", [2.0, 2.1, 1.9, 2.05], [1.0, 1.1, 0.9, 1.05], metric="m", better="higher")
    assert same.verdict == cl.SUPPORTED


def test_clear_loss_is_contradicted():
    r = cl.compare("A lower", [2.0, 2.1, 1.9, 2.05], [1.0, 1.1, 0.9, 1.05], metric="l1", better="lower")
    assert r.verdict == cl.CONTRADICTED and r.ci_low > 0 and r.p_reverse == pytest.approx(1 / 70)


def test_overlap_is_inconclusive():
    # The example: joint's seed 1 is worse than every node seed, means still favour joint.
    joint = [0.00120, 0.00260, 0.00100, 0.00110, 0.00125]
    node = [0.00175, 0.00176, 0.00174, 0.00177, 0.00173]
    r = cl.compare("joint < node", joint, node, metric="l1_mean_visited", better="lower")
    assert r.mean_a < r.mean_b
    assert r.verdict == cl.INCONCLUSIVE and r.ci_low < 0 < r.ci_high


def test_saturated_metric_never_supports():
    r = cl.compare("A finds more modes", [3, 3, 3], [3, 3, 3], metric="modes_found", better="higher", bounds=(0, 3))
    assert r.verdict == cl.INCONCLUSIVE and r.reason == "saturated"
    assert r.verdict_label == "inconclusive (saturated)"
    floor = cl.compare("A finds more modes", [0, 0], [0, 0, 0], metric="modes_found", better="higher", bounds=(0, 3))
    assert floor.reason == "saturated"
    # at the ceiling in one group only: not saturated, decided by the data
    r2 = cl.compare("A finds more", [3, 3, 3, 3, 3], [1, 2, 1, 2, 1], metric="modes_found", better="higher", bounds=(0, 3))
    assert r2.verdict == cl.SUPPORTED


def test_stuck_baseline_is_labelled_and_verdict_stands():
    worst = 2 / 1024
    r = cl.compare("GAFN < PPO", [0.0010, 0.0012, 0.0011, 0.0013], [worst] * 4, metric="l1_mean_visited", better="lower",
                   label_a="GAFlowNet", label_b="PPO", worst=worst)
    assert r.verdict == cl.SUPPORTED
    assert any("PPO stuck at initial value" in n and "4/4" in n for n in r.notes)
    assert not any("GAFlowNet stuck" in n for n in r.notes)
    flags = cl.compare("x", [1.0, 2.0], [3.0, 3.5], metric="m", better="lower", label_b="B", stuck_b=[True, False])
    assert any("B stuck at initial value in 1/2 seeds" in n for n in flags.notes)
    with pytest.raises(ValueError, match="one bool per seed"):
        cl.compare("x", [1.0, 2.0], [3.0, 3.5], metric="m", better="lower", stuck_b=[True])


def test_too_few_seeds_is_inconclusive_with_reason():
    r = cl.compare("A lower", [1.0], [2.0, 2.1, 2.2], metric="m", better="lower", label_a="A")
    assert r.verdict == cl.INCONCLUSIVE and r.reason == "cannot decide at n=1/3"
    assert any(n.startswith("cannot decide at n=1/3: even complete separation gives one-sided p = 0.25") for n in r.notes)
    assert math.isnan(r.ci_low) and r.interval_method == cl.NO_INTERVAL
    assert "no interval" in cl.claims_table([r])["difference A−B [95% CI]"][0]
    # one seed against many can decide: 1 vs 39 gives p = 1/40 = 0.025
    assert cl.compare("A lower", [1.0], [2.0 + i / 100 for i in range(39)], metric="m", better="lower").verdict == cl.SUPPORTED


def test_no_spread_is_decided_by_ranks():
    three = cl.compare("A more", [3, 3, 3], [2, 2, 2], metric="modes_found", better="higher")
    assert three.verdict == cl.INCONCLUSIVE and three.reason == "cannot decide at n=3/3" and three.p_value == pytest.approx(0.05)
    five = cl.compare("A more", [3] * 5, [2] * 5, metric="modes_found", better="higher")
    assert five.verdict == cl.SUPPORTED and five.p_value == pytest.approx(1 / 252)
    assert (five.ci_low, five.ci_high) == (1.0, 1.0) and any("no spread within either group" in n for n in five.notes)
    five_loss = cl.compare("A more", [2] * 5, [3] * 5, metric="modes_found", better="higher")
    assert five_loss.verdict == cl.CONTRADICTED
    tie = cl.compare("A more", [2] * 5, [2] * 5, metric="modes_found", better="higher")
    assert tie.verdict == cl.INCONCLUSIVE and tie.reason == "identical values" and tie.p_value == 1.0


def test_compare_metrics_reports_disagreement():
    results = cl.compare_metrics(
        "joint < node",
        a={"l1_mean_visited": [1.0, 1.1, 0.9, 1.05], "l1_mean_exact": [0.1, 0.5, 0.2, 0.12]},
        b={"l1_mean_visited": [2.0, 2.1, 1.9, 2.05], "l1_mean_exact": [0.15, 0.16, 0.14, 0.15]},
        better="lower", label_a="joint", label_b="node",
    )
    by_metric = {r.metric: r for r in results}
    assert by_metric["l1_mean_visited"].verdict == cl.SUPPORTED
    assert by_metric["l1_mean_exact"].verdict == cl.INCONCLUSIVE
    assert any(n.startswith("disagrees: l1_mean_exact inconclusive") for n in by_metric["l1_mean_visited"].notes)
    agree = cl.compare_metrics("x", a={"p": [1, 1.1], "q": [1, 1.2]}, b={"p": [5, 5.1], "q": [5, 5.2]}, better="lower")
    assert all(r.reason == "cannot decide at n=2/2" for r in agree)
    assert all(any(n.startswith("agrees with") for n in r.notes) for r in agree)


def test_table_columns_and_validation():
    r = cl.compare("A lower", [1.0, 1.1, 1.05, 1.0], [2.0, 2.1, 2.05, 2.0], metric="m", better="lower", label_a="A", label_b="B",
                   scope="H=16", shared_with="notebook 03")
    table = cl.claims_table([r])
    assert tuple(table.columns) == cl.DISPLAY_COLUMNS
    assert table["A"][0].startswith("A: 1.038 ± ") and table["A"][0].endswith("(n=4)")
    assert table["shared_with"][0] == "notebook 03" and "H=16" in table["metric"][0]
    assert table["test"][0] == "exact Mann–Whitney (ties against), one-sided p = 0.0143"
    assert table["difference A−B [95% CI]"][0] == "-1 [-1.1, -0.9]"
    full = cl.claims_table([r], full=True)
    assert {"values_a", "ci_low", "effect_size_hedges_g", "n_a", "n_b", "shift", "p_value", "test_name", "min_seeds"} <= set(full.columns)
    assert full["min_seeds"][0] == 4 and full["ci_level"][0] == pytest.approx(1 - 2 / 70)
    ninety = cl.claims_table([cl.compare("x", [1, 2, 3], [4, 5, 6], metric="m", better="lower", confidence=0.9)])
    assert list(ninety.columns)[4] == "difference A−B [90% CI]" and ninety["verdict"][0] == "supported"
    with pytest.raises(ValueError, match="better"):
        cl.compare("x", [1], [2], metric="m", better="smaller")
    with pytest.raises(ValueError, match="NaN"):
        cl.compare("x", [1, float("nan")], [2, 3], metric="m", better="lower")
    with pytest.raises(ValueError, match="no values"):
        cl.compare("x", [], [2, 3], metric="m", better="lower")
    assert cl.verdict_counts([r]) == {"supported": 1, "inconclusive": 0, "contradicted": 0}


def _grid_table():
    """A synthetic run table: 4 seeds of two methods, two logged steps each."""
    import pandas as pd

    rows = []
    for method, l1, exact, modes in [("A", [1.0, 1.1, 0.9, 1.05], [0.1, 0.2, 0.15, 0.11], [3, 3, 3, 3]),
                                     ("B", [2.0, 2.0, 2.0, 2.0], [float("nan")] * 4, [0, 0, 0, 0])]:
        for seed in range(4):
            for step in (1, 2):
                rows.append(dict(method=method, run=f"{method}{seed}", seed=seed, height=8, step=step, n_modes=3,
                                 l1_mean_visited=l1[seed], l1_mean_exact=exact[seed], modes_found=modes[seed] if step == 2 else 0))
    return pd.DataFrame(rows)


def test_experiment_claims_use_both_l1s_bounds_and_stuck_runs():
    from gafn_lib.repro import experiments as ex

    table = _grid_table()
    (l1,) = ex.claim(table, "A beats B", "A", "B", "l1", height=8)  # B has no exact L1: visited only
    assert l1.metric == "l1_mean_visited" and l1.verdict == cl.SUPPORTED and l1.scope == "H=8"
    assert any("l1_mean_exact not available for B" in n for n in l1.notes)
    assert any("B stuck at initial value in 4/4 seeds" in n for n in l1.notes)
    (modes,) = ex.claim(table, "A finds more", "A", "A", "modes_found")
    assert modes.verdict_label == "inconclusive (saturated)"
    both = ex.claim(table.assign(l1_mean_exact=table["l1_mean_exact"].fillna(0.12)), "A beats B", "A", "B", "l1")
    assert [r.metric for r in both] == list(ex.L1_METRICS)
    assert any(n.startswith("disagrees") for n in both[0].notes)  # exact L1 overlaps, visited does not


def test_eta_sweep_includes_the_paper_value():
    from gafn_lib.repro import experiments as ex

    assert ex.paper_eta(16) == 0.005 and ex.paper_eta(32) == 0.001
    assert 0.005 in ex.eta_sweep([1e-4, 1e-3, 1e-2], 16)
    assert ex.eta_sweep([0.005, 0.001], 16) == [0.001, 0.005]


def test_shared_runs_are_found_by_run_id():
    from gafn_lib.repro import experiments as ex
    from gafn_lib.runner import run_id

    runs = ex.notebook_runs("quick")
    joint_16 = [run_id(c) for c in runs["03"]][:1]  # the first placement variant: joint at H=16, seed 0
    assert "notebook 01" in ex.shared_with(joint_16, "03", "quick")
    assert ex.shared_with(["not-a-run"], "03", "quick") == ""
