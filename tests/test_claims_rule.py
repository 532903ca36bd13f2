"""The claims rule of issue 24: one exact rank test for continuous and discrete metrics (monotone,
sound without spread, a stated minimum n), non-inferiority with a margin, time to event with
censoring, the near-stuck flag and counting distinct comparisons once."""

from __future__ import annotations

import itertools
import math
import random
from fractions import Fraction

import numpy as np
import pytest

from gafn_lib.repro import claims as cl
from gafn_lib.repro import stats

RANK = {cl.CONTRADICTED: 0, cl.INCONCLUSIVE: 1, cl.SUPPORTED: 2}


def _verdict(a, b, better="higher", **kw):
    return cl.compare("claim", a, b, metric="m", better=better, **kw)


# ------------------------------------------------------------------------- the exact null law
def test_null_distribution_matches_enumeration():
    for n_a, n_b in [(1, 1), (1, 4), (2, 3), (3, 3), (4, 2), (4, 4), (3, 5)]:
        counts = [0] * (n_a * n_b + 1)
        for idx in itertools.combinations(range(n_a + n_b), n_a):
            rest = [j for j in range(n_a + n_b) if j not in idx]
            counts[sum(i > j for i in idx for j in rest)] += 1
        assert list(stats.mann_whitney_counts(n_a, n_b)) == counts
    with pytest.raises(ValueError, match="n_b"):
        stats.mann_whitney_counts(3, 0)


def test_minimum_seeds_and_smallest_p():
    assert stats.smallest_p(3, 3) == pytest.approx(1 / 20) and stats.smallest_p(4, 4) == pytest.approx(1 / 70)
    assert stats.min_seeds(0.025) == 4 and stats.min_seeds(0.05) == 3 and stats.min_seeds(0.005) == 5
    assert not stats.decidable(3, 4, 0.025) and stats.decidable(3, 5, 0.025)  # C(7,3) = 35 < 40 <= C(8,3) = 56
    assert stats.decidable(1, 39, 0.025) and not stats.decidable(1, 38, 0.025)  # 1/40 reaches 0.025 exactly
    assert stats.critical_count(10, 10, 0.025) == 77  # tables: two-sided 5 % critical U = 23 = 100 - 77
    assert stats.critical_count(3, 3, 0.025) is None
    with pytest.raises(ValueError, match="alpha"):
        stats.min_seeds(1.5)


# ------------------------------------------------------------------------------- issue 24's cases
def test_issue_examples_are_monotone():
    # the issue: 3,3,3 vs 1,1,1 was inconclusive (permutation) while the weaker 3,3,2 vs 1,1,1 was supported (Welch)
    strong, weak = _verdict([3, 3, 3], [1, 1, 1]), _verdict([3, 3, 2], [1, 1, 1])
    assert RANK[strong.verdict] >= RANK[weak.verdict]
    flat, spread = _verdict([2.0, 2.0, 2.0], [1, 1, 1]), _verdict([2.0, 2.1, 1.9], [1, 1, 1])
    assert RANK[flat.verdict] >= RANK[spread.verdict]
    # three seeds cannot decide: all four are complete separations, p = 1/20 each, and the row says so
    for r in (strong, weak, flat, spread):
        assert r.verdict == cl.INCONCLUSIVE and r.reason == "cannot decide at n=3/3" and r.p_value == pytest.approx(0.05)
        assert any(n.startswith("cannot decide at n=3/3") and "4 vs 4" in n for n in r.notes)
        assert math.isnan(r.ci_low)
    # one more seed each and all four are supported alike
    for a in ([3, 3, 3, 3], [3, 3, 2, 3], [2.0, 2.0, 2.0, 2.0], [2.0, 2.1, 1.9, 2.05]):
        r = _verdict(a, [1, 1, 1, 1])
        assert r.verdict == cl.SUPPORTED and r.p_value == pytest.approx(1 / 70) and r.ci_low > 0


