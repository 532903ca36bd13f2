"""The count-based exploration bonus as one per-state :class:`IntrinsicReward` (for
:func:`gafn_lib.core.intrinsic.make_intrinsic`).

The formula has one implementation, the engine's :class:`gafn_lib.core.ensemble.intrinsic.StackedCounts`
(which trains ``intrinsic="count"`` members); :class:`CountBonus` is its one-member view.
"""

from __future__ import annotations

import torch

from gafn_lib.core.intrinsic.base import IntrinsicReward


class CountBonus(IntrinsicReward):
    """``r(s) = η / √N(s)``, where ``N(s)`` counts the visits of state ``s`` so far: a
    :class:`~gafn_lib.core.ensemble.intrinsic.StackedCounts` of one member.

    Needs enumerable states (the canonical ``index``). :meth:`update` adds the step's visits
    (in place, no gradient); call it before :meth:`reward` so that ``N(s) ≥ 1`` for visited states.
    An unvisited state has ``N = 0`` and gets the maximal bonus ``η``.
    """

    def __init__(self, n_states: int, eta: float):
        super().__init__()
        # imported here: the engine's package imports this one (the registry) when it loads
        from gafn_lib.core.ensemble.intrinsic import StackedCounts

        self.eta = float(eta)
        self.stacked = StackedCounts(n_states, [self.eta])

    @property
    def counts(self) -> torch.Tensor:
        """``N(s)`` per state, ``(n_states,)`` long."""
        return self.stacked.counts[0]

    @staticmethod
    def _require_index(index: torch.Tensor | None) -> torch.Tensor:
        if index is None:
            raise ValueError("the count-based bonus needs canonical state indices (an enumerable environment)")
        return index

    def reward(self, features: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        return self.stacked.reward(self._require_index(index).unsqueeze(0))[0]

    def update(self, features: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        index = self._require_index(index)
        self.stacked.update(index.unsqueeze(0), torch.ones_like(index).unsqueeze(0))
        return torch.zeros((), device=index.device)
