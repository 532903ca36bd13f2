"""Random network distillation (Burda et al. 2019), the paper's intrinsic reward."""

from __future__ import annotations

import torch
from torch import nn

from gafn_lib.core.intrinsic.base import IntrinsicReward


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers with LeakyReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(nn.LeakyReLU())
    return nn.Sequential(*layers)


class RND(IntrinsicReward):
    """RND novelty: ``r(s) = η · ‖f̂(s) − f(s)‖₂`` (unsquared L2 norm, no normalisation).

    ``f`` is a fixed random target network, ``f̂`` a trained predictor, both MLPs
    ``input_dim → 256 → 256 → 128`` with LeakyReLU (paper, GridWorld). The reward is detached; the
    predictor's loss is the same norm, ``mean_s ‖f̂(s) − f(s)‖₂``, added to the training loss with
    weight 1 (paper §5). As the predictor learns the visited states, ``r → 0`` there, which is what
    makes GAFlowNets asymptotically unbiased (Theorem 1).
    """

    def __init__(self, input_dim: int, eta: float, hidden: tuple[int, ...] = (256, 256), output_dim: int = 128):
        super().__init__()
        if eta < 0:
            raise ValueError(f"eta (intrinsic coefficient) must be >= 0, got {eta}")
        if input_dim < 1 or output_dim < 1:
            raise ValueError("input_dim and output_dim must be >= 1")
        self.eta = float(eta)
        sizes = [input_dim, *hidden, output_dim]
        self.target = mlp(sizes)
        self.predictor = mlp(sizes)
        for p in self.target.parameters():
            p.requires_grad_(False)

    def error(self, features: torch.Tensor) -> torch.Tensor:
        """``‖f̂(s) − f(s)‖₂`` per state, ``(N,)`` (differentiable w.r.t. the predictor)."""
        with torch.no_grad():
            target = self.target(features)
        return (self.predictor(features) - target).norm(dim=-1)

    def reward(self, features: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        with torch.no_grad():
            return self.eta * self.error(features)

    def update(self, features: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        return self.error(features).mean()

    def reward_and_loss(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One predictor pass for both: ``(η·error detached, mean error)`` on the same states."""
        with torch.no_grad():
            target = self.target(features)
        err = (self.predictor(features) - target).norm(dim=-1)
        return self.eta * err.detach(), err.mean()