def test_ten_vs_ten_complete_separation_is_supported():
    rng = random.Random(3)
    a = [rng.uniform(2, 3) for _ in range(10)]
    b = [rng.uniform(0, 1) for _ in range(10)]
    r = _verdict(a, b)
    assert r.verdict == cl.SUPPORTED and r.p_value == pytest.approx(1 / math.comb(20, 10))
    assert 0 < r.ci_low <= r.shift <= r.ci_high and r.ci_level >= 0.95
    assert _verdict(b, a).verdict == cl.CONTRADICTED


def test_identical_groups_are_inconclusive():
    rng = random.Random(4)
    for n in (4, 6, 10):
        values = [rng.gauss(0, 1) for _ in range(n)]
        r = _verdict(values, list(values))
        assert r.verdict == cl.INCONCLUSIVE and r.ci_low <= 0 <= r.ci_high
    constant = _verdict([5] * 8, [5] * 8, bounds=(0, 5))
    assert constant.verdict_label == "inconclusive (saturated)" and constant.p_value == 1.0


def test_zero_spread_groups():
    # every TB seed collapsed identically: the verdict depends on ranks only, the interval on observed differences
    tb = [0.00195] * 5
    r = cl.compare("GAFN < TB", [0.0010, 0.0012, 0.0011, 0.0013, 0.0009], tb, metric="l1", better="lower", label_b="TB")
    assert r.verdict == cl.SUPPORTED and any(n == "no spread within TB (every seed 0.00195)" for n in r.notes)
    assert r.ci_low == pytest.approx(0.0009 - 0.00195) and r.ci_high == pytest.approx(0.0013 - 0.00195)
    # one A seed as bad as the collapsed TB value: a tie, counted against the claim
    tied = cl.compare("GAFN < TB", [0.0010, 0.0012, 0.0011, 0.0013, 0.00195], tb, metric="l1", better="lower")
    assert tied.p_value == pytest.approx(stats.upper_tail(20, 5, 5)) and RANK[tied.verdict] <= RANK[r.verdict]
    # both without spread, overlapping only through a tie: never supported on the tie
    assert _verdict([2] * 5, [2, 2, 2, 2, 1]).verdict == cl.INCONCLUSIVE


def _stronger(values, better, rng, other=False):
    """Move each value by a random non-negative amount in the claimed direction (the other way for B)."""
    step = [rng.choice([0, 0, 1, rng.random() * 2]) for _ in values]
    sign = (1 if better == "higher" else -1) * (-1 if other else 1)
    return [v + sign * s for v, s in zip(values, step)]


@pytest.mark.parametrize("discrete", [True, False])
def test_stronger_separation_never_weakens_the_verdict(discrete):
    rng = random.Random(11 if discrete else 12)
    draw = (lambda: float(rng.randint(0, 3))) if discrete else (lambda: rng.gauss(0, 1))
    checked = 0
    for _ in range(400):
        better = rng.choice(cl.BETTER)
        a = [draw() for _ in range(rng.randint(2, 7))]
        b = [draw() for _ in range(rng.randint(2, 7))]
        base = cl.compare("c", a, b, metric="m", better=better)
        a2, b2 = _stronger(a, better, rng), _stronger(b, better, rng, other=True)
        moved = cl.compare("c", a2, b2, metric="m", better=better)
        assert RANK[moved.verdict] >= RANK[base.verdict], (a, b, a2, b2, better)
        assert moved.p_value <= base.p_value + 1e-15 and moved.p_reverse >= base.p_reverse - 1e-15
        checked += base.verdict != moved.verdict
    assert checked > 0  # the generated pairs do cross verdicts


