"""The public release's RND on molecules: two block-graph networks on the raw state graph.

``r(s) = η · ‖f̂(G(s)) − f(G(s))‖₂`` where the target ``f`` and the predictor ``f̂`` are both
block-graph message-passing networks of the policy's family, width and rounds (``network="compact"``:
:class:`gafn_lib.molecules.policy.BlockGraphPolicy`; ``"release"``: the release's
``StateEmbeddingNet``, :class:`gafn_lib.molecules.release_net.ReleaseStateEmbedding`, whose embedding
is the mean of the node states) read at their graph embedding ``g``; ``f`` is frozen at its random
initialisation and ``f̂`` is trained end to end (embeddings, message passing and read-out) on
``mean_s ‖f̂ − f‖₂`` with weight 1 (release: ``model_block.RND`` — ``StateEmbeddingNet`` target and
predictor, ``ri_coe`` = η = 0.1, ``ri_loss_coe`` = 1; ``mols/gflownet.py``).

Differences from the default (``rnd_features="fixed"``), which reads a frozen random encoder's
embedding through the MLP RND of :class:`gafn_lib.core.intrinsic.RND`: here the predictor has a
whole graph network to fit, so its error on new states stays larger for longer (the issue's
measurement of the release: bonus ~0.3 at the start, ~0.14 on fresh states after ~600 updates).
The target's embeddings are cached by state (it never changes).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from gafn_lib.envs.fragment_batch import encode_states
from gafn_lib.envs.fragments import BlockState, FragmentMDP
from gafn_lib.molecules.networks import build_state_embedding
from gafn_lib.molecules.state_cache import EMBEDDING_CACHE_SIZE, BoundedStateCache


class GraphRND(nn.Module):
    """Block-graph target and predictor; ``reward_and_loss(states)`` → ``(η·error detached, mean error)``.

    Args:
        mdp: the fragment MDP (encodes the states).
        hidden, n_rounds: width and rounds of both networks (the policy's).
        eta: the coefficient η >= 0.
        network: ``"compact"`` (default) or ``"release"``, see :func:`gafn_lib.molecules.networks.build_state_embedding`.
    """

    def __init__(self, mdp: FragmentMDP, hidden: int, n_rounds: int, eta: float, network: str = "compact") -> None:
        super().__init__()
        if eta < 0:
            raise ValueError(f"eta (intrinsic coefficient) must be >= 0, got {eta}")
        self.mdp, self.eta = mdp, float(eta)
        self.target = build_state_embedding(network, mdp, hidden, n_rounds)
        self.predictor = build_state_embedding(network, mdp, hidden, n_rounds)
        self.target.requires_grad_(False)
        #: the frozen target's embedding of each state seen (bounded; cleared when weights are loaded)
        self._target_cache: BoundedStateCache[BlockState, torch.Tensor] = BoundedStateCache(self._embed_targets, EMBEDDING_CACHE_SIZE)

    def _embed_targets(self, states: list[BlockState]) -> list[torch.Tensor]:
        device = next(self.target.parameters()).device
        with torch.no_grad():
            return list(self.target.embed(encode_states(self.mdp, states, device)))

    def _target(self, states: Sequence[BlockState]) -> torch.Tensor:
        return torch.stack(self._target_cache(states))

    def error(self, states: Sequence[BlockState]) -> torch.Tensor:
        """``‖f̂(s) − f(s)‖₂`` per state ``(N,)``, differentiable w.r.t. the predictor."""
        device = next(self.predictor.parameters()).device
        predicted = self.predictor.embed(encode_states(self.mdp, list(states), device))
        return (predicted - self._target(states)).norm(dim=-1)

    def reward_and_loss(self, states: Sequence[BlockState]) -> tuple[torch.Tensor, torch.Tensor]:
        err = self.error(states)
        return self.eta * err.detach(), err.mean()

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        self._target_cache.clear()
        return super().load_state_dict(state_dict, strict=strict, assign=assign)
