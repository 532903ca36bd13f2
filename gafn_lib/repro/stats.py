"""Exact, numpy-only statistics behind the claims rule (:mod:`gafn_lib.repro.claims`).

Nothing here is approximate except :func:`logrank` (a normal approximation, reported beside the
exact verdict, never deciding it).

- :func:`mann_whitney_counts` — the exact null distribution of the Mann–Whitney count
  ``U = #{(i, j): a_i > b_j}`` for ``n_A`` and ``n_B`` untied values (Gaussian binomial
  coefficients, in integers).
- :func:`upper_tail` / :func:`critical_count` — its tail probabilities and the smallest count that
  reaches a one-sided level ``alpha``.
- :func:`pair_counts` — how many pairs are strictly ordered each way (ties counted for neither).
- :func:`shift_interval` — the Hodges–Lehmann estimate (median of the pairwise differences) and
  the distribution-free (Moses) interval from the same null distribution, so that the interval
  excludes a value exactly when the one-sided tests reject it.
- :func:`min_seeds` / :func:`smallest_p` — the fewest seeds per group that can reach a level at all.
- :func:`kaplan_meier`, :func:`km_median`, :func:`logrank`, :func:`definitely_earlier`,
  :func:`censored_times` — time-to-event with right censoring.
- :func:`near_initial` — the "barely left its initial value" flag.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

#: Relative tolerance when comparing a p-value with its level: the level's float representation
#: (``0.025`` is not exact in binary) must not decide a boundary case such as ``p = 1/40``.
P_TOLERANCE = 1e-9


# ------------------------------------------------------------------------ Mann–Whitney, exact
@lru_cache(maxsize=256)
def _counts(n_a: int, n_b: int) -> tuple[int, ...]:
    # [n_a + n_b choose n_a]_q = prod_{j=1..n_a} (1 - q^(n_b + j)) / (1 - q^j); every partial product
    # is itself a polynomial ([n_b + j choose j]_q), so each division is exact.
    poly = np.array([1], dtype=object)
    for j in range(1, n_a + 1):
        grown = np.zeros(len(poly) + n_b + j, dtype=object)
        grown[: len(poly)] += poly
        grown[n_b + j :] -= poly
        for r in range(j):  # divide by (1 - q^j): Q[u] = P[u] + Q[u - j]
            grown[r::j] = np.cumsum(grown[r::j])
        poly = grown[: j * n_b + 1]
    return tuple(int(c) for c in poly)


def mann_whitney_counts(n_a: int, n_b: int) -> tuple[int, ...]:
    """Exact null distribution of ``U = #{(i, j): a_i > b_j}``: entry ``u`` is the number of the
    ``C(n_a + n_b, n_a)`` equally likely assignments of ``n_a + n_b`` untied values to the groups that
    give ``U = u`` (``u = 0 .. n_a·n_b``). Integers, exact for any size.

    Raises:
        ValueError: naming ``n_a``/``n_b`` if either is below 1.
    """
    for name, n in (("n_a", n_a), ("n_b", n_b)):
        if int(n) != n or n < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {n!r}")
    return _counts(int(n_a), int(n_b))


def upper_tail(u: int, n_a: int, n_b: int) -> float:
    """``P(U >= u)`` under the null (untied values): the exact one-sided p-value of a count ``u``."""
    counts = mann_whitney_counts(n_a, n_b)
    u = max(int(math.ceil(u)), 0)
    if u > len(counts) - 1:
        return 0.0
    return sum(counts[u:]) / math.comb(n_a + n_b, n_a)


def smallest_p(n_a: int, n_b: int) -> float:
    """The smallest one-sided p-value ``n_a`` vs ``n_b`` seeds can give: complete separation,
    ``1 / C(n_a + n_b, n_a)`` (3 vs 3: 0.05; 4 vs 4: 0.0143; 5 vs 5: 0.00397)."""
    mann_whitney_counts(n_a, n_b)  # validates
    return 1.0 / math.comb(n_a + n_b, n_a)


def reaches(p: float, alpha: float) -> bool:
    """``p <= alpha``, with :data:`P_TOLERANCE` so that a float level does not decide a tie."""
    return p <= alpha * (1 + P_TOLERANCE)


def decidable(n_a: int, n_b: int, alpha: float) -> bool:
    """Whether ``n_a`` vs ``n_b`` seeds can reach one-sided level ``alpha`` at all."""
    return reaches(smallest_p(n_a, n_b), alpha)


def min_seeds(alpha: float) -> int:
    """The fewest seeds per group (equal groups) at which complete separation reaches one-sided
    level ``alpha``: 4 at ``alpha = 0.025`` (1/70), 3 at 0.05 (1/20), 5 at 0.005 (1/252).

    Raises:
        ValueError: naming ``alpha`` if it is not in (0, 1).
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    n = 1
    while not decidable(n, n, alpha):
        n += 1
    return n