def test_interval_agrees_with_the_verdict_and_inverts_the_test():
    rng = random.Random(5)
    for _ in range(80):
        better = rng.choice(cl.BETTER)
        a = [round(rng.gauss(0.5, 1), 1) for _ in range(rng.randint(4, 8))]
        b = [round(rng.gauss(0, 1), 1) for _ in range(rng.randint(4, 8))]
        r = cl.compare("c", a, b, metric="m", better=better)
        claimed_side_excluded = r.ci_high < 0 if better == "lower" else r.ci_low > 0
        other_side_excluded = r.ci_low > 0 if better == "lower" else r.ci_high < 0
        assert (r.verdict == cl.SUPPORTED) == claimed_side_excluded
        assert (r.verdict == cl.CONTRADICTED) == other_side_excluded
        # the interval is the set of shifts the two one-sided tests keep
        for delta in np.linspace(min(a) - max(b) - 1, max(a) - min(b) + 1, 23):
            shifted = [x - delta for x in a]
            up = cl.compare("c", shifted, b, metric="m", better="higher")
            down = cl.compare("c", shifted, b, metric="m", better="lower")
            assert (up.verdict == cl.SUPPORTED) == (delta < r.ci_low - 1e-12) or abs(delta - r.ci_low) < 1e-9
            assert (down.verdict == cl.SUPPORTED) == (delta > r.ci_high + 1e-12) or abs(delta - r.ci_high) < 1e-9


def test_level_holds_with_ties():
    """Over every assignment of tied, pooled values to the groups (6 vs 6: 924 each), "supported"
    comes out in at most 2.5 % of them (ties count against the claim, so the test keeps its level)."""
    for pooled, expected in (([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5], 14), ([0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 4], 6)):
        supported = 0
        for idx in itertools.combinations(range(len(pooled)), 6):
            a = [pooled[i] for i in idx]
            b = [pooled[i] for i in range(len(pooled)) if i not in idx]
            supported += _verdict(a, b).verdict == cl.SUPPORTED
        assert supported == expected and supported / math.comb(12, 6) <= 0.025


# ------------------------------------------------------------------------------ non-inferiority
def test_noninferiority_absolute_margin():
    b = [1.00, 1.02, 0.98, 1.01, 0.99]
    within = cl.noninferior("still as good", [1.02, 1.04, 1.00, 1.03, 1.01], b, metric="l1", better="lower", margin=0.1,
                            label_a="GAFN", label_b="TB")
    assert within.verdict == cl.SUPPORTED and within.ci_high < 0.1
    assert within.verdict_label == "supported (non-inferior: worse than TB by less than 0.1)"
    assert within.kind == cl.NONINFERIORITY and "shifted by the margin" in within.test
    beyond = cl.noninferior("still as good", [1.3, 1.32, 1.28, 1.31, 1.29], b, metric="l1", better="lower", margin=0.1, label_b="TB")
    assert beyond.verdict == cl.CONTRADICTED and beyond.ci_low > 0.1
    assert beyond.verdict_label == "contradicted (inferior: worse than TB by more than 0.1)"
    straddle = cl.noninferior("still as good", [1.05, 1.15, 1.0, 1.2, 1.1], b, metric="l1", better="lower", margin=0.1)
    assert straddle.verdict == cl.INCONCLUSIVE and straddle.ci_low < 0.1 < straddle.ci_high
    assert straddle.verdict_label == "inconclusive (non-inferiority within 0.1 not shown)"
    # higher is better: A may be lower than B by less than the margin; equal groups are non-inferior
    assert cl.noninferior("x", [3, 3, 3, 3], [3, 3, 3, 3], metric="modes", better="higher", margin=0.5).verdict == cl.SUPPORTED
    assert cl.noninferior("x", [2, 2, 2, 2], [3, 3, 3, 3], metric="modes", better="higher", margin=0.5).verdict == cl.CONTRADICTED
    # a group exactly at the margin is a tie: not shown
    assert cl.noninferior("x", [2.5] * 4, [3] * 4, metric="modes", better="higher", margin=0.5).verdict == cl.INCONCLUSIVE
    small = cl.noninferior("x", [1, 1, 1], [1, 1, 1], metric="m", better="higher", margin=0.5)
    assert small.verdict_label == "inconclusive (non-inferiority within 0.5 not shown) (cannot decide at n=3/3)"


