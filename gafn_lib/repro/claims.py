"""Claims with statistics: the one function every notebook uses to test "A beats B on a metric".

A claim compares two groups of runs (one final value per seed) on one metric. It reports the
effect, its uncertainty over seeds, the number of seeds, and a verdict that can come out
*supported*, *inconclusive* or *contradicted*.

Quick use (plain numbers in, so any domain can call it — grid notebooks 00–05, molecules 06)::

    from gafn_lib.repro import claims as cl

    result = cl.compare(
        "GAFlowNet reaches a lower L1 error than GFlowNet (TB)",
        a=[0.0011, 0.0010, 0.0013, 0.0012],     # group A: final value of each seed
        b=[0.0020, 0.0019, 0.0024, 0.0021],     # group B: final value of each seed
        metric="l1_mean_visited", better="lower",
        label_a="GAFlowNet", label_b="GFlowNet (TB)", scope="H=16",
    )
    result.verdict                  # "supported" | "inconclusive" | "contradicted"
    cl.claims_table([result, ...])  # the display table (columns below); full=True adds every number

    # "A is still as good as B": non-inferiority with a stated margin (here 5 % of B, relative)
    cl.noninferior("GAFlowNet is still as good as TB", a, b, metric="l1_mean_exact", better="lower",
                   margin=0.05, relative=True)
    # "A finds every mode faster": time to event, runs that never found them censored at their budget
    cl.compare_time_to_event("GAFlowNet finds all modes faster", times_a, times_b,
                             found_a=[True, ...], found_b=[False, ...])
    # The same claim on several metrics that measure one thing (e.g. both L1s)
    cl.compare_metrics("...", a={"l1_mean_visited": [...], "l1_mean_exact": [...]},
                       b={...}, better="lower", label_a=..., label_b=...)

**The rule: one exact rank test, one level, for continuous and discrete metrics alike.**

- *Test.* The exact one-sided Mann–Whitney test on the count of pairs ``(a_i, b_j)`` strictly
  ordered in the claimed direction, ``U = #{a_i < b_j}`` for ``better="lower"`` (``#{a_i > b_j}``
  for ``"higher"``), against the exact null distribution of ``U`` for untied values (which depends
  on ``n_A`` and ``n_B`` only; :func:`gafn_lib.repro.stats.mann_whitney_counts`). No approximation,
  no Monte Carlo, numpy only.
- *Ties* (between the groups) count for neither side, i.e. always against the side being tested.
  This is the worst case over every way of breaking the ties, so the test keeps its level with
  ties (it is conservative there), and the null distribution never changes with the data.
- *Level.* ``α = (1 − confidence)/2 = 0.025`` on each side (default ``confidence = 0.95``): the claim
  is *supported* when its one-sided p ≤ 0.025, *contradicted* when the opposite one-sided p ≤ 0.025,
  otherwise *inconclusive*. Both sides are tested because a claim can come out contradicted; the
  two one-sided tests at 0.025 are one two-sided test at 0.05 and match the 95 % interval below.
- *Interval.* The Hodges–Lehmann shift (median of the ``n_A·n_B`` pairwise differences
  ``a_i − b_j``) with its distribution-free (Moses) 95 % interval: order statistics of those
  differences at the same critical count, so the interval excludes 0 on the claimed side exactly
  when the verdict is *supported* (and on the other side exactly when *contradicted*). ``difference``
  stays the difference of means; the table shows the shift and its interval.
- *Minimum n.* Complete separation has one-sided p = ``1 / C(n_A + n_B, n_A)``. It reaches 0.025
  only when ``C(n_A + n_B, n_A) >= 40``: **4 vs 4 seeds** (p = 1/70 = 0.014) is the smallest equal
  design; 3 vs 3 (p = 1/20 = 0.05) and 3 vs 4 (1/35) never can, 3 vs 5 (1/56) can. Below that the
  verdict is *inconclusive (cannot decide at n=3/3)*, the note gives the smallest attainable p,
  and there is no interval (a 95 % distribution-free interval does not exist at that n). We keep
  0.025 per side rather than a one-sided 0.05 at which 3 vs 3 would pass with p exactly at the
  threshold: a verdict that hangs on a boundary equality is not evidence, and the same level then
  serves the contradicted side and the 95 % interval.
- *Monotone.* ``U`` can only grow when any value of A moves in the claimed direction (or any value
  of B in the other) and the opposite count can only shrink, while the null distribution stays the
  same: a stronger separation never gets a weaker verdict (order contradicted < inconclusive <
  supported). So ``3,3,3 vs 1,1,1`` and ``3,3,2 vs 1,1,1`` get the same verdict (both complete
  separations), as do ``2,2,2 vs 1,1,1`` and ``2.0,2.1,1.9 vs 1,1,1`` — inconclusive at 3 seeds,
  supported from 4 vs 4.
- *No spread.* The test uses only the order of the values, so a group whose seeds are all
  identical (every TB seed collapsed the same way) is no special case and cannot make the verdict
  overconfident. The interval is made of observed differences; with no spread in either group it is
  the single observed difference, and a note says so.
- *Saturated.* Every run of both groups at the same bound of ``bounds`` → *inconclusive
  (saturated)* (a saturated metric decides nothing; the test would give U = 0 both ways anyway).

**Non-inferiority** (:func:`noninferior`): "A is no worse than B by more than a margin ``m``",
absolute (``A − B``) or relative (``A / B``, positive metrics). The same exact test applied to the
shifted (or scaled) comparison: for ``better="lower"`` the pairs counted are ``a_i < b_j + m``
(relative: ``a_i < (1 + m)·b_j``); the claim is *supported (non-inferior ...)* when the one-sided
p ≤ 0.025, i.e. when the 95 % interval's bad-side end lies within the margin, and *contradicted
(inferior by more than the margin)* when the whole interval lies beyond it. The margin must be
chosen before looking at the data and is printed in the verdict.

**Time to event** (:func:`compare_time_to_event`): "A reaches the event (every mode found)
sooner". Per run, the time (visited states or trajectories) at which the event first happened, or
the run's budget with ``found=False`` when it never did (right-censored). A pair counts for A when
A's run certainly came first: its event at ``t_a`` and B's run's event later, or B's run censored
at a budget ``>= t_a`` (Gehan's scoring); undetermined pairs and ties count for neither side. This
count is never above the count the true (uncensored) times would give, so comparing it with the
exact Mann–Whitney null distribution keeps the level whatever the censoring (budgets may differ
between groups), and it reduces to the rule above without censoring. The row gives the
Kaplan–Meier median time per group (NaN, "not reached", when more than half the runs are
censored before it) and the log-rank z with its normal-approximation p for reference.

**Notes** (the verdict stands, the label shows):

- *stuck baseline*: pass ``worst=`` the metric's initial value (e.g. the sparse grid's
  ``l1_mean_visited`` of a sampler that never reached a goal, ``2/H^d``, or ``modes_found = 0``): a
  group whose final values are within ``stuck_tolerance`` (default 5 %, relative to ``|worst|``) of
  it is labelled, so a run 3 % below its initial value is caught
  (:func:`gafn_lib.repro.stats.near_initial`). Or ``stuck_a``/``stuck_b`` = one bool per seed
  computed from the run histories. The note says which group, the value and how many seeds.
- *too few seeds*: "cannot decide at n=…" with the smallest attainable p.
- *shared runs*: ``shared_with="notebook 01"`` marks a comparison whose runs another notebook also
  counts; ``duplicate_of`` marks a row that repeats another row's comparison in the same table
  (:func:`mark_duplicates` finds them), and ``verdict_counts(results, distinct=True)`` counts each
  distinct comparison once.

Display columns of :func:`claims_table`: ``claim``, ``metric``, ``A`` and ``B`` (label: mean ± std
(n)), ``difference A−B [95% CI]`` (Hodges–Lehmann shift and interval), ``verdict``, ``test``
(name and one-sided p), ``notes``, ``shared_with``, ``duplicate_of``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from gafn_lib.repro import stats
from gafn_lib.repro.stats import STUCK_TOLERANCE

SUPPORTED, INCONCLUSIVE, CONTRADICTED = "supported", "inconclusive", "contradicted"
VERDICTS = (SUPPORTED, INCONCLUSIVE, CONTRADICTED)
BETTER = ("lower", "higher")
#: What a :class:`ClaimResult` tests.
SUPERIORITY, NONINFERIORITY, TIME_TO_EVENT = "superiority", "non-inferiority", "time to event"
#: Interval methods a :class:`ClaimResult` may report.
MOSES, MOSES_RATIO, NO_INTERVAL = "Hodges–Lehmann shift, Moses interval", "Hodges–Lehmann ratio, Moses interval", "none"
#: Test names a :class:`ClaimResult` may report.
MANN_WHITNEY = "exact Mann–Whitney (ties against)"
GEHAN = "exact Mann–Whitney on certainly ordered pairs (Gehan, censored)"
#: Columns of the display table, in order.
DISPLAY_COLUMNS = (
    "claim", "metric", "A", "B", "difference A−B [95% CI]", "verdict", "test", "notes", "shared_with", "duplicate_of",
)


@dataclass(frozen=True)
class ClaimResult:
    """One tested claim: the two groups' per-seed values, the effect, its interval and the verdict.

    ``difference`` is ``mean_a − mean_b`` (for a time-to-event row: the Kaplan–Meier medians'
    difference, NaN when a median is not reached); ``shift`` the Hodges–Lehmann estimate (median
    pairwise difference, or ratio ``A/B`` for a relative non-inferiority row) and
    ``ci_low``/``ci_high`` its interval (NaN when there is none); ``ci_level`` the interval's exact
    coverage. ``effect_size`` is Hedges' g of the same sign as ``difference`` (NaN without spread);
    ``df`` is NaN (the rank rule has no degrees of freedom; kept for older tables).
    ``p_value`` is the exact one-sided p of the claimed direction, ``p_reverse`` of the opposite one.
    ``verdict`` is one of :data:`VERDICTS`; ``reason`` qualifies it (``"saturated"``, ``"cannot
    decide at n=3/3"``, ...); ``notes`` carry the labels that do not change it. ``kind`` is
    :data:`SUPERIORITY`, :data:`NONINFERIORITY` (with ``margin``, ``relative``) or
    :data:`TIME_TO_EVENT` (with ``events_a``/``events_b``: True where the run reached the event).
    ``shared_with`` names other notebooks counting these runs, ``duplicate_of`` the row this one
    repeats.
    """

    claim: str
    metric: str
    better: str
    label_a: str
    label_b: str
    values_a: tuple[float, ...]
    values_b: tuple[float, ...]
    difference: float
    ci_low: float
    ci_high: float
    df: float
    effect_size: float
    verdict: str
    interval_method: str
    confidence: float = 0.95
    reason: str = ""
    notes: tuple[str, ...] = ()
    scope: str = ""
    shared_with: str = ""
    p_value: float = math.nan
    p_reverse: float = math.nan
    test: str = MANN_WHITNEY
    shift: float = math.nan
    ci_level: float = math.nan
    kind: str = SUPERIORITY
    margin: float = math.nan
    relative: bool = False
    events_a: tuple[bool, ...] | None = None
    events_b: tuple[bool, ...] | None = None
    duplicate_of: str = ""

    n_a = property(lambda self: len(self.values_a))
    n_b = property(lambda self: len(self.values_b))
    mean_a = property(lambda self: float(np.mean(self.values_a)))
    mean_b = property(lambda self: float(np.mean(self.values_b)))
    std_a = property(lambda self: _std(self.values_a))
    std_b = property(lambda self: _std(self.values_b))
    alpha = property(lambda self: (1 - self.confidence) / 2, doc="The one-sided level of each side.")

    @property
    def margin_text(self) -> str:
        """The non-inferiority margin as stated, e.g. ``"5 %"`` (relative, of B) or ``"0.001"`` ("" otherwise)."""
        if self.kind != NONINFERIORITY:
            return ""
        return f"{self.margin * 100:g} %" if self.relative else _num(self.margin)

    @property
    def verdict_label(self) -> str:
        """The verdict in words, with its reason, e.g. ``"inconclusive (saturated)"`` or, for a
        non-inferiority row, ``"supported (non-inferior: worse than TB by less than 0.001)"``."""
        words = self.verdict
        if self.kind == NONINFERIORITY:
            words += {
                SUPPORTED: f" (non-inferior: worse than {self.label_b} by less than {self.margin_text})",
                CONTRADICTED: f" (inferior: worse than {self.label_b} by more than {self.margin_text})",
                INCONCLUSIVE: f" (non-inferiority within {self.margin_text} not shown)",
            }[self.verdict]
        return f"{words} ({self.reason})" if self.reason else words

    @property
    def comparison_key(self) -> tuple:
        """What makes two rows the same comparison: the same test on the same runs (same labels,
        metric, scope and per-seed values), whichever group is called A."""
        groups = frozenset({(self.label_a, self.values_a, self.events_a), (self.label_b, self.values_b, self.events_b)})
        margin = None if math.isnan(self.margin) else (self.margin, self.relative)
        return (self.kind, self.metric, self.scope, margin, groups)

    def _group(self, which: str) -> str:
        label, values, events = (
            (self.label_a, self.values_a, self.events_a) if which == "a" else (self.label_b, self.values_b, self.events_b)
        )
        if self.kind == TIME_TO_EVENT and events is not None:
            median = stats.km_median(values, events)
            shown = "not reached" if math.isnan(median) else _num(median)
            return f"{label}: KM median {shown}, reached {sum(events)}/{len(events)} (n={len(values)})"
        return f"{label}: {_mean_std_n(values)}"

    def row(self, full: bool = False) -> dict:
        """The display row (:data:`DISPLAY_COLUMNS`); ``full=True`` adds every number."""
        metric = f"{self.metric} ({self.better} is better)"
        if self.scope:
            metric += f", {self.scope}"
        effect = self.difference if self.kind == TIME_TO_EVENT else self.shift
        prefix = "ratio A/B " if self.relative else ("KM medians " if self.kind == TIME_TO_EVENT else "")
        if self.kind == TIME_TO_EVENT and math.isnan(effect):
            interval = "KM medians: a median not reached [no interval]"
        elif math.isnan(self.ci_low):
            interval = f"{prefix}{_num(effect)} [no interval]"
        else:
            interval = f"{prefix}{_num(effect)} [{_num(self.ci_low)}, {_num(self.ci_high)}]"
        interval_column = "difference A−B [95% CI]" if self.confidence == 0.95 else f"difference A−B [{self.confidence:.0%} CI]"
        row = {
            "claim": self.claim,
            "metric": metric,
            "A": self._group("a"),
            "B": self._group("b"),
            interval_column: interval,
            "verdict": self.verdict_label,
            "test": f"{self.test}, one-sided p = {_p(self.p_value)}",
            "notes": "; ".join(self.notes),
            "shared_with": self.shared_with,
            "duplicate_of": self.duplicate_of,
        }
        if full:
            row.update(
                metric_name=self.metric, scope=self.scope, better=self.better, label_a=self.label_a, label_b=self.label_b,
                n_a=self.n_a, n_b=self.n_b, mean_a=self.mean_a, std_a=self.std_a, mean_b=self.mean_b, std_b=self.std_b,
                difference=self.difference, shift=self.shift, ci_low=self.ci_low, ci_high=self.ci_high,
                ci_level=self.ci_level, df=self.df, effect_size_hedges_g=self.effect_size,
                interval_method=self.interval_method, confidence=self.confidence, alpha_one_sided=self.alpha,
                test_name=self.test, p_value=self.p_value, p_reverse=self.p_reverse,
                min_seeds=stats.min_seeds(self.alpha), kind=self.kind, margin=self.margin, relative=self.relative,
                verdict_only=self.verdict, reason=self.reason,
                values_a=" ".join(_num(v) for v in self.values_a), values_b=" ".join(_num(v) for v in self.values_b),
            )
            if self.kind == TIME_TO_EVENT and self.events_a is not None and self.events_b is not None:
                lr = stats.logrank(self.values_a, self.events_a, self.values_b, self.events_b)
                row.update(
                    events_a=" ".join(str(int(e)) for e in self.events_a), events_b=" ".join(str(int(e)) for e in self.events_b),
                    km_median_a=stats.km_median(self.values_a, self.events_a), km_median_b=stats.km_median(self.values_b, self.events_b),
                    logrank_z=lr.z, logrank_p_a_earlier=lr.p_a_earlier,
                )
        return row


# ------------------------------------------------------------------------------ the verdict
def _decide(u_claim: int, u_reverse: int, n_a: int, n_b: int, alpha: float) -> tuple[str, float, float]:
    """The verdict from the two strictly ordered pair counts: (verdict, p claimed side, p other side)."""
    p_claim, p_reverse = stats.upper_tail(u_claim, n_a, n_b), stats.upper_tail(u_reverse, n_a, n_b)
    if stats.reaches(p_claim, alpha):
        return SUPPORTED, p_claim, p_reverse
    if stats.reaches(p_reverse, alpha):
        return CONTRADICTED, p_claim, p_reverse
    return INCONCLUSIVE, p_claim, p_reverse


def cannot_decide_note(n_a: int, n_b: int, confidence: float = 0.95) -> str:
    """The note of a row whose seeds cannot reach the level at all ("" when they can), e.g.
    ``"cannot decide at n=3/3: even complete separation gives one-sided p = 0.05 > 0.025; needs
    C(n_A+n_B, n_A) >= 40, e.g. 4 vs 4 seeds"``."""
    alpha = (1 - confidence) / 2
    if stats.decidable(n_a, n_b, alpha):
        return ""
    need = math.ceil(1 / alpha - 1e-9)
    m = stats.min_seeds(alpha)
    return (f"cannot decide at n={n_a}/{n_b}: even complete separation gives one-sided p = "
            f"{stats.smallest_p(n_a, n_b):.3g} > {alpha:g}; needs C(n_A+n_B, n_A) >= {need}, e.g. {m} vs {m} seeds")


def _check_common(better: str, confidence: float) -> None:
    if better not in BETTER:
        raise ValueError(f"better must be one of {BETTER}, got {better!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def _stuck_notes(label_a, values_a, stuck_a, label_b, values_b, stuck_b, worst, tolerance) -> list[str]:
    notes = []
    for label, vals, stuck in ((label_a, values_a, stuck_a), (label_b, values_b, stuck_b)):
        note = _stuck_note(label, vals, worst, stuck, tolerance)
        if note:
            notes.append(note)
    return notes


def _spread_notes(label_a: str, values_a: np.ndarray, label_b: str, values_b: np.ndarray) -> list[str]:
    """Notes on groups whose seeds all gave one value (the rank test needs no spread; say so)."""
    flat = [(lab, v) for lab, v in ((label_a, values_a), (label_b, values_b)) if len(v) > 1 and np.ptp(v) == 0]
    if len(flat) == 2:
        return ["no spread within either group: the interval is the one observed difference; the rank test decides"]
    return [f"no spread within {lab} (every seed {_num(float(v[0]))})" for lab, v in flat]


def _result(claim, metric, better, label_a, label_b, values_a, values_b, **fields) -> ClaimResult:
    fields.setdefault("effect_size", _hedges_g(values_a, values_b))
    return ClaimResult(
        claim=claim, metric=metric, better=better, label_a=label_a, label_b=label_b,
        values_a=tuple(float(v) for v in values_a), values_b=tuple(float(v) for v in values_b),
        df=math.nan, **fields,
    )


def compare(
    claim: str,
    a: Sequence[float],
    b: Sequence[float],
    *,
    metric: str,
    better: str,
    label_a: str = "A",
    label_b: str = "B",
    scope: str = "",
    bounds: tuple[float | None, float | None] | None = None,
    worst: float | None = None,
    stuck_a: Sequence[bool] | None = None,
    stuck_b: Sequence[bool] | None = None,
    stuck_tolerance: float = STUCK_TOLERANCE,
    shared_with: str = "",
    duplicate_of: str = "",
    notes: Iterable[str] = (),
    confidence: float = 0.95,
) -> ClaimResult:
    """Test the claim "group A is better than group B on ``metric``" from per-seed values.

    Args:
        claim: the sentence being tested (shown verbatim).
        a, b: one final value per seed for each group (NaNs are an error: drop failed runs first).
        metric: the metric's name (e.g. ``"l1_mean_visited"``).
        better: ``"lower"`` (claims A below B) or ``"higher"`` (claims A above B).
        label_a, label_b: group names for the table (e.g. method names).
        scope: where the comparison holds (e.g. ``"H=16"``), appended to the metric column.
        bounds: ``(lowest, highest)`` values the metric can take (either may be None); all runs of
            both groups at one bound → *inconclusive (saturated)*.
        worst: the metric's initial value (that of a run that never left it); a group whose seeds
            end within ``stuck_tolerance`` of it is labelled in the notes.
        stuck_a, stuck_b: one bool per seed, True for a run that never left its initial value
            (from its history); labelled like ``worst``.
        stuck_tolerance: relative tolerance of ``worst`` (default 0.05: within 5 % of it).
        shared_with: where else these same runs are counted (e.g. ``"notebook 03"``).
        duplicate_of: the row (claim) of this table whose comparison this row repeats.
        notes: extra notes to carry.
        confidence: level of the interval (default 0.95); each side is tested at ``(1 − confidence)/2``.

    Returns:
        A :class:`ClaimResult`; see the module docstring for the test, the interval and the verdict.
    """
    _check_common(better, confidence)
    values_a, values_b = _values(a, "a"), _values(b, "b")
    alpha = (1 - confidence) / 2
    n_a, n_b = len(values_a), len(values_b)
    notes = list(notes) + _stuck_notes(label_a, values_a, stuck_a, label_b, values_b, stuck_b, worst, stuck_tolerance)
    above, below = stats.pair_counts(values_a, values_b)
    u_claim, u_reverse = (below, above) if better == "lower" else (above, below)
    verdict, p_claim, p_reverse = _decide(u_claim, u_reverse, n_a, n_b, alpha)
    interval = stats.shift_interval(values_a, values_b, confidence)
    reason = ""
    if _saturated(values_a, values_b, bounds):
        reason = "saturated"
        notes.append(f"every run of both groups is at the bound {_num(values_a[0])}")
    elif not stats.decidable(n_a, n_b, alpha):
        reason = f"cannot decide at n={n_a}/{n_b}"
        notes.append(cannot_decide_note(n_a, n_b, confidence))
    elif np.ptp(np.concatenate([values_a, values_b])) == 0:
        reason = "identical values"
    else:
        notes += _spread_notes(label_a, values_a, label_b, values_b)
    if reason:
        verdict = INCONCLUSIVE  # already so: U = 0 both ways, or p above every attainable level
    return _result(
        claim, metric, better, label_a, label_b, values_a, values_b,
        difference=float(values_a.mean() - values_b.mean()), shift=interval.estimate,
        ci_low=interval.low, ci_high=interval.high, ci_level=interval.level,
        verdict=verdict, interval_method=MOSES if not math.isnan(interval.low) else NO_INTERVAL,
        confidence=confidence, reason=reason, notes=tuple(notes), scope=scope, shared_with=shared_with,
        duplicate_of=duplicate_of, p_value=p_claim, p_reverse=p_reverse, test=MANN_WHITNEY,
    )


def noninferior(
    claim: str,
    a: Sequence[float],
    b: Sequence[float],
    *,
    metric: str,
    better: str,
    margin: float,
    relative: bool = False,
    label_a: str = "A",
    label_b: str = "B",
    scope: str = "",
    bounds: tuple[float | None, float | None] | None = None,
    worst: float | None = None,
    stuck_a: Sequence[bool] | None = None,
    stuck_b: Sequence[bool] | None = None,
    stuck_tolerance: float = STUCK_TOLERANCE,
    shared_with: str = "",
    duplicate_of: str = "",
    notes: Iterable[str] = (),
    confidence: float = 0.95,
) -> ClaimResult:
    """Test the claim "A is no worse than B by more than ``margin``" (non-inferiority).

    ``better`` says which direction is good for the metric. With ``relative=False`` the margin is
    absolute, on ``A − B``: for ``better="lower"`` the claim is ``shift(A − B) < margin``, for
    ``"higher"`` it is ``shift > −margin``. With ``relative=True`` it is a fraction of B, on the ratio
    ``A / B`` (both groups' values must be positive): ``A/B < 1 + margin`` (lower is better) or
    ``A/B > 1 − margin`` (higher is better). The exact one-sided Mann–Whitney test of :func:`compare`
    on the shifted (or scaled) values decides at ``(1 − confidence)/2``:

    - *supported (non-inferior: worse than B by less than m)* — the 95 % interval's bad-side end is
      within the margin;
    - *contradicted (inferior: worse than B by more than m)* — the whole interval is beyond it;
    - *inconclusive (non-inferiority within m not shown)* — otherwise, and when the seeds cannot
      decide at all.

    A saturated metric (all runs at one bound) is noted but decided by the data like any other
    (forcing it inconclusive would break monotonicity: a slightly weaker A would then score better).
    Other arguments as in :func:`compare`.

    Raises:
        ValueError: naming ``margin`` (not > 0, or not < 1 for a relative margin on a
            higher-is-better metric), ``a``/``b`` (NaN, empty, or not positive with ``relative``).
    """
    _check_common(better, confidence)
    if not (isinstance(margin, (int, float)) and margin > 0 and math.isfinite(margin)):
        raise ValueError(f"margin must be a finite number > 0, got {margin!r}")
    if relative and better == "higher" and margin >= 1:
        raise ValueError(f"margin must be < 1 for a relative margin on a higher-is-better metric, got {margin}")
    values_a, values_b = _values(a, "a"), _values(b, "b")
    if relative:
        for name, vals in (("a", values_a), ("b", values_b)):
            if (vals <= 0).any():
                raise ValueError(f"{name} must be positive for a relative margin (got {_num(float(vals.min()))}); use an absolute margin")
    alpha = (1 - confidence) / 2
    n_a, n_b = len(values_a), len(values_b)
    notes = list(notes) + _stuck_notes(label_a, values_a, stuck_a, label_b, values_b, stuck_b, worst, stuck_tolerance)
    if relative:
        factor = 1 + margin if better == "lower" else 1 - margin
        above, below = stats.pair_counts(values_a, factor * values_b)
    else:
        above, below = stats.pair_counts(values_a + (-margin if better == "lower" else margin), values_b)
    u_claim, u_reverse = (below, above) if better == "lower" else (above, below)
    verdict, p_claim, p_reverse = _decide(u_claim, u_reverse, n_a, n_b, alpha)
    interval = stats.shift_interval(values_a, values_b, confidence, ratio=relative)
    reason = ""
    if not stats.decidable(n_a, n_b, alpha):
        reason = f"cannot decide at n={n_a}/{n_b}"
        notes.append(cannot_decide_note(n_a, n_b, confidence))
    else:
        notes += _spread_notes(label_a, values_a, label_b, values_b)
    if _saturated(values_a, values_b, bounds):
        notes.append(f"every run of both groups is at the bound {_num(values_a[0])}")
    method = NO_INTERVAL if math.isnan(interval.low) else (MOSES_RATIO if relative else MOSES)
    return _result(
        claim, metric, better, label_a, label_b, values_a, values_b,
        difference=float(values_a.mean() - values_b.mean()), shift=interval.estimate,
        ci_low=interval.low, ci_high=interval.high, ci_level=interval.level,
        verdict=verdict, interval_method=method, confidence=confidence, reason=reason, notes=tuple(notes),
        scope=scope, shared_with=shared_with, duplicate_of=duplicate_of, p_value=p_claim, p_reverse=p_reverse,
        test=f"{MANN_WHITNEY}, B {'scaled' if relative else 'shifted'} by the margin",
        kind=NONINFERIORITY, margin=float(margin), relative=relative,
    )


def compare_time_to_event(
    claim: str,
    a: Sequence[float],
    b: Sequence[float],
    *,
    found_a: Sequence[bool],
    found_b: Sequence[bool],
    metric: str = "visited states until every mode was found",
    label_a: str = "A",
    label_b: str = "B",
    scope: str = "",
    shared_with: str = "",
    duplicate_of: str = "",
    notes: Iterable[str] = (),
    confidence: float = 0.95,
) -> ClaimResult:
    """Test the claim "A reaches the event sooner than B" (e.g. finds every mode after fewer
    visited states) with right censoring.

    Args:
        a, b: per run, the time of the event (``found`` True) or the run's budget, the time it
            stopped without the event (``found`` False: censored). From "event time or NaN" and
            budgets (e.g. :func:`gafn_lib.repro.experiments.first_visit_times`), use
            ``times, found = stats.censored_times(times, budgets)``.
        found_a, found_b: one bool per run, True where the run reached the event.
        metric: what the time counts (shown in the metric column; lower is better).
        Other arguments as in :func:`compare`.

    The verdict is the exact Mann–Whitney test of :func:`compare` on the count of pairs where A's
    run certainly came first (:func:`gafn_lib.repro.stats.definitely_earlier`), conservative under
    any censoring; ``difference`` is the difference of the Kaplan–Meier medians (NaN when either is
    not reached); there is no interval. The notes give each group's median and the log-rank z.

    Raises:
        ValueError: naming ``a``/``b`` (empty, NaN, negative) or ``found_a``/``found_b`` (one bool per run).
    """
    _check_common("lower", confidence)
    values_a, values_b = _values(a, "a"), _values(b, "b")
    events_a, events_b = _flags(found_a, values_a, "found_a"), _flags(found_b, values_b, "found_b")
    for name, vals in (("a", values_a), ("b", values_b)):
        if (vals < 0).any():
            raise ValueError(f"{name} has negative times")
    alpha = (1 - confidence) / 2
    n_a, n_b = len(values_a), len(values_b)
    u_claim = stats.definitely_earlier(values_a, events_a, values_b, events_b)
    u_reverse = stats.definitely_earlier(values_b, events_b, values_a, events_a)
    verdict, p_claim, p_reverse = _decide(u_claim, u_reverse, n_a, n_b, alpha)
    med_a, med_b = stats.km_median(values_a, events_a), stats.km_median(values_b, events_b)
    notes = list(notes)
    reason = ""
    if not stats.decidable(n_a, n_b, alpha):
        reason = f"cannot decide at n={n_a}/{n_b}"
        notes.append(cannot_decide_note(n_a, n_b, confidence))
    elif not events_a.any() and not events_b.any():
        reason = "no run reached the event"
    shown = {k: ("not reached" if math.isnan(m) else _num(m)) for k, m in (("a", med_a), ("b", med_b))}
    notes.append(f"Kaplan–Meier median {label_a} {shown['a']} ({int(events_a.sum())}/{n_a} reached), "
                 f"{label_b} {shown['b']} ({int(events_b.sum())}/{n_b} reached)")
    lr = stats.logrank(values_a, events_a, values_b, events_b)
    if not math.isnan(lr.z):
        notes.append(f"log-rank z = {lr.z:.3g} (O−E = {lr.observed_a - lr.expected_a:.3g}), "
                     f"one-sided p ≈ {_p(lr.p_a_earlier)} (normal approx., not the verdict)")
    return _result(
        claim, metric, "lower", label_a, label_b, values_a, values_b,
        difference=med_a - med_b, shift=med_a - med_b, ci_low=math.nan, ci_high=math.nan, ci_level=math.nan,
        verdict=verdict, interval_method=NO_INTERVAL, confidence=confidence, reason=reason, notes=tuple(notes),
        scope=scope, shared_with=shared_with, duplicate_of=duplicate_of, p_value=p_claim, p_reverse=p_reverse,
        test=GEHAN, kind=TIME_TO_EVENT, effect_size=math.nan,
        events_a=tuple(bool(e) for e in events_a), events_b=tuple(bool(e) for e in events_b),
    )


def compare_metrics(
    claim: str,
    a: Mapping[str, Sequence[float]],
    b: Mapping[str, Sequence[float]],
    *,
    better: str | Mapping[str, str],
    bounds: Mapping[str, tuple[float | None, float | None]] | None = None,
    worst: Mapping[str, float] | None = None,
    **common,
) -> list[ClaimResult]:
    """The same claim tested on several metrics that measure one thing (e.g. ``l1_mean_visited`` and
    ``l1_mean_exact``): one :func:`compare` per metric of ``a`` (``b`` must have the same metrics).

    ``better``, ``bounds`` and ``worst`` may be given per metric. When the verdicts differ, every
    result gets a note naming the other metrics' verdicts (e.g. ``"disagrees: l1_mean_exact
    inconclusive"``); when they agree, a note says so.
    """
    if set(a) != set(b):
        raise ValueError(f"a and b must name the same metrics, got {sorted(a)} and {sorted(b)}")
    results = []
    for metric in a:
        results.append(
            compare(
                claim, a[metric], b[metric], metric=metric,
                better=better[metric] if isinstance(better, Mapping) else better,
                bounds=(bounds or {}).get(metric), worst=(worst or {}).get(metric), **common,
            )
        )
    return with_agreement(results)


def with_agreement(results: Sequence[ClaimResult]) -> list[ClaimResult]:
    """Add to each result a note on whether the other results' verdicts (same claim, other metrics)
    agree with its own: ``"agrees with l1_mean_exact"`` or ``"disagrees: l1_mean_exact inconclusive"``."""
    out = []
    for result in results:
        others = [r for r in results if r is not result]
        if not others:
            out.append(result)
            continue
        differ = [r for r in others if r.verdict != result.verdict]
        if differ:
            note = "disagrees: " + ", ".join(f"{r.metric} {r.verdict_label}" for r in differ)
        else:
            note = "agrees with " + ", ".join(r.metric for r in others)
        out.append(replace(result, notes=result.notes + (note,)))
    return out


def mark_duplicates(results: Iterable[ClaimResult]) -> list[ClaimResult]:
    """Set ``duplicate_of`` on every row whose :attr:`ClaimResult.comparison_key` (same test on the
    same runs) an earlier row already has, naming that row (``"<claim> (<A> vs <B>)"``). Rows that
    already carry a ``duplicate_of`` keep it."""
    first: dict[tuple, ClaimResult] = {}
    out = []
    for r in results:
        key = r.comparison_key
        if key in first and not r.duplicate_of:
            origin = first[key]
            r = replace(r, duplicate_of=f"{origin.claim} ({origin.label_a} vs {origin.label_b})")
        first.setdefault(key, r)
        out.append(r)
    return out


def distinct_results(results: Iterable[ClaimResult]) -> list[ClaimResult]:
    """The rows that count as distinct comparisons: no ``duplicate_of``, and the first row of every
    :attr:`ClaimResult.comparison_key`."""
    seen: set[tuple] = set()
    out = []
    for r in results:
        if r.duplicate_of or r.comparison_key in seen:
            continue
        seen.add(r.comparison_key)
        out.append(r)
    return out


def claims_table(results: Iterable[ClaimResult], full: bool = False) -> pd.DataFrame:
    """One row per result: the display columns (:data:`DISPLAY_COLUMNS`), or every number with
    ``full=True`` (per-seed values, means, stds, n, shift, interval, p-values, test, Hedges' g, ...)."""
    rows = [r.row(full=full) for r in results]
    if not rows:
        return pd.DataFrame(columns=list(DISPLAY_COLUMNS))
    return pd.DataFrame(rows)


def verdict_counts(results: Iterable[ClaimResult], distinct: bool = False) -> dict[str, int]:
    """How many results have each verdict (every verdict listed, zeros included). With
    ``distinct=True`` each distinct comparison counts once (:func:`distinct_results`: rows marked
    ``duplicate_of`` and repeats of the same comparison are skipped)."""
    results = distinct_results(results) if distinct else results
    counts = {v: 0 for v in VERDICTS}
    for r in results:
        counts[r.verdict] += 1
    return counts



def near_stuck(values: Sequence[float], initial: float | Sequence[float], tolerance: float = STUCK_TOLERANCE) -> np.ndarray:
    """One bool per seed: the final value is within ``tolerance`` (relative, default 5 %) of the
    metric's initial value (:func:`gafn_lib.repro.stats.near_initial`); pass it as ``stuck_a`` /
    ``stuck_b`` when each run has its own initial value."""
    return stats.near_initial(values, initial, tolerance)


# ----------------------------------------------------------------------------------- helpers
def t_quantile(q: float, df: float) -> float:
    """Quantile of Student's t with (possibly fractional) ``df`` degrees of freedom, by bisection on
    the CDF ``F(t) = 1 − I_{df/(df+t²)}(df/2, 1/2)/2`` (t > 0; regularised incomplete beta ``I``)."""
    if not 0 < q < 1:
        raise ValueError(f"q must be in (0, 1), got {q}")
    if not df > 0:
        raise ValueError(f"df must be > 0, got {df}")
    if q < 0.5:
        return -t_quantile(1 - q, df)
    if q == 0.5:
        return 0.0
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < q:
        lo, hi = hi, hi * 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_cdf(mid, df) < q:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * max(1.0, hi):
            break
    return (lo + hi) / 2


def t_cdf(t: float, df: float) -> float:
    """CDF of Student's t with ``df`` degrees of freedom."""
    tail = 0.5 * _betainc(df / 2, 0.5, df / (df + t * t))
    return 1 - tail if t > 0 else tail


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta ``I_x(a, b)`` by its continued fraction (modified Lentz)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x > (a + 1) / (a + b + 2):  # the fraction converges fast on this side; use the symmetry
        return 1.0 - _betainc(b, a, 1 - x)
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)), -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return math.exp(log_front) * h / a


