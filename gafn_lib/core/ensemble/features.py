"""What the stacked networks read of a batch of states: one-hot indices where the environment's
encoding allows it, the dense :meth:`encode` otherwise.

An environment may declare ``encode_indices(states) -> (N, m)`` long: the positions of the ``m``
ones of a sum-of-one-hots :meth:`encode` (the hypergrid's concatenated one-hot per coordinate is
``s_d + d·H``, declared by :meth:`gafn_lib.envs.hypergrid.Hypergrid.encode_indices`). The core knows
no environment: :func:`onehot_indexer` reads only the declaration, and checks the claim on probe
states before it is trusted, so a wrong declaration falls back to the dense path.
"""

from __future__ import annotations

from typing import Callable

import torch

from gafn_lib.core.ensemble.stacked import StackedInputs


def onehot_indexer(env) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """``states (N, *shape) -> (N, m)`` active indices of ``env.encode``, or ``None`` if ``env``'s
    encoding is not (verifiably) a sum of one-hots."""
    fn = getattr(env, "encode_indices", None)
    if fn is None:
        return None
    probe = env.reset(2)
    mask = env.forward_mask(probe)
    moves = mask.clone()
    moves[:, env.stop_action] = False
    if bool(moves[0].any()):  # one step away from s_0 as well, so that the check sees more than one state
        child, _ = env.step_unchecked(probe[:1], moves[:1].float().argmax(dim=1))
        probe = torch.cat([probe[:1], child])
    idx = fn(probe)
    if idx.dim() != 2 or idx.dtype not in (torch.int64, torch.int32):
        return None
    dense = torch.zeros(probe.shape[0], env.obs_dim, device=probe.device)
    dense.scatter_add_(1, idx.long(), torch.ones(idx.shape, device=probe.device))
    if not torch.equal(dense, env.encode(probe).to(dense.dtype)):
        return None
    return lambda states: fn(states).long()


class Featurizer:
    """``states (K, N, *shape) -> StackedInputs`` for an environment (one-hot indices or dense)."""

    def __init__(self, env, dense: bool = False):
        self.env = env
        self.indexer = None if dense else onehot_indexer(env)

    @property
    def uses_indices(self) -> bool:
        return self.indexer is not None

    def __call__(self, states: torch.Tensor) -> StackedInputs:
        n_members, n_rows = states.shape[:2]
        flat = states.reshape(n_members * n_rows, *states.shape[2:])
        if self.indexer is not None:
            return StackedInputs(indices=self.indexer(flat).view(n_members, n_rows, -1))
        return StackedInputs(dense=self.env.encode(flat).view(n_members, n_rows, -1))