def test_noninferiority_relative_margin():
    b = [0.010, 0.011, 0.009, 0.010, 0.0105]
    ok = cl.noninferior("x", [0.0102, 0.0111, 0.0093, 0.0101, 0.0104], b, metric="l1", better="lower", margin=0.2, relative=True)
    assert ok.verdict == cl.SUPPORTED and ok.ci_high < 1.2 and ok.relative
    assert ok.verdict_label.startswith("supported (non-inferior: worse than B by less than 20 %")
    assert cl.claims_table([ok])["difference A−B [95% CI]"][0].startswith("ratio A/B ")
    bad = cl.noninferior("x", [0.02, 0.021, 0.019, 0.020, 0.0205], b, metric="l1", better="lower", margin=0.2, relative=True)
    assert bad.verdict == cl.CONTRADICTED and bad.ci_low > 1.2
    with pytest.raises(ValueError, match="margin"):
        cl.noninferior("x", [1, 2], [1, 2], metric="m", better="higher", margin=0)
    with pytest.raises(ValueError, match="margin"):
        cl.noninferior("x", [1, 2], [1, 2], metric="m", better="higher", margin=1.0, relative=True)
    with pytest.raises(ValueError, match="b must be positive"):
        cl.noninferior("x", [1, 2], [0, 2], metric="m", better="lower", margin=0.1, relative=True)


def test_noninferiority_is_monotone():
    rng = random.Random(7)
    for _ in range(300):
        better = rng.choice(cl.BETTER)
        relative = rng.random() < 0.5
        a = [rng.uniform(1, 3) for _ in range(rng.randint(3, 6))]
        b = [rng.uniform(1, 3) for _ in range(rng.randint(3, 6))]
        margin = rng.choice([0.05, 0.2, 0.5])
        base = cl.noninferior("c", a, b, metric="m", better=better, margin=margin, relative=relative)
        a2 = [max(x, 0.01) for x in _stronger(a, better, rng)]
        moved = cl.noninferior("c", a2, b, metric="m", better=better, margin=margin, relative=relative)
        assert RANK[moved.verdict] >= RANK[base.verdict]


# -------------------------------------------------------------------------------- time to event
def test_logrank_matches_hand_computation():
    # A: events at 2 and 4, censored at 6; B: events at 3, 5, 7.
    # t  n  n_A d d_A  E_A = d n_A/n   V = d (n_A/n)(1 - n_A/n)(n - d)/(n - 1)
    # 2  6  3   1 1    1/2             1/4
    # 3  5  2   1 0    2/5             6/25
    # 4  4  2   1 1    1/2             1/4
    # 5  3  1   1 0    1/3             2/9
    # 7  1  0   1 0    0               0 (n = 1)
    expected = Fraction(1, 2) + Fraction(2, 5) + Fraction(1, 2) + Fraction(1, 3)
    variance = Fraction(1, 4) + Fraction(6, 25) + Fraction(1, 4) + Fraction(2, 9)
    lr = stats.logrank([2, 4, 6], [True, True, False], [3, 5, 7], [True, True, True])
    assert lr.observed_a == 2 and lr.expected_a == pytest.approx(float(expected)) and lr.variance == pytest.approx(float(variance))
    z = (2 - float(expected)) / math.sqrt(float(variance))
    assert lr.z == pytest.approx(z) and z == pytest.approx(0.27186, abs=1e-5)
    assert lr.p_a_earlier == pytest.approx(0.5 * math.erfc(z / math.sqrt(2))) and lr.chi2 == pytest.approx(z * z)
    # Kaplan–Meier: A 2/3 after 2, 1/3 after 4 -> median 4; B median 5
    grid, surv = stats.kaplan_meier([2, 4, 6], [True, True, False])
    assert list(grid) == [2, 4] and surv == pytest.approx([2 / 3, 1 / 3])
    assert stats.km_median([2, 4, 6], [1, 1, 0]) == 4 and stats.km_median([3, 5, 7], [1, 1, 1]) == 5
    assert math.isnan(stats.km_median([2, 9, 9], [1, 0, 0]))  # S stays at 2/3: not reached
    # certainly ordered pairs: A's 2 before all of B (3), A's 4 before 5 and 7 (2); B's 3 before A's 4 and
    # censored 6, B's 5 before censored 6 (3); A censored at 6 vs B's 7 is undetermined
    assert stats.definitely_earlier([2, 4, 6], [1, 1, 0], [3, 5, 7], [1, 1, 1]) == 5
    assert stats.definitely_earlier([3, 5, 7], [1, 1, 1], [2, 4, 6], [1, 1, 0]) == 3


