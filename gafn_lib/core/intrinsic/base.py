"""The interface every intrinsic reward implements."""

from __future__ import annotations

import torch
from torch import nn


class IntrinsicReward(nn.Module):
    """An intrinsic reward ``r(s) ≥ 0`` on states.

    A state is described by its ``features`` (``(N, D)`` float, e.g. a one-hot encoding or a graph
    embedding) and, where the environment can enumerate states, its canonical ``index`` (``(N,)``).

    Subclasses implement :meth:`reward` (detached, never part of the GFlowNet's gradient) and
    :meth:`update`, called once per training step on the states visited in that step; it returns a
    loss to add to the training loss (0 for rewards that update in place, such as counts).
    """

    def reward(self, features: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def update(self, features: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError


class ZeroIntrinsic(IntrinsicReward):
    """``r ≡ 0``: the plain GFlowNet (``log r = -inf`` everywhere)."""

    def reward(self, features: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        return torch.zeros(features.shape[0], device=features.device)

    def update(self, features: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        return torch.zeros((), device=features.device)
