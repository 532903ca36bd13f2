"""The paper's molecule claims (§4) as pairwise tests over seeds, and each learner's late-training
hit rate against random search."""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from gafn_lib.repro import experiments as ex
from gafn_lib.repro.molecules.configs import GAFN, GFN, GFN_RELEASE_NO_C, MARS, PPO, RANDOM, RELEASE_PROFILE_METHODS

#: The molecule figure's metrics: (column, which direction is better, the metric's bounds).
_REWARD = ("top10_reward", "higher", (0.0, None))  # (score/8)^10 exceeds 1 above score 8
_SIMILARITY = ("top10_tanimoto", "lower", (0.0, 1.0))
_MODES = ("n_modes", "higher", (0.0, None))
_MODES_SEPARATED = ("n_modes_separated", "higher", (0.0, None))
#: Metric name of the late-training hit rate (one value per run: :func:`gafn_lib.repro.molecules.sampler.tail_table`).
TAIL_HIT_RATE = "tail_hit_rate"


def molecule_claims(table: pd.DataFrame, scope: str = "", methods: Sequence[str] = RELEASE_PROFILE_METHODS) -> list:
    """The paper's molecule claims (§4) as pairwise tests with statistics over seeds.

    Each row is :func:`gafn_lib.repro.claims.compare` on the final metrics (one value per seed):
    the shift ``A − B`` (Hodges–Lehmann) with its 95 % interval over seeds and a verdict from the
    exact Mann–Whitney test, supported / inconclusive / contradicted (at least 4 seeds per method to
    decide). A claim about several methods ("MARS is the worst of the four") is one row per pair.
    Random search (uniform random actions) is the floor: one row per learner on the top-10 reward,
    and one per learner on the *late-training hit rate* (:data:`TAIL_HIT_RATE`, one value per seed:
    the share of the molecules of the last third of the run scoring above the reward threshold,
    :func:`gafn_lib.repro.molecules.sampler.tail_table`) when the runs have window columns. The
    modes claim is tested on the raw count and, when the runs have it, on the separated count
    (:func:`gafn_lib.repro.claims.compare_metrics`: each row notes whether the other agrees).

    Several claims of the paper share a comparison (e.g. "GAFlowNet finds the best molecules"
    against MARS is "MARS does poorly" for the same pair): such rows are kept, so every claim reads
    whole, and marked with :func:`gafn_lib.repro.claims.mark_duplicates` (``duplicate_of`` names the
    first row of the same comparison); count them with ``verdict_counts(results, distinct=True)``.
    Methods not in ``table`` (or not in ``methods``) are skipped. ``scope`` (e.g. the reduced-reward
    label) is carried into the metric column.

    Every claim about "the GFlowNet" is one row per GFlowNet present: :data:`GFN` and, in the long and
    paper profiles, :data:`GFN_RELEASE_NO_C` (the release GFlowNet without ``log_reg_c``, which does
    not collapse), so "GAFlowNet beats GFlowNet" is also tested against the GFlowNet that can win.
    """
    from gafn_lib.repro import claims as cl
    from gafn_lib.repro.molecules.sampler import has_window_columns, tail_table

    final = ex.final_rows(table)
    present = [m for m in methods if m in set(final["method"])]
    tails = tail_table(table) if has_window_columns(table) else None
    separated = "n_modes_separated" in final.columns and final["n_modes_separated"].notna().all()

    def values(method: str, metric: str) -> list[float]:
        if metric == TAIL_HIT_RATE:
            return tails.loc[tails["method"] == method].sort_values("seed")["hit_rate"].astype(float).tolist()
        return final.loc[final["method"] == method].sort_values("seed")[metric].astype(float).tolist()

    def pair(claim: str, a: str, b: str, spec) -> "cl.ClaimResult | None":
        metric, better, bounds = spec
        if a not in present or b not in present:
            return None
        return cl.compare(claim, values(a, metric), values(b, metric), metric=metric, better=better,
                          label_a=a, label_b=b, scope=scope, bounds=bounds)

    def modes(claim: str, a: str, b: str) -> list:
        if a not in present or b not in present:
            return []
        if not separated:
            return [pair(claim, a, b, _MODES)]
        specs = (_MODES, _MODES_SEPARATED)
        return cl.compare_metrics(claim, {m: values(a, m) for m, _, _ in specs}, {m: values(b, m) for m, _, _ in specs},
                                  better="higher", bounds={m: bounds for m, _, bounds in specs}, label_a=a, label_b=b, scope=scope)

    gflownets = [g for g in (GFN, GFN_RELEASE_NO_C) if g in present]
    learners = [GAFN, *gflownets, PPO, MARS]
    rows = []
    rows += [pair(f"{m} beats random search (top-10 reward)", m, RANDOM, _REWARD) for m in learners]
    if tails is not None:
        rows += [pair(f"{m}'s sampler beats random search late in training (hit rate, last third of the molecules)", m, RANDOM,
                      (TAIL_HIT_RATE, "higher", (0.0, 1.0))) for m in learners]
    rows += [pair("MARS does poorly under the sparse reward (lower top-10 reward than every other learner)", m, MARS, _REWARD)
             for m in (GAFN, *gflownets, PPO)]
    rows += [pair("PPO finds better molecules than MARS (top-10 reward)", PPO, MARS, _REWARD)]
    rows += [pair("PPO and MARS produce highly similar molecules (higher top-10 Tanimoto than both GFlowNets)", a, b, (_SIMILARITY[0], "higher", _SIMILARITY[2]))
             for a in (PPO, MARS) for b in (*gflownets, GAFN)]
    rows += [pair("GFlowNet is diverse (lower top-10 Tanimoto than PPO and MARS)", g, b, _SIMILARITY) for g in gflownets for b in (PPO, MARS)]
    rows += [pair("GFlowNet is lower in quality than GAFlowNet (top-10 reward)", GAFN, g, _REWARD) for g in gflownets]
    rows += [pair("GAFlowNet finds the best molecules (highest top-10 reward)", GAFN, b, _REWARD) for b in (*gflownets, PPO, MARS, RANDOM)]
    rows += [pair("GAFlowNet's top molecules are the most diverse (lowest top-10 Tanimoto)", GAFN, b, _SIMILARITY)
             for b in (*gflownets, PPO, MARS, RANDOM)]
    for b in (*gflownets, PPO, MARS, RANDOM):
        rows += modes("GAFlowNet finds the most modes (score > 7.5)", GAFN, b)
    return cl.mark_duplicates([r for r in rows if r is not None])