def _values(values: Sequence[float], name: str) -> np.ndarray:
    array = np.asarray(list(values), dtype=float).ravel()
    if array.size == 0:
        raise ValueError(f"{name} has no values (no runs in this group?)")
    if np.isnan(array).any():
        raise ValueError(f"{name} contains NaN: drop failed runs before comparing")
    return array


def _flags(flags: Sequence[bool], values: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(list(flags), dtype=bool).ravel()
    if array.shape != values.shape:
        raise ValueError(f"{name} must have one bool per run ({values.size}), got {array.size}")
    return array


def _std(values: Sequence[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else math.nan


def _hedges_g(a: np.ndarray, b: np.ndarray) -> float:
    n_a, n_b = len(a), len(b)
    if n_a < 2 or n_b < 2:
        return math.nan
    pooled = math.sqrt(((n_a - 1) * a.var(ddof=1) + (n_b - 1) * b.var(ddof=1)) / (n_a + n_b - 2))
    if pooled == 0:
        return math.nan
    correction = 1 - 3 / (4 * (n_a + n_b) - 9)
    return float((a.mean() - b.mean()) / pooled * correction)


def _close(values: np.ndarray, level: float) -> np.ndarray:
    return np.isclose(values, level, rtol=1e-9, atol=1e-12)


def _saturated(a: np.ndarray, b: np.ndarray, bounds) -> bool:
    if bounds is None:
        return False
    both = np.concatenate([a, b])
    return any(level is not None and bool(_close(both, level).all()) for level in bounds)


def _stuck_note(label: str, values: np.ndarray, worst: float | None, stuck: Sequence[bool] | None,
                tolerance: float = STUCK_TOLERANCE) -> str:
    """``"<label> stuck at initial value (<worst>, final within 5 %) in k/n seeds"`` or ``""``."""
    flags = np.zeros(len(values), dtype=bool)
    if worst is not None:
        flags |= stats.near_initial(values, worst, tolerance)
    if stuck is not None:
        stuck = np.asarray(list(stuck), dtype=bool)
        if stuck.shape != flags.shape:
            raise ValueError(f"stuck flags for {label!r} must have one bool per seed ({len(values)}), got {stuck.size}")
        flags |= stuck
    if not flags.any():
        return ""
    at = f" ({_num(worst)}, final within {tolerance:.0%})" if worst is not None else ""
    return f"{label} stuck at initial value{at} in {int(flags.sum())}/{len(values)} seeds"


def _num(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "nan"
    if x == 0:
        return "0"
    if abs(x) >= 1e4 or abs(x) < 1e-3:
        return f"{x:.3g}"
    return f"{x:.4g}"


def _p(p: float) -> str:
    return "nan" if math.isnan(p) else f"{p:.3g}"


def _mean_std_n(values: Sequence[float]) -> str:
    std = _std(values)
    spread = f" ± {_num(std)}" if not math.isnan(std) else ""
    return f"{_num(float(np.mean(values)))}{spread} (n={len(values)})"
