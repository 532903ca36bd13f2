"""The GFlowNet policy network (the paper's GridWorld MLP), stacked over ``K`` members."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from gafn_lib.core.ensemble.stacked import StackedInputs, StackedMLP


class StackedPolicy(nn.Module):
    """``K`` policies ``obs_dim → hidden^n_layers`` (LeakyReLU) ``→`` one linear head of
    ``n_forward`` forward logits, ``n_backward`` backward logits and one ``log F(s)`` — the paper's
    GridWorld network (Pan et al. 2023, §5.1: 2 × 256, LeakyReLU), one per member.

    ``uniform_pb[k]`` replaces member ``k``'s learned ``P_B`` by the uniform distribution over
    valid parents (its backward logits are zeros).
    """

    def __init__(
        self,
        obs_dim: int,
        n_forward: int,
        n_backward: int,
        hidden: int,
        n_layers: int,
        uniform_pb: Sequence[bool],
        generators: Sequence[torch.Generator],
        device: torch.device | str = "cpu",
    ):
        super().__init__()
        if hidden < 1 or n_layers < 1:
            raise ValueError(f"hidden and n_layers must be >= 1, got {hidden}, {n_layers}")
        if len(uniform_pb) != len(generators):
            raise ValueError(f"uniform_pb has {len(uniform_pb)} entries for {len(generators)} members")
        self.n_forward, self.n_backward = n_forward, n_backward
        self.net = StackedMLP([obs_dim] + [hidden] * n_layers + [n_forward + n_backward + 1], generators, device)
        self.register_buffer("learned_pb", torch.tensor([not u for u in uniform_pb], device=device).view(-1, 1, 1), persistent=False)

    def forward(self, inputs: StackedInputs, members: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(logits_pf (K, N, n_forward), logits_pb (K, N, n_backward), log_flow (K, N))``; with
        ``members`` (an index tensor) ``inputs`` and the outputs are those members' only."""
        out = self.net.forward_inputs(inputs, members)
        logits_pf, logits_pb, log_flow = out.split([self.n_forward, self.n_backward, 1], dim=-1)
        learned_pb = self.learned_pb if members is None else self.learned_pb.index_select(0, members)
        logits_pb = logits_pb * learned_pb  # uniform P_B: zeros (no gradient reaches the head)
        return logits_pf, logits_pb, log_flow.squeeze(-1)

    def forward_member(self, inputs: StackedInputs, layers, member: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """:meth:`forward` of member ``member`` alone (``layers``: its entry of
        :meth:`StackedMLP.member_layers`; ``inputs`` with a leading dimension of 1)."""
        out = self.net.forward_member(inputs, layers)
        logits_pf, logits_pb, log_flow = out.split([self.n_forward, self.n_backward, 1], dim=-1)
        logits_pb = logits_pb * self.learned_pb[member : member + 1]
        return logits_pf, logits_pb, log_flow.squeeze(-1)

    def forward_logits(self, inputs: StackedInputs) -> torch.Tensor:
        """Only the forward logits ``(K, N, n_forward)`` (what the sampler needs)."""
        return self.net.forward_inputs(inputs)[..., : self.n_forward]
