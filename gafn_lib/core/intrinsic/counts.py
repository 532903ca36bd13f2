"""Exact count-based exploration bonus (for the "forms of intrinsic reward" ablation)."""

from __future__ import annotations

import torch

from gafn_lib.core.intrinsic.base import IntrinsicReward


class CountBonus(IntrinsicReward):
    """``r(s) = η / √N(s)``, where ``N(s)`` counts the visits of state ``s`` so far.

    Needs enumerable states (the canonical ``index``). :meth:`update` adds the step's visits
    (in place, no gradient); call it before :meth:`reward` so that ``N(s) ≥ 1`` for visited states.
    An unvisited state has ``N = 0`` and gets the maximal bonus ``η``.
    """

    def __init__(self, n_states: int, eta: float):
        super().__init__()
        if eta < 0:
            raise ValueError(f"eta (intrinsic coefficient) must be >= 0, got {eta}")
        if n_states < 1:
            raise ValueError(f"n_states must be >= 1, got {n_states}")
        self.eta = float(eta)
        self.register_buffer("counts", torch.zeros(n_states, dtype=torch.long))

    @staticmethod
    def _require_index(index: torch.Tensor | None) -> torch.Tensor:
        if index is None:
            raise ValueError("the count-based bonus needs canonical state indices (an enumerable environment)")
        return index

    def reward(self, features: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        index = self._require_index(index)
        n = self.counts[index].clamp_min(1).to(torch.float32)
        return self.eta / n.sqrt()

    def update(self, features: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        index = self._require_index(index)
        self.counts.index_add_(0, index, torch.ones_like(index))
        return torch.zeros((), device=self.counts.device)