def test_time_to_event_hand_cases():
    budget = 10_000
    fast = cl.compare_time_to_event("GAFN finds all modes faster", [1200, 2500, 1800, 900], [budget, 8000, budget, budget],
                                    found_a=[True] * 4, found_b=[False, True, False, False], label_a="GAFN", label_b="TB")
    assert fast.verdict == cl.SUPPORTED and fast.p_value == pytest.approx(1 / 70) and fast.kind == cl.TIME_TO_EVENT
    assert fast.row()["B"] == "TB: KM median not reached, reached 1/4 (n=4)"
    assert fast.row()["A"] == "GAFN: KM median 1200, reached 4/4 (n=4)"
    assert any(n.startswith("Kaplan–Meier median GAFN 1200 (4/4 reached), TB not reached (1/4 reached)") for n in fast.notes)
    assert any(n.startswith("log-rank z = ") for n in fast.notes)
    full = cl.claims_table([fast], full=True)
    assert full["km_median_a"][0] == 1200 and math.isnan(full["km_median_b"][0]) and full["logrank_z"][0] > 0
    # censoring hides the order: A censored at a small budget cannot count as faster than B censored later
    hidden = cl.compare_time_to_event("x", [500] * 5, [1000] * 5, found_a=[False] * 5, found_b=[False] * 5)
    assert hidden.verdict == cl.INCONCLUSIVE and hidden.reason == "no run reached the event" and hidden.p_value == 1.0
    # B finds every mode first: contradicted
    slow = cl.compare_time_to_event("x", [budget] * 5, [100, 200, 300, 400, 500], found_a=[False] * 5, found_b=[True] * 5)
    assert slow.verdict == cl.CONTRADICTED
    # without censoring it is the plain rule
    times_a, times_b = [1, 2, 3, 4.5], [4, 5, 6, 7]
    plain = cl.compare_time_to_event("x", times_a, times_b, found_a=[True] * 4, found_b=[True] * 4)
    assert plain.p_value == pytest.approx(cl.compare("x", times_a, times_b, metric="t", better="lower").p_value)
    assert cl.compare_time_to_event("x", [1, 2, 3], [4, 5, 6], found_a=[1, 1, 1], found_b=[1, 1, 1]).reason == "cannot decide at n=3/3"
    with pytest.raises(ValueError, match="found_b"):
        cl.compare_time_to_event("x", [1, 2], [3, 4], found_a=[True, True], found_b=[True])
    times, found = stats.censored_times([120.0, float("nan"), 40.0], [160, 160, 200])
    assert list(times) == [120, 160, 40] and list(found) == [True, False, True]
    with pytest.raises(ValueError, match="budgets"):
        stats.censored_times([1.0, float("nan")], [5.0, 6.0, 7.0])
    with pytest.raises(ValueError, match="times"):
        stats.censored_times([10.0], 5.0)


def test_time_to_event_is_monotone_and_conservative():
    rng = random.Random(9)
    for _ in range(300):
        n_a, n_b = rng.randint(3, 6), rng.randint(3, 6)
        budget = 100.0
        ta = [rng.uniform(0, 150) for _ in range(n_a)]
        tb = [rng.uniform(0, 150) for _ in range(n_b)]
        ea, eb = [t < budget for t in ta], [t < budget for t in tb]
        ta, tb = [min(t, budget) for t in ta], [min(t, budget) for t in tb]
        base = cl.compare_time_to_event("c", ta, tb, found_a=ea, found_b=eb)
        # an A run finds everything earlier (a censored one may now find it within its budget)
        i = rng.randrange(n_a)
        ta2, ea2 = list(ta), list(ea)
        ta2[i] = rng.uniform(0, ta[i])
        ea2[i] = True
        moved = cl.compare_time_to_event("c", ta2, tb, found_a=ea2, found_b=eb)
        assert RANK[moved.verdict] >= RANK[base.verdict]
        # the censored count never exceeds what the true times would give
        true_a = [rng.uniform(budget, 300) if not e else t for t, e in zip(ta, ea)]
        true_b = [rng.uniform(budget, 300) if not e else t for t, e in zip(tb, eb)]
        assert stats.definitely_earlier(ta, ea, tb, eb) <= stats.pair_counts(true_a, true_b)[1]


