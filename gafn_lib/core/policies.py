"""Policy pieces shared by every trainer: masked logits and a policy given as tables.

The GFlowNet engine's network — the paper's GridWorld MLP (``obs_dim → 256 → 256``, LeakyReLU,
one linear head of forward logits, backward logits and ``log F(s)``) — is
:class:`gafn_lib.core.ensemble.policy.StackedPolicy`, ``K`` members stacked (a solo run: ``K = 1``).
:class:`TabularPolicy` can replace it in a solo trainer (``trainer.policy = ...``) for exact checks.
No knowledge of losses.
"""

from __future__ import annotations

import torch
from torch import nn

#: Fill value for masked logits: finite (no NaN in the gradient of a fully masked row) yet with
#: ``exp`` underflowing to exactly 0 next to any real logit.
MASKED_LOGIT = -1e9


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
