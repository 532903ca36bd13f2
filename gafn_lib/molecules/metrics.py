"""Pure evaluation functions for generated molecules (paper §4, Table of molecule results).

- :func:`top_k_mean_reward`: mean reward of the top-``k`` *unique* molecules (paper: k = 10).
- :func:`count_modes`: unique molecules with proxy score > 7.5; optionally *Tanimoto-separated*
  modes: visiting the candidates by decreasing score, a molecule is a new mode only if its
  similarity to every mode already kept is below ``max_similarity``.
- :func:`mean_pairwise_tanimoto`: mean Tanimoto similarity over the ``k(k-1)/2`` pairs of the
  top-``k`` unique molecules (Morgan radius 2, 2048 bits); lower is more diverse.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

MODE_SCORE_THRESHOLD = 7.5
_MORGAN = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)


def unique_best(smiles: Sequence[str], values: Sequence[float]) -> dict[str, float]:
    """Best value per unique SMILES (SMILES are compared as given; pass canonical SMILES)."""
    if len(smiles) != len(values):
        raise ValueError(f"got {len(smiles)} SMILES and {len(values)} values")
    best: dict[str, float] = {}
    for s, v in zip(smiles, values):
        v = float(v)
        if s not in best or v > best[s]:
            best[s] = v
    return best


def top_k_unique(smiles: Sequence[str], values: Sequence[float], k: int = 10) -> list[tuple[str, float]]:
    """The ``k`` unique SMILES with the highest values, best first (ties broken by SMILES)."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    ranked = sorted(unique_best(smiles, values).items(), key=lambda kv: (-kv[1], kv[0]))
    return ranked[:k]


def top_k_mean_reward(smiles: Sequence[str], rewards: Sequence[float], k: int = 10) -> float:
    """Mean reward of the top-``k`` unique molecules (mean over fewer if fewer are known; nan if none)."""
    top = top_k_unique(smiles, rewards, k)
    return float(np.mean([v for _, v in top])) if top else float("nan")


def fingerprint(smiles: str) -> DataStructs.ExplicitBitVect:
    """Morgan fingerprint (radius 2, 2048 bits) of a SMILES; ``ValueError`` if it does not parse."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"invalid SMILES {smiles!r}")
    return _MORGAN.GetFingerprint(mol)


def count_modes(
    smiles: Sequence[str],
    scores: Sequence[float],
    threshold: float = MODE_SCORE_THRESHOLD,
    max_similarity: float | None = None,
) -> int:
    """Number of unique molecules with ``score > threshold``.

    With ``max_similarity`` (e.g. 0.7), candidates are visited by decreasing score and one counts
    as a new mode only if its Tanimoto similarity to every mode kept so far is ``< max_similarity``.
    """
    candidates = sorted(
        ((s, v) for s, v in unique_best(smiles, scores).items() if v > threshold), key=lambda kv: (-kv[1], kv[0])
    )
    if max_similarity is None:
        return len(candidates)
    kept: list[DataStructs.ExplicitBitVect] = []
    for s, _ in candidates:
        fp = fingerprint(s)
        if not kept or max(DataStructs.BulkTanimotoSimilarity(fp, kept)) < max_similarity:
            kept.append(fp)
    return len(kept)


def mean_pairwise_tanimoto(smiles: Sequence[str]) -> float:
    """Mean Tanimoto similarity over all unordered pairs of the given molecules (nan if < 2)."""
    fps = [fingerprint(s) for s in smiles]
    if len(fps) < 2:
        return float("nan")
    sims = [sim for i in range(1, len(fps)) for sim in DataStructs.BulkTanimotoSimilarity(fps[i], fps[:i])]
    return float(np.mean(sims))


def top_k_tanimoto(smiles: Sequence[str], values: Sequence[float], k: int = 10) -> float:
    """Mean pairwise Tanimoto similarity of the top-``k`` unique molecules ranked by ``values``."""
    return mean_pairwise_tanimoto([s for s, _ in top_k_unique(smiles, values, k)])
