"""What a sampler hands to a loss: the padded batch of trajectories (:class:`Trajectories`) and the
sampling distribution over valid actions (:func:`action_probabilities`).

The core has one sampler, the engine's (:mod:`gafn_lib.core.ensemble.sampling`: ``K`` members ×
``B`` trajectories in lockstep, each member from its own random stream; a solo run is ``K = 1``);
draw trajectories from a trained policy with ``trainer.sample()``. No knowledge of losses.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gafn_lib.core.policies import MASKED_LOGIT


@dataclass(frozen=True)
class Trajectories:
    """A padded batch of complete trajectories on an environment with tensor states.

    Attributes:
        states: ``(B, T+1, *state_shape)`` ``s_0 … s_T``; positions after ``s_{n_b}`` repeat ``x``.
        actions: ``(B, T)`` move actions (``-1`` on padding); the final stop is implicit.
        mask: ``(B, T)`` bool, True on real moves.
        forced: ``(B,)`` bool, termination was forced by the environment (no stop action taken).
    """

    states: torch.Tensor
    actions: torch.Tensor
    mask: torch.Tensor
    forced: torch.Tensor

    @property
    def lengths(self) -> torch.Tensor:
        return self.mask.sum(dim=1)

    @property
    def terminal(self) -> torch.Tensor:
        """``(B, *state_shape)`` the terminal states ``x``."""
        return self.states[:, -1]

    @property
    def batch_size(self) -> int:
        return self.states.shape[0]


def action_probabilities(logits: torch.Tensor, mask: torch.Tensor, epsilon: float, temperature: float) -> torch.Tensor:
    """Sampling distribution: ``(1−ε)·softmax(logits/τ) + ε·uniform`` over the valid actions."""
    probs = (logits / temperature).masked_fill(~mask, MASKED_LOGIT).softmax(dim=-1)
    if epsilon > 0:
        uniform = mask.float() / mask.sum(dim=-1, keepdim=True).clamp_min(1)
        probs = (1 - epsilon) * probs + epsilon * uniform
    return probs