def critical_count(n_a: int, n_b: int, alpha: float) -> int | None:
    """The smallest count ``u`` with ``P(U >= u) <= alpha`` (one-sided), or None when even
    ``u = n_a·n_b`` (complete separation) does not reach ``alpha``."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    counts = mann_whitney_counts(n_a, n_b)
    total = math.comb(n_a + n_b, n_a)
    tail = 0
    critical = None
    for u in range(len(counts) - 1, -1, -1):
        tail += counts[u]
        if reaches(tail / total, alpha):
            critical = u
        else:
            break
    return critical


def pair_counts(a: Sequence[float], b: Sequence[float]) -> tuple[int, int]:
    """``(#{(i, j): a_i > b_j}, #{(i, j): a_i < b_j})``: pairs strictly ordered each way. A tied pair
    counts for neither side (so a tie always counts against whichever direction is tested)."""
    a, b = np.asarray(a, dtype=float)[:, None], np.asarray(b, dtype=float)[None, :]
    return int((a > b).sum()), int((a < b).sum())


@dataclass(frozen=True)
class ShiftInterval:
    """The Hodges–Lehmann shift of A relative to B with its distribution-free interval.

    ``estimate`` is the median of the ``n_A·n_B`` pairwise differences ``a_i − b_j`` (or ratios
    ``a_i / b_j`` with ``ratio=True``); ``low``/``high`` are order statistics of those same pairwise
    values (NaN when the seeds cannot reach the level at all); ``level`` is the interval's exact
    two-sided coverage for continuous data (at least the requested confidence).
    """

    estimate: float
    low: float
    high: float
    level: float
    ratio: bool = False


def shift_interval(a: Sequence[float], b: Sequence[float], confidence: float = 0.95, ratio: bool = False) -> ShiftInterval:
    """Hodges–Lehmann estimate and Moses interval of the shift ``A − B`` (or the ratio ``A / B``).

    With ``k = critical_count(n_A, n_B, (1 − confidence)/2)`` and the ``N = n_A·n_B`` sorted pairwise
    differences ``d_(1) <= .. <= d_(N)``, the interval is ``[d_(N−k+1), d_(k)]``. Its lower end is above
    a value ``δ`` exactly when ``#{d > δ} >= k``, i.e. when the one-sided Mann–Whitney test of
    "shift <= δ" rejects at ``(1 − confidence)/2``; likewise the upper end. A group without spread
    is no special case: the interval is made of observed differences (all equal when neither group
    has spread).

    Raises:
        ValueError: naming ``b`` when ``ratio=True`` and a value of ``b`` is not positive.
    """
    a_arr, b_arr = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if ratio and (b_arr <= 0).any():
        raise ValueError("b must be positive for a ratio interval")
    pairs = (a_arr[:, None] / b_arr[None, :]) if ratio else (a_arr[:, None] - b_arr[None, :])
    d = np.sort(pairs.ravel())
    estimate = float(np.median(d))
    alpha = (1 - confidence) / 2
    k = critical_count(len(a_arr), len(b_arr), alpha)
    if k is None:
        return ShiftInterval(estimate, math.nan, math.nan, math.nan, ratio)
    n = d.size
    level = 1 - 2 * upper_tail(k, len(a_arr), len(b_arr))
    return ShiftInterval(estimate, float(d[n - k]), float(d[k - 1]), level, ratio)


# ---------------------------------------------------------------------------- time to event
def _events(times: Sequence[float], events: Sequence[bool], name: str) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(list(times), dtype=float).ravel()
    e = np.asarray(list(events), dtype=bool).ravel()
    if t.size == 0:
        raise ValueError(f"{name} has no runs")
    if e.shape != t.shape:
        raise ValueError(f"{name}: one event flag per time needed ({t.size}), got {e.size}")
    if np.isnan(t).any() or (t < 0).any():
        raise ValueError(f"{name} has NaN or negative times")
    return t, e


def kaplan_meier(times: Sequence[float], events: Sequence[bool]) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan–Meier survival ``S(t)`` just after each distinct event time: ``(event_times, S)``.
    A run censored at ``t`` is at risk at every event time ``<= t``."""
    t, e = _events(times, events, "times")
    grid = np.unique(t[e])
    surv, s = [], 1.0
    for u in grid:
        at_risk = int((t >= u).sum())
        died = int(((t == u) & e).sum())
        s *= 1 - died / at_risk
        surv.append(s)
    return grid, np.asarray(surv, dtype=float)


def km_median(times: Sequence[float], events: Sequence[bool]) -> float:
    """Kaplan–Meier median: the first event time at which ``S(t) <= 1/2``; NaN when it is never
    reached (more than half the runs censored before reaching it)."""
    grid, surv = kaplan_meier(times, events)
    below = np.nonzero(surv <= 0.5 + 1e-12)[0]
    return float(grid[below[0]]) if below.size else math.nan


@dataclass(frozen=True)
class LogRank:
    """The two-sample log-rank statistic for group A: observed and expected events in A, the
    hypergeometric variance, ``z = (observed − expected)/sqrt(variance)`` (positive when A's events
    come earlier than B's) and its normal-approximation one-sided p-value ``P(Z >= z)``."""

    observed_a: float
    expected_a: float
    variance: float
    z: float
    p_a_earlier: float

    @property
    def chi2(self) -> float:
        """The usual chi-square (1 df) form, ``z²``."""
        return self.z * self.z


def logrank(times_a: Sequence[float], events_a: Sequence[bool], times_b: Sequence[float], events_b: Sequence[bool]) -> LogRank:
    """Log-rank test of A against B. At each distinct event time ``t_k`` of the pooled runs, with
    ``n_k`` runs at risk (``n_Ak`` of A) and ``d_k`` events (``d_Ak`` of A)::

        E_A = Σ d_k n_Ak / n_k,   V = Σ d_k (n_Ak/n_k)(1 − n_Ak/n_k)(n_k − d_k)/(n_k − 1)

    and ``z = (O_A − E_A)/√V``. A normal approximation: reported, never deciding a verdict."""
    ta, ea = _events(times_a, events_a, "times_a")
    tb, eb = _events(times_b, events_b, "times_b")
    t, e = np.concatenate([ta, tb]), np.concatenate([ea, eb])
    in_a = np.concatenate([np.ones(ta.size, bool), np.zeros(tb.size, bool)])
    observed = expected = variance = 0.0
    for u in np.unique(t[e]):
        risk = t >= u
        n, n_a = int(risk.sum()), int((risk & in_a).sum())
        d = int(((t == u) & e).sum())
        d_a = int(((t == u) & e & in_a).sum())
        observed += d_a
        expected += d * n_a / n
        if n > 1:
            variance += d * (n_a / n) * (1 - n_a / n) * (n - d) / (n - 1)
    if variance > 0:
        z = (observed - expected) / math.sqrt(variance)
        p = 0.5 * math.erfc(z / math.sqrt(2))
    else:
        z, p = math.nan, math.nan
    return LogRank(observed, expected, variance, z, p)


def censored_times(times: Sequence[float], budgets: Sequence[float] | float) -> tuple[np.ndarray, np.ndarray]:
    """From "time of the event, NaN if it never happened" and each run's budget (what it had spent
    when it ended) to ``(times, events)``: a NaN becomes its run's budget with ``event = False``.

    Raises:
        ValueError: naming ``budgets`` if its length does not match or a censored run has no budget,
            ``times`` if an event time exceeds its run's budget.
    """
    t = np.asarray(list(times), dtype=float).ravel()
    budget = np.broadcast_to(np.asarray(budgets, dtype=float).ravel(), t.shape) if np.size(budgets) in (1, t.size) else None
    if budget is None:
        raise ValueError(f"budgets must be one value or one per run ({t.size}), got {np.size(budgets)}")
    events = ~np.isnan(t)
    if np.isnan(budget[~events]).any():
        raise ValueError("budgets: a censored run (NaN time) needs a budget")
    if (t[events] > budget[events]).any():
        raise ValueError("times: an event time exceeds its run's budget")
    return np.where(events, t, budget), events


def definitely_earlier(times_a: Sequence[float], events_a: Sequence[bool], times_b: Sequence[float], events_b: Sequence[bool]) -> int:
    """Pairs ``(i in A, j in B)`` where run ``i`` certainly reached the event before run ``j``: ``i``
    had its event at ``t_i`` and either ``j`` had its event later (``t_i < t_j``) or ``j`` was
    censored at ``c_j >= t_i`` (its true time is beyond ``c_j``). Tied events and pairs that censoring
    leaves undetermined count for neither side (Gehan's scoring, ties against the tested side)."""
    ta, ea = _events(times_a, events_a, "times_a")
    tb, eb = _events(times_b, events_b, "times_b")
    ti, ei = ta[:, None], ea[:, None]
    tj, ej = tb[None, :], eb[None, :]
    return int((ei & ((ti < tj) | (~ej & (ti <= tj)))).sum())


# -------------------------------------------------------------------------------- stuck runs
#: Default tolerance of :func:`near_initial`: a final value within 5 % of the initial one.
STUCK_TOLERANCE = 0.05


def near_initial(values: Sequence[float], initial: float | Sequence[float], tolerance: float = STUCK_TOLERANCE) -> np.ndarray:
    """One bool per value: True where the final value barely left its initial value,
    ``|final − initial| <= tolerance·|initial|`` (so 3 % below the initial value is flagged at the
    default 5 %). An initial value of 0 flags only finals equal to 0. ``initial`` is one value for
    all runs or one per run.

    Raises:
        ValueError: naming ``tolerance`` if negative, ``initial`` if its length does not match.
    """
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    v = np.asarray(list(values), dtype=float).ravel()
    init = np.asarray(initial, dtype=float).ravel()
    if init.size not in (1, v.size):
        raise ValueError(f"initial must be one value or one per run ({v.size}), got {init.size}")
    return np.abs(v - init) <= tolerance * np.abs(init) + 1e-12 * np.maximum(1.0, np.abs(init))
