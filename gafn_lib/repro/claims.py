"""Claims with statistics: the one function every notebook uses to test "A beats B on a metric".

A claim compares two groups of runs (one final value per seed) on one metric. It reports the
effect, its uncertainty over seeds, the number of seeds, and a verdict that can come out
*supported*, *inconclusive* or *contradicted*.

Quick use (plain numbers in, so any domain can call it — grid notebooks 00–05, molecules 06)::

    from gafn_lib.repro import claims as cl

    result = cl.compare(
        "GAFlowNet reaches a lower L1 error than GFlowNet (TB)",
        a=[0.0011, 0.0010, 0.0013],            # group A: final value of each seed
        b=[0.0020, 0.0019, 0.0024],            # group B: final value of each seed
        metric="l1_mean_visited", better="lower",
        label_a="GAFlowNet", label_b="GFlowNet (TB)", scope="H=16",
    )
    result.verdict                  # "supported" | "inconclusive" | "contradicted"
    cl.claims_table([result, ...])  # the display table (columns below); full=True adds every number

    # The same claim on several metrics that measure one thing (e.g. both L1s): one result per
    # metric, and each result's notes say where the verdicts disagree.
    cl.compare_metrics("...", a={"l1_mean_visited": [...], "l1_mean_exact": [...]},
                       b={...}, better="lower", label_a=..., label_b=...)

**Statistic.** The effect is the difference of means ``Δ = mean(A) − mean(B)`` and Hedges' ``g``
(``Δ`` over the pooled standard deviation, small-sample corrected by ``1 − 3/(4(n_A+n_B)−9)``).
The interval is Welch's t interval for ``Δ`` at ``confidence`` (default 95 %)::

    se = sqrt(s_A²/n_A + s_B²/n_B),  df = se⁴ / ((s_A²/n_A)²/(n_A−1) + (s_B²/n_B)²/(n_B−1))
    Δ ± t_{1−α/2, df} · se

With 3 seeds per group the interval is wide; that is the honest uncertainty of 3 seeds. When both
groups have no spread at all (``se = 0``, e.g. every seed found exactly 3 modes vs exactly 2), the
t interval is undefined and the verdict comes from the exact permutation test instead: complete
separation of the two groups has one-sided p = ``1 / C(n_A+n_B, n_A)``, which must be below
``α/2`` (3 vs 3 seeds: p = 0.05, not enough; 5 vs 5: p = 0.004).

**Verdict** (``better="lower"`` claims A < B; ``"higher"`` claims A > B):

- *supported*: the interval excludes 0 on the claimed side;
- *contradicted*: the interval excludes 0 on the other side;
- *inconclusive*: otherwise — and always, with the reason in ``reason``, when a group has fewer
  than 2 seeds (no interval) or when the metric is **saturated**: every run of both groups sits at
  the same bound of ``bounds=(lowest, highest)`` (e.g. ``modes_found`` at its ceiling for all
  methods, or 0 everywhere). A saturated metric decides nothing, so it never supports a claim.

**Notes** (the verdict stands, the label shows):

- *stuck baseline*: pass ``worst=`` the value of a run that never left its initial/worst value
  (e.g. the sparse grid's ``l1_mean_visited`` of a sampler that never reached a goal, ``2/H^d``, or
  ``modes_found = 0``), or ``stuck_a``/``stuck_b`` = one bool per seed computed from the run
  histories; the note says which group, the value and how many of its seeds.
- *shared runs*: ``shared_with="notebook 01"`` marks a comparison whose runs another notebook also
  counts (the same cached runs must not be read as independent evidence twice).

Display columns of :func:`claims_table`: ``claim``, ``metric``, ``A`` and ``B`` (label: mean ± std
(n)), ``difference A−B [95% CI]``, ``verdict``, ``notes``, ``shared_with``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

SUPPORTED, INCONCLUSIVE, CONTRADICTED = "supported", "inconclusive", "contradicted"
VERDICTS = (SUPPORTED, INCONCLUSIVE, CONTRADICTED)
BETTER = ("lower", "higher")
#: Interval methods a :class:`ClaimResult` may report.
WELCH, PERMUTATION, NO_INTERVAL = "Welch t", "exact permutation (no spread within groups)", "none"
#: Columns of the display table, in order.
DISPLAY_COLUMNS = ("claim", "metric", "A", "B", "difference A−B [95% CI]", "verdict", "notes", "shared_with")


@dataclass(frozen=True)
class ClaimResult:
    """One tested claim: the two groups' per-seed values, the effect, its interval and the verdict.

    ``difference`` is ``mean_a − mean_b``; ``ci_low``/``ci_high`` its interval (NaN when there is
    none); ``effect_size`` Hedges' g of the same sign as ``difference`` (NaN without spread).
    ``verdict`` is one of :data:`VERDICTS`; ``reason`` qualifies an inconclusive verdict
    (``"saturated"``, ``"n=1 in A"``, ...); ``notes`` carry the labels that do not change it.
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

    n_a = property(lambda self: len(self.values_a))
    n_b = property(lambda self: len(self.values_b))
    mean_a = property(lambda self: float(np.mean(self.values_a)))
    mean_b = property(lambda self: float(np.mean(self.values_b)))
    std_a = property(lambda self: _std(self.values_a))
    std_b = property(lambda self: _std(self.values_b))

    @property
    def verdict_label(self) -> str:
        """The verdict with its reason, e.g. ``"inconclusive (saturated)"``."""
        return f"{self.verdict} ({self.reason})" if self.reason else self.verdict

    def row(self, full: bool = False) -> dict:
        """The display row (:data:`DISPLAY_COLUMNS`); ``full=True`` adds every number."""
        metric = f"{self.metric} ({self.better} is better)"
        if self.scope:
            metric += f", {self.scope}"
        if math.isnan(self.ci_low):
            interval = f"{_num(self.difference)} [no interval]"
        else:
            interval = f"{_num(self.difference)} [{_num(self.ci_low)}, {_num(self.ci_high)}]"
        row = {
            "claim": self.claim,
            "metric": metric,
            "A": f"{self.label_a}: {_mean_std_n(self.values_a)}",
            "B": f"{self.label_b}: {_mean_std_n(self.values_b)}",
            "difference A−B [95% CI]": interval,
            "verdict": self.verdict_label,
            "notes": "; ".join(self.notes),
            "shared_with": self.shared_with,
        }
        if self.confidence != 0.95:
            row[f"difference A−B [{self.confidence:.0%} CI]"] = row.pop("difference A−B [95% CI]")
        if full:
            row.update(
                metric_name=self.metric, scope=self.scope, better=self.better, label_a=self.label_a, label_b=self.label_b,
                n_a=self.n_a, n_b=self.n_b, mean_a=self.mean_a, std_a=self.std_a, mean_b=self.mean_b, std_b=self.std_b,
                difference=self.difference, ci_low=self.ci_low, ci_high=self.ci_high, df=self.df,
                effect_size_hedges_g=self.effect_size, interval_method=self.interval_method, confidence=self.confidence,
                verdict_only=self.verdict, reason=self.reason,
                values_a=" ".join(_num(v) for v in self.values_a), values_b=" ".join(_num(v) for v in self.values_b),
            )
        return row


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
    shared_with: str = "",
    notes: Iterable[str] = (),
    confidence: float = 0.95,
) -> ClaimResult:
    """Test the claim "group A is better than group B on ``metric``" from per-seed values.

    Args:
        claim: the sentence being tested (shown verbatim).
        a, b: one final value per seed for each group (NaNs are an error: drop failed runs first).
        metric: the metric's name (e.g. ``"l1_mean_visited"``).
        better: ``"lower"`` (claims mean A < mean B) or ``"higher"`` (claims mean A > mean B).
        label_a, label_b: group names for the table (e.g. method names).
        scope: where the comparison holds (e.g. ``"H=16"``), appended to the metric column.
        bounds: ``(lowest, highest)`` values the metric can take (either may be None); all runs of
            both groups at one bound → *inconclusive (saturated)*.
        worst: the value of a run that never left its initial/worst value; a group whose seeds sit
            there is labelled in the notes.
        stuck_a, stuck_b: one bool per seed, True for a run that never left its initial value
            (from its history); labelled like ``worst``.
        shared_with: where else these same runs are counted (e.g. ``"notebook 03"``).
        notes: extra notes to carry.
        confidence: level of the interval (default 0.95).

    Returns:
        A :class:`ClaimResult`; see the module docstring for the statistic and the verdict rules.
    """
    if better not in BETTER:
        raise ValueError(f"better must be one of {BETTER}, got {better!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    values_a, values_b = _values(a, "a"), _values(b, "b")
    sign = -1.0 if better == "lower" else 1.0  # claimed direction of mean_a − mean_b
    diff = float(values_a.mean() - values_b.mean())
    notes = list(notes)
    ci_low = ci_high = df = math.nan
    g = _hedges_g(values_a, values_b)
    reason, method = "", NO_INTERVAL

    for label, vals, stuck in ((label_a, values_a, stuck_a), (label_b, values_b, stuck_b)):
        note = _stuck_note(label, vals, worst, stuck)
        if note:
            notes.append(note)

    if _saturated(values_a, values_b, bounds):
        verdict, reason = INCONCLUSIVE, "saturated"
        level = values_a[0]
        notes.append(f"every run of both groups is at the bound {_num(level)}")
    elif len(values_a) < 2 or len(values_b) < 2:
        verdict = INCONCLUSIVE
        reason = ", ".join(f"n={len(v)} in {lab}" for lab, v in ((label_a, values_a), (label_b, values_b)) if len(v) < 2)
        notes.append("fewer than 2 seeds: no interval over seeds")
    else:
        var_a, var_b = values_a.var(ddof=1) / len(values_a), values_b.var(ddof=1) / len(values_b)
        se = math.sqrt(var_a + var_b)
        if se > 0:
            method = WELCH
            df = (var_a + var_b) ** 2 / (var_a**2 / (len(values_a) - 1) + var_b**2 / (len(values_b) - 1))
            half = t_quantile(1 - (1 - confidence) / 2, df) * se
            ci_low, ci_high = diff - half, diff + half
            if sign * ci_low > 0 and sign * ci_high > 0:
                verdict = SUPPORTED
            elif sign * ci_low < 0 and sign * ci_high < 0:
                verdict = CONTRADICTED
            else:
                verdict = INCONCLUSIVE
        elif diff == 0:
            verdict, reason = INCONCLUSIVE, "identical values"
        else:
            method = PERMUTATION
            p_one_sided = 1.0 / math.comb(len(values_a) + len(values_b), len(values_a))
            notes.append(f"no spread within either group: exact permutation p = {p_one_sided:.3g} (one-sided)")
            if p_one_sided >= (1 - confidence) / 2:
                verdict, reason = INCONCLUSIVE, "too few seeds for complete separation to count"
            else:
                verdict = SUPPORTED if sign * diff > 0 else CONTRADICTED
    return ClaimResult(
        claim=claim, metric=metric, better=better, label_a=label_a, label_b=label_b,
        values_a=tuple(float(v) for v in values_a), values_b=tuple(float(v) for v in values_b),
        difference=diff, ci_low=float(ci_low), ci_high=float(ci_high), df=float(df), effect_size=g,
        verdict=verdict, interval_method=method, confidence=confidence, reason=reason, notes=tuple(notes),
        scope=scope, shared_with=shared_with,
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
    from dataclasses import replace

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


def claims_table(results: Iterable[ClaimResult], full: bool = False) -> pd.DataFrame:
    """One row per result: the display columns (:data:`DISPLAY_COLUMNS`), or every number with
    ``full=True`` (per-seed values, means, stds, n, difference, interval, df, Hedges' g, ...)."""
    rows = [r.row(full=full) for r in results]
    if not rows:
        return pd.DataFrame(columns=list(DISPLAY_COLUMNS))
    return pd.DataFrame(rows)


def verdict_counts(results: Iterable[ClaimResult]) -> dict[str, int]:
    """How many results have each verdict (every verdict listed, zeros included)."""
    counts = {v: 0 for v in VERDICTS}
    for r in results:
        counts[r.verdict] += 1
    return counts


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


def _stuck_note(label: str, values: np.ndarray, worst: float | None, stuck: Sequence[bool] | None) -> str:
    flags = np.zeros(len(values), dtype=bool)
    if worst is not None:
        flags |= _close(values, worst)
    if stuck is not None:
        stuck = np.asarray(list(stuck), dtype=bool)
        if stuck.shape != flags.shape:
            raise ValueError(f"stuck flags for {label!r} must have one bool per seed ({len(values)}), got {stuck.size}")
        flags |= stuck
    if not flags.any():
        return ""
    at = f" ({_num(worst)})" if worst is not None else ""
    return f"{label} stuck at initial value{at} in {int(flags.sum())}/{len(values)} seeds"


def _num(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "nan"
    if x == 0:
        return "0"
    if abs(x) >= 1e4 or abs(x) < 1e-3:
        return f"{x:.3g}"
    return f"{x:.4g}"


def _mean_std_n(values: Sequence[float]) -> str:
    std = _std(values)
    spread = f" ± {_num(std)}" if not math.isnan(std) else ""
    return f"{_num(float(np.mean(values)))}{spread} (n={len(values)})"
