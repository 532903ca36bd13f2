"""Networks mapping encoded states to forward logits, backward logits and a log state flow.

No knowledge of losses: the objectives read these outputs through the trainer.
"""

from __future__ import annotations

import torch
from torch import nn

from gafn_lib.core.intrinsic.rnd import mlp

#: Fill value for masked logits: finite (no NaN in the gradient of a fully masked row) yet with
#: ``exp`` underflowing to exactly 0 next to any real logit.
MASKED_LOGIT = -1e9


class MLPPolicy(nn.Module):
    """GridWorld policy (paper): ``obs_dim → 256 → 256`` (LeakyReLU) with one linear head producing

    - ``n_forward`` forward logits (increments then stop) — under FM these are log edge flows;
    - ``n_backward`` backward logits (which coordinate was incremented last);
    - one log state flow ``log F(s)`` (used by DB, SubTB and edge/joint-augmented TB).

    ``uniform_pb=True`` replaces the learned ``P_B`` by the uniform distribution over valid parents.
    """

    def __init__(
        self,
        obs_dim: int,
        n_forward: int,
        n_backward: int,
        hidden: int = 256,
        n_layers: int = 2,
        uniform_pb: bool = False,
    ):
        super().__init__()
        if hidden < 1 or n_layers < 1:
            raise ValueError(f"hidden and n_layers must be >= 1, got {hidden}, {n_layers}")
        self.n_forward, self.n_backward, self.uniform_pb = n_forward, n_backward, uniform_pb
        self.trunk = nn.Sequential(mlp([obs_dim] + [hidden] * n_layers), nn.LeakyReLU())
        self.head = nn.Linear(hidden, n_forward + n_backward + 1)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``obs (..., obs_dim)`` → ``(logits_pf (..., n_forward), logits_pb (..., n_backward), log_flow (...))``."""
        out = self.head(self.trunk(obs))
        logits_pf, logits_pb, log_flow = out.split([self.n_forward, self.n_backward, 1], dim=-1)
        if self.uniform_pb:
            logits_pb = torch.zeros_like(logits_pb)
        return logits_pf, logits_pb, log_flow.squeeze(-1)

    def forward_logits(self, obs: torch.Tensor) -> torch.Tensor:
        """Only the forward logits (what the sampler needs)."""
        return self.head(self.trunk(obs))[..., : self.n_forward]


def masked_log_softmax(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``log_softmax`` over the valid entries; masked entries get ``≈ -1e9`` (probability 0)."""
    return logits.masked_fill(~mask, MASKED_LOGIT).log_softmax(dim=-1)


class TabularPolicy(nn.Module):
    """A policy given as tables over an enumerable environment's states (exact checks, teaching).

    Rows are in the environment's ``index`` order: ``logits_pf (N, n_actions)``,
    ``logits_pb (N, n_backward_actions)``, ``log_flow (N,)``. An observation is mapped back to its
    state by matching it against the encodings of every state through an exact integer hash
    (encodings must be integer-valued, such as the one-hot encodings of the library's environments).
    """

    def __init__(self, env, logits_pf: torch.Tensor, logits_pb: torch.Tensor, log_flow: torch.Tensor):
        super().__init__()
        n = env.n_states
        if logits_pf.shape != (n, env.n_actions) or logits_pb.shape != (n, env.n_backward_actions) or log_flow.shape != (n,):
            raise ValueError("tables must have shapes (N, n_actions), (N, n_backward_actions) and (N,) with N = n_states")
        self.n_forward, self.n_backward, self.uniform_pb = env.n_actions, env.n_backward_actions, False
        self.logits_pf = nn.Parameter(logits_pf.float().clone())
        self.logits_pb = nn.Parameter(logits_pb.float().clone())
        self.log_flow = nn.Parameter(log_flow.float().clone())
        encodings = env.encode(env.all_states())
        if not torch.equal(encodings, encodings.round()):
            raise ValueError("TabularPolicy needs integer-valued encodings (e.g. one-hot)")
        weights = torch.randint(1, 2**40, (encodings.shape[1],), generator=torch.Generator().manual_seed(0))
        self.register_buffer("_weights", weights)
        keys = (encodings.round().long() * weights).sum(dim=1)
        if torch.unique(keys).numel() != keys.numel():
            raise ValueError("two states share an encoding; TabularPolicy cannot tell them apart")
        sorted_keys, order = torch.sort(keys)
        self.register_buffer("_sorted_keys", sorted_keys)
        self.register_buffer("_order", order)

    def _index(self, obs: torch.Tensor) -> torch.Tensor:
        keys = (obs.reshape(-1, obs.shape[-1]).round().long() * self._weights).sum(dim=1)
        pos = torch.searchsorted(self._sorted_keys, keys).clamp_max(self._order.numel() - 1)
        return self._order[pos].view(obs.shape[:-1])

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        idx = self._index(obs)
        return self.logits_pf[idx], self.logits_pb[idx], self.log_flow[idx]

    def forward_logits(self, obs: torch.Tensor) -> torch.Tensor:
        return self.logits_pf[self._index(obs)]
