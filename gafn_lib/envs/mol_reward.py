"""Rewards derived from the sEH proxy score (paper §4 / Pan et al. 2023, molecule experiments).

- **Sparse** (the GAFlowNet paper): ``R(x) = (score/normaliser)^exponent`` if ``score > threshold``
  else ``floor``; paper values threshold 7, normaliser 8, exponent 10, floor 1e-9
  (score 7 → 0.263, 7.5 → 0.524, 8 → 1.0).
- **Dense**: ``R(x) = max((max(score, 0)/normaliser)^exponent, floor)``: every improvement of the
  score is rewarded, with no threshold (defaults normaliser 8, exponent 10, floor 1e-9; a smaller
  exponent, e.g. 3, makes the reward smoother for short runs).

Both map a NumPy array of scores to rewards (float64) and have ``log_reward``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MOL_REWARDS = ("sparse", "dense")


@dataclass(frozen=True)
class MolReward:
    """Reward transform of proxy scores.

    Attributes:
        kind: ``"sparse"`` (paper) or ``"dense"``.
        threshold: sparse only: scores ``<= threshold`` get ``floor`` (paper 7).
        normaliser: score divisor (paper 8).
        exponent: power applied to ``score/normaliser`` (paper 10).
        floor: smallest reward (paper 1e-9), keeps ``log R`` finite.
    """

    kind: str = "sparse"
    threshold: float = 7.0
    normaliser: float = 8.0
    exponent: float = 10.0
    floor: float = 1e-9

    def __post_init__(self) -> None:
        if self.kind not in MOL_REWARDS:
            raise ValueError(f"reward kind must be one of {MOL_REWARDS}, got {self.kind!r}")
        if not self.normaliser > 0:
            raise ValueError(f"normaliser must be > 0, got {self.normaliser}")
        if not self.exponent > 0:
            raise ValueError(f"exponent must be > 0, got {self.exponent}")
        if not self.floor > 0:
            raise ValueError(f"floor must be > 0, got {self.floor}")
        if self.kind == "sparse" and self.threshold < 0:
            raise ValueError(f"threshold must be >= 0 for the sparse reward, got {self.threshold}")

    def __call__(self, score: np.ndarray) -> np.ndarray:
        score = np.asarray(score, dtype=np.float64)
        scaled = (np.clip(score, 0.0, None) / self.normaliser) ** self.exponent
        if self.kind == "sparse":
            return np.where(score > self.threshold, scaled, self.floor)
        return np.maximum(scaled, self.floor)

    def log_reward(self, score: np.ndarray) -> np.ndarray:
        return np.log(self(score))
