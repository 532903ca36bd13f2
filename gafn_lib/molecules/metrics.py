"""Pure evaluation functions for generated molecules (paper §4, Table of molecule results).

The metric rows of a run (:class:`gafn_lib.molecules.tracking.MolMetricsTracker`) use them:
``n_modes`` counts the unique molecules with proxy score > :data:`MODE_SCORE_THRESHOLD` (7.5), and
``top10_tanimoto`` is :func:`mean_pairwise_tanimoto` of the top-10 unique molecules: mean Tanimoto
similarity over their ``k(k-1)/2`` pairs (Morgan radius 2, 2048 bits); lower is more diverse.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

MODE_SCORE_THRESHOLD = 7.5
_MORGAN = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)


def fingerprint(smiles: str) -> DataStructs.ExplicitBitVect:
    """Morgan fingerprint (radius 2, 2048 bits) of a SMILES; ``ValueError`` if it does not parse."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"invalid SMILES {smiles!r}")
    return _MORGAN.GetFingerprint(mol)


def mean_pairwise_tanimoto(smiles: Sequence[str]) -> float:
    """Mean Tanimoto similarity over all unordered pairs of the given molecules (nan if < 2)."""
    fps = [fingerprint(s) for s in smiles]
    if len(fps) < 2:
        return float("nan")
    sims = [sim for i in range(1, len(fps)) for sim in DataStructs.BulkTanimotoSimilarity(fps[i], fps[:i])]
    return float(np.mean(sims))
