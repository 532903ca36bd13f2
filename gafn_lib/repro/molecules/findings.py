"""Notebook 06's results in plain sentences, computed from its tables (never written by hand).

Two kinds of sentence:

- **seed by seed** (from :func:`~gafn_lib.repro.molecules.sampler.hit_rate_vs_random` and
  :func:`~gafn_lib.repro.molecules.sampler.gafn_vs_gflownets`): each seed's pooled two-proportion
  z of the late-training hit rate (:func:`~gafn_lib.repro.molecules.decisive.two_proportion_z`)
  puts the seed *above* the reference when z > :data:`~gafn_lib.repro.molecules.decisive.Z_CRITICAL`
  (one-sided 5 %), *below* when z < −Z_CRITICAL, *level* otherwise. A sentence says "in every
  seed" only when all seeds agree, and otherwise lists the seeds on each side: **no verdict**;
- **ranks** (from :func:`~gafn_lib.repro.molecules.sampler.summary_table`): where GAFlowNet stands
  among the methods on the paper's metrics, by the mean over seeds (best first: higher top-10
  reward, more separated modes, a lower top-10 Tanimoto similarity, a higher late hit rate). A
  rank is a description of these runs, not a test: the claims table tests the pairs.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from gafn_lib.repro.molecules.configs import GAFN
from gafn_lib.repro.molecules.decisive import Z_CRITICAL

#: The summary's columns GAFlowNet is ranked on: (column stem, what it is, True when higher is better).
RANKED_METRICS = (
    ("top10_reward", "mean top-10 reward", True),
    ("n_modes_separated", "separated modes (score > 7.5, Tanimoto < 0.7)", True),
    ("top10_tanimoto", "top-10 diversity (lower Tanimoto similarity)", False),
    ("tail_hit_rate", "late-training hit rate", True),
)


def seed_values(cell: str, what: str = "z") -> list[float]:
    """The per-seed numbers of a seed-by-seed table cell (``"+10.9; -5.6"``); ``ValueError`` naming
    ``what`` when the cell holds something else."""
    try:
        return [float(part) for part in str(cell).split(";")]
    except ValueError:
        raise ValueError(f"{what} must be ';'-separated numbers, one per seed, got {cell!r}") from None


def seed_sides(seeds: Sequence[int], zs: Sequence[float]) -> dict[str, list[int]]:
    """The seeds above (z > Z_CRITICAL), below (z < −Z_CRITICAL) and level with the reference."""
    if len(seeds) != len(zs):
        raise ValueError(f"seeds and z must have one value per seed, got {len(seeds)} seeds and {len(zs)} z")
    sides: dict[str, list[int]] = {"above": [], "below": [], "level": []}
    for seed, z in zip(seeds, zs):
        sides["above" if z > Z_CRITICAL else "below" if z < -Z_CRITICAL else "level"].append(int(seed))
    return sides


def _plain(x: float, digits: int) -> str:
    """``x`` to ``digits`` significant digits without an exponent (867 ± 290, not 8.67e+02 ± 2.9e+02)."""
    return np.format_float_positional(float(f"{x:.{digits}g}"), trim="-")


def _seed_list(seeds: list[int]) -> str:
    return ("seed " if len(seeds) == 1 else "seeds ") + ", ".join(map(str, seeds))


def comparison_sentence(method: str, reference: str, seeds: Sequence[int], zs: Sequence[float], verdict: str | None = None) -> str:
    """One sentence: ``method``'s late-training hit rate against ``reference``'s, seed by seed.

    ``verdict``: the table's own verdict (``beats …`` / ``worse than …`` / ``inconclusive``),
    computed from the unrounded z; when given it decides the "every seed" sentences, so a z shown
    rounded next to the threshold (1.6449 as +1.6) cannot contradict the table."""
    sides = seed_sides(seeds, zs)
    n = len(zs)
    if verdict is not None:
        one_sided = "above" if verdict.startswith("beats") else "below" if verdict.startswith("worse than") else None
        sides = {"above": [], "below": [], "level": [], one_sided: list(seeds)} if one_sided else sides
    shown = ", ".join(f"{z:+.1f}" for z in zs)
    if len(sides["above"]) == n:
        return f"{method}'s sampler hits more often than {reference}'s late in training in every seed ({n} of {n}; z = {shown})."
    if len(sides["below"]) == n:
        return f"{method}'s sampler hits less often than {reference}'s late in training in every seed ({n} of {n}; z = {shown})."
    parts = [f"{word} in {_seed_list(sides[side])}" for side, word in (("above", "more often"), ("below", "less often"),
                                                                         ("level", "no difference"))
             if sides[side]]
    return f"{method} against {reference}, late-training hit rate: no verdict ({'; '.join(parts)}; z = {shown})."


def table_sentences(table: pd.DataFrame | None, reference_column: str | None = None, reference: str | None = None) -> list[str]:
    """One :func:`comparison_sentence` per row of a seed-by-seed table (``method``, ``seeds``, ``z``);
    the reference is the row's ``reference_column`` or the fixed ``reference``."""
    if table is None or table.empty:
        return []
    sentences = []
    for _, row in table.iterrows():
        against = row[reference_column] if reference_column else reference
        seeds = [int(s) for s in seed_values(row["seeds"].replace(",", ";"), "seeds")]
        sentences.append(comparison_sentence(row["method"], against, seeds, seed_values(row["z"]), row.get("verdict")))
    return sentences


def rank_sentences(summary: pd.DataFrame | None, method: str = GAFN) -> list[str]:
    """Where ``method`` ranks among the summary's methods on each of :data:`RANKED_METRICS` it has,
    by the mean over seeds, with the best method's value when it is not ``method``."""
    if summary is None or summary.empty or method not in set(summary["method"]):
        return []
    sentences = []
    for stem, label, higher in RANKED_METRICS:
        mean, std = f"{stem}_mean", f"{stem}_std"
        if mean not in summary.columns or summary[mean].isna().all():
            continue
        ordered = summary.dropna(subset=[mean]).sort_values(mean, ascending=not higher, kind="stable").reset_index(drop=True)
        if method not in set(ordered["method"]):  # no value of its own for this metric: no rank
            continue
        rank = int(ordered.index[ordered["method"] == method][0]) + 1

        def value(row) -> str:
            spread = row.get(std)
            return f"{_plain(row[mean], 3)}" + ("" if spread is None or pd.isna(spread) else f" ± {_plain(spread, 2)}")

        mine = ordered.iloc[rank - 1]
        best = ordered.iloc[0]
        tail = "" if rank == 1 else f"; best: {best['method']}, {value(best)}"
        sentences.append(f"{method} ranks {rank} of {len(ordered)} on {label}: {value(mine)}{tail}.")
    return sentences


def plain_findings(vs_random: pd.DataFrame | None, vs_gflownets: pd.DataFrame | None, summary: pd.DataFrame | None) -> list[str]:
    """Notebook 06's findings in sentences: each learner against random search, GAFlowNet against
    each GFlowNet (seed by seed), then GAFlowNet's ranks on the paper's metrics. Any table may be
    None or empty (its sentences are left out)."""
    return [
        *table_sentences(vs_random, reference="random search"),
        *table_sentences(vs_gflownets, reference_column="reference"),
        *rank_sentences(summary),
    ]
