"""The molecules a molecule run has generated and its metric row (every molecule trainer's tracker)."""

from __future__ import annotations

import heapq
import math

import numpy as np

from gafn_lib.molecules.metrics import MODE_SCORE_THRESHOLD, mean_pairwise_tanimoto

#: Width of the fixed-width unicode array of SMILES in :meth:`MolMetricsTracker.artifacts`.
SMILES_WIDTH = 200


class MolMetricsTracker:
    """Every unique molecule generated so far with its proxy score and reward (plain containers)."""

    def __init__(self, top_k: int = 10) -> None:
        self.top_k = top_k
        self.molecules: dict[str, tuple[float, float]] = {}  # SMILES → (score, reward)
        self.n_generated = 0

    def record(self, smiles: list[str], scores: np.ndarray, rewards: np.ndarray) -> None:
        self.n_generated += len(smiles)
        for s, sc, r in zip(smiles, scores, rewards):
            self.molecules[s] = (float(sc), float(r))

    def row(self) -> dict[str, float]:
        top = heapq.nlargest(self.top_k, self.molecules.items(), key=lambda kv: (kv[1][1], kv[1][0], kv[0]))  # reward, then score
        return {
            "top10_reward": float(np.mean([v[1] for _, v in top])) if top else math.nan,
            "top10_score": float(np.mean([v[0] for _, v in top])) if top else math.nan,
            "n_modes": sum(1 for sc, _ in self.molecules.values() if sc > MODE_SCORE_THRESHOLD),
            "top10_tanimoto": mean_pairwise_tanimoto([s for s, _ in top]),
            "molecules_generated": self.n_generated,
            "unique_molecules": len(self.molecules),
        }

    def artifacts(self, k: int = 100) -> dict[str, np.ndarray]:
        """The ``k`` best unique molecules as arrays (no pickles), best first (reward, then score, then
        SMILES): ``top_smiles`` (fixed-width unicode), ``top_scores`` and ``top_rewards`` (float64)."""
        ranked = sorted(self.molecules.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))[:k]
        return {
            "top_smiles": np.array([s for s, _ in ranked], dtype=f"<U{SMILES_WIDTH}"),
            "top_scores": np.array([v[0] for _, v in ranked], dtype=np.float64),
            "top_rewards": np.array([v[1] for _, v in ranked], dtype=np.float64),
        }

    def state_dict(self) -> dict:
        return {"smiles": list(self.molecules), "values": [list(v) for v in self.molecules.values()], "n": self.n_generated}

    def load_state_dict(self, state: dict) -> None:
        self.molecules = {s: (float(v[0]), float(v[1])) for s, v in zip(state["smiles"], state["values"])}
        self.n_generated = int(state["n"])
