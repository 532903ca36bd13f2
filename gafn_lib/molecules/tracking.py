"""The molecules a molecule run has generated and its metric row (every molecule trainer's tracker).

A row (:meth:`MolMetricsTracker.row`, logged every ``log_every`` steps by every molecule trainer)
has two kinds of columns.

**Cumulative** (every molecule generated since step 0; unique molecules keyed by canonical SMILES):

- ``top10_reward``: mean reward ``R(x)`` (the config's transform, e.g. ``(s/8)^10``) of the top-k
  unique molecules, ranked by reward, then score, then SMILES (k = ``top_k``, 10).
- ``top10_score``: mean proxy score ``s`` of the same top-k.
- ``top10_score_norm``: mean of ``s / normaliser`` of the same top-k (normaliser = the reward
  transform's, 8): the base of the reward before its exponent, the unit of the GFlowNet molecule
  code's ``r2r`` (``(normscore / reward_norm) ** reward_exp``, GFNOrg/gflownet ``mols/gflownet.py``).
  Under the sparse reward it is ``top10_reward``'s ``(·)^(1/10)`` molecule by molecule, not of the mean.
- ``n_modes``: unique molecules with score > :data:`~gafn_lib.molecules.metrics.MODE_SCORE_THRESHOLD`
  (7.5), without separation (the paper's count).
- ``n_modes_separated``: the same molecules counted greedily in order of discovery, a molecule
  counting only if its Tanimoto similarity to every mode counted before it is below
  :data:`~gafn_lib.molecules.metrics.MODE_SIMILARITY_THRESHOLD` (0.7); see
  :class:`~gafn_lib.molecules.metrics.SeparatedModes` for the rule and its source.
- ``top10_tanimoto``: mean pairwise Tanimoto similarity of the top-k (lower is more diverse).
- ``molecules_generated`` (with repeats), ``unique_molecules``.

**Window** (the molecules generated since the previous row, i.e. what the sampler produces now;
repeats count as often as they were generated):

- ``window_molecules``: how many molecules the window holds.
- ``hit_rate``: the share of them whose score exceeds the reward transform's threshold
  (``reward_threshold``, 7 by default; ``hit_threshold`` here). Under the sparse reward these are
  exactly the molecules whose reward is above the floor; under the dense reward the same score cut
  is used, so the column means the same thing for both rewards.
- ``mean_score``: their mean proxy score.
- ``unique_fraction``: distinct SMILES in the window / molecules in the window.
- ``mean_length``: their mean number of blocks, over the molecules recorded with a length
  (``record(..., lengths=...)``); NaN if none was.

Window columns are NaN when the window is empty. :meth:`MolMetricsTracker.row` closes the window
(the next one starts empty) unless ``close_window=False``; trainers call it once per logged row.
The window is part of :meth:`~MolMetricsTracker.state_dict`, so a run resumed mid-window logs the
same rows as one that was not interrupted.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from gafn_lib.molecules.metrics import MODE_SCORE_THRESHOLD, MODE_SIMILARITY_THRESHOLD, SeparatedModes, mean_pairwise_tanimoto

#: Width of the fixed-width unicode array of SMILES in :meth:`MolMetricsTracker.artifacts`.
SMILES_WIDTH = 200

#: The per-window columns of a row (see the module docstring).
WINDOW_COLUMNS = ("window_molecules", "hit_rate", "mean_score", "unique_fraction", "mean_length")


class _Window:
    """Running sums over the molecules recorded since the window opened."""

    def __init__(self) -> None:
        self.n = 0
        self.hits = 0
        self.score_sum = 0.0
        self.length_sum = 0
        self.n_lengths = 0
        self.smiles: set[str] = set()

    def add(self, smiles: Sequence[str], scores: np.ndarray, lengths: Sequence[int] | None, hit_threshold: float) -> None:
        self.n += len(smiles)
        self.hits += int(np.count_nonzero(scores > hit_threshold))
        self.score_sum += float(scores.sum())
        self.smiles.update(smiles)
        if lengths is not None:
            self.length_sum += int(sum(int(n) for n in lengths))
            self.n_lengths += len(lengths)

    def columns(self) -> dict[str, float]:
        if self.n == 0:
            return {"window_molecules": 0, "hit_rate": math.nan, "mean_score": math.nan, "unique_fraction": math.nan, "mean_length": math.nan}
        return {
            "window_molecules": self.n,
            "hit_rate": self.hits / self.n,
            "mean_score": self.score_sum / self.n,
            "unique_fraction": len(self.smiles) / self.n,
            "mean_length": self.length_sum / self.n_lengths if self.n_lengths else math.nan,
        }

    def state_dict(self) -> dict[str, Any]:
        return {"n": self.n, "hits": self.hits, "score_sum": self.score_sum, "length_sum": self.length_sum,
                "n_lengths": self.n_lengths, "smiles": sorted(self.smiles)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "_Window":
        window = cls()
        window.n, window.hits, window.n_lengths = int(state["n"]), int(state["hits"]), int(state["n_lengths"])
        window.score_sum, window.length_sum = float(state["score_sum"]), int(state["length_sum"])
        window.smiles = set(state["smiles"])
        return window


class MolMetricsTracker:
    """Every unique molecule generated so far with its proxy score and reward, the separated modes
    among them, and the current window (see the module docstring for the columns of :meth:`row`).

    Args:
        top_k: the k of the top-k columns (10).
        hit_threshold: the score a molecule must exceed to count as a hit in ``hit_rate``: the reward
            transform's threshold (``MolReward.threshold``, 7 in the paper).
        score_normaliser: the divisor of ``top10_score_norm`` (``MolReward.normaliser``, 8).
        mode_similarity: the Tanimoto threshold of ``n_modes_separated`` (0.7).
    """

    def __init__(self, top_k: int = 10, hit_threshold: float = 7.0, score_normaliser: float = 8.0,
                 mode_similarity: float = MODE_SIMILARITY_THRESHOLD) -> None:
        if not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k must be an integer >= 1, got {top_k!r}")
        if not math.isfinite(hit_threshold):
            raise ValueError(f"hit_threshold must be finite, got {hit_threshold!r}")
        if not score_normaliser > 0:
            raise ValueError(f"score_normaliser must be > 0, got {score_normaliser!r}")
        self.top_k = top_k
        self.hit_threshold = float(hit_threshold)
        self.score_normaliser = float(score_normaliser)
        self.molecules: dict[str, tuple[float, float]] = {}  # SMILES → (score, reward), in order of discovery
        self.n_generated = 0
        self.modes = SeparatedModes(MODE_SCORE_THRESHOLD, mode_similarity)
        self._window = _Window()

    def record(self, smiles: Sequence[str], scores: np.ndarray, rewards: np.ndarray, lengths: Sequence[int] | None = None) -> None:
        """Add generated molecules (repeats included): their SMILES, proxy scores, rewards and,
        optionally, their numbers of blocks (``lengths``, for the window's ``mean_length``)."""
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        rewards = np.asarray(rewards, dtype=np.float64).reshape(-1)
        if not len(smiles) == len(scores) == len(rewards):
            raise ValueError(f"smiles, scores and rewards must have the same length, got {len(smiles)}, {len(scores)}, {len(rewards)}")
        if lengths is not None and len(lengths) != len(smiles):
            raise ValueError(f"lengths must have one entry per molecule ({len(smiles)}), got {len(lengths)}")
        self.n_generated += len(smiles)
        for s, sc, r in zip(smiles, scores, rewards):
            if s not in self.molecules:
                self.modes.offer(s, float(sc))
            self.molecules[s] = (float(sc), float(r))
        self._window.add(list(smiles), scores, lengths, self.hit_threshold)

    def row(self, close_window: bool = True) -> dict[str, float]:
        """The metric row (cumulative and window columns, module docstring); ``close_window`` starts
        a new window after it (what a logged row does)."""
        top = heapq.nlargest(self.top_k, self.molecules.items(), key=lambda kv: (kv[1][1], kv[1][0], kv[0]))  # reward, then score
        row: dict[str, float] = {
            "top10_reward": float(np.mean([v[1] for _, v in top])) if top else math.nan,
            "top10_score": float(np.mean([v[0] for _, v in top])) if top else math.nan,
            "top10_score_norm": float(np.mean([v[0] / self.score_normaliser for _, v in top])) if top else math.nan,
            "n_modes": sum(1 for sc, _ in self.molecules.values() if sc > MODE_SCORE_THRESHOLD),
            "n_modes_separated": self.modes.count,
            "top10_tanimoto": mean_pairwise_tanimoto([s for s, _ in top]),
            "molecules_generated": self.n_generated,
            "unique_molecules": len(self.molecules),
        }
        row.update(self._window.columns())
        if close_window:
            self._window = _Window()
        return row

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
        """Plain containers: the molecules in order of discovery, the count, the open window (the
        separated modes are rebuilt from the molecules on load: same order, same result)."""
        return {"smiles": list(self.molecules), "values": [list(v) for v in self.molecules.values()], "n": self.n_generated,
                "window": self._window.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s output. A checkpoint written before windows existed has no
        ``window``: the window restarts empty (such checkpoints were written right after a logged
        row, where a window starts anyway)."""
        self.molecules = {s: (float(v[0]), float(v[1])) for s, v in zip(state["smiles"], state["values"])}
        self.n_generated = int(state["n"])
        self.modes = SeparatedModes(self.modes.score_threshold, self.modes.similarity_threshold)
        for s, (score, _) in self.molecules.items():
            self.modes.offer(s, score)
        self._window = _Window.from_state(state["window"]) if "window" in state else _Window()