# ------------------------------------------------------------------------------------ stuck runs
def test_near_stuck_flags_three_percent_below_initial():
    initial = 2 / 1024
    finals = [initial, initial * 0.97, initial * 0.94, initial * 0.5]
    assert list(stats.near_initial(finals, initial)) == [True, True, False, False]  # within 5 %
    assert list(stats.near_initial(finals, initial, tolerance=0.1)) == [True, True, True, False]
    assert list(stats.near_initial([0, 0.5], 0)) == [True, False]  # an initial 0 flags only 0
    assert list(cl.near_stuck([1.0, 2.0], [1.02, 3.0])) == [True, False]  # one initial value per run
    with pytest.raises(ValueError, match="tolerance"):
        stats.near_initial([1.0], 1.0, tolerance=-0.1)
    with pytest.raises(ValueError, match="initial"):
        stats.near_initial([1.0, 2.0, 3.0], [1.0, 2.0])
    r = cl.compare("GAFN < PPO", [0.0010, 0.0012, 0.0011, 0.0013], [initial * 0.97] * 4, metric="l1_mean_visited",
                   better="lower", label_b="PPO", worst=initial)
    assert "PPO stuck at initial value (0.001953, final within 5%) in 4/4 seeds" in r.notes and r.verdict == cl.SUPPORTED
    assert not any("A stuck" in n for n in r.notes)
    loose = cl.compare("x", [0.0010] * 4, [initial * 0.9] * 4, metric="l1", better="lower", worst=initial, stuck_tolerance=0.15)
    assert any("stuck at initial value" in n and "within 15%" in n for n in loose.notes)


# --------------------------------------------------------------------------- distinct comparisons
def test_duplicates_are_counted_once():
    a, b = [0.9, 0.8, 0.85, 0.95], [0.5, 0.55, 0.6, 0.52]
    best = cl.compare("GAFlowNet finds the best molecules", a, b, metric="reward", better="higher", label_a="GAFN", label_b="GFN")
    lower = cl.compare("GFlowNet is lower in quality than GAFlowNet", a, b, metric="reward", better="higher", label_a="GAFN", label_b="GFN")
    reverse = cl.compare("GFlowNet is worse", b, a, metric="reward", better="lower", label_a="GFN", label_b="GAFN")
    other = cl.compare("another", a, [0.1, 0.2, 0.15, 0.12], metric="reward", better="higher", label_a="GAFN", label_b="random")
    marked = cl.mark_duplicates([best, lower, reverse, other])
    assert [r.duplicate_of for r in marked] == ["", *["GAFlowNet finds the best molecules (GAFN vs GFN)"] * 2, ""]
    assert cl.verdict_counts(marked) == {"supported": 4, "inconclusive": 0, "contradicted": 0}
    assert cl.verdict_counts(marked, distinct=True) == {"supported": 2, "inconclusive": 0, "contradicted": 0}
    assert cl.verdict_counts([best, lower, reverse, other], distinct=True)["supported"] == 2  # found without marking too
    explicit = cl.compare("shared", a, b, metric="l1", better="higher", duplicate_of="notebook 01, same runs")
    assert cl.verdict_counts([explicit], distinct=True)["supported"] == 0
    assert cl.claims_table(marked)["duplicate_of"].tolist()[1] == "GAFlowNet finds the best molecules (GAFN vs GFN)"
    # a non-inferiority row on the same runs is another comparison
    ni = cl.noninferior("still as good", a, b, metric="reward", better="higher", margin=0.1, label_a="GAFN", label_b="GFN")
    assert len(cl.distinct_results([best, ni])) == 2
