"""The block-graph networks of the molecule GFlowNet, by name (:attr:`gafn_lib.molecules.config.MolTrainConfig.network`).

- ``"compact"``: :class:`gafn_lib.molecules.policy.BlockGraphPolicy` (a message MLP, an update MLP
  and a LayerNorm per round; the default);
- ``"release"``: the public release's network, :class:`gafn_lib.molecules.release_net.ReleaseGraphNet`
  (policy) and :class:`gafn_lib.molecules.release_net.ReleaseStateEmbedding` (RND's encoders).

Every network built here has ``embed(batch)`` → (B, hidden) graph embedding; a policy also has
``forward(batch, mask)`` → :class:`gafn_lib.molecules.policy.MolPolicyOutput`.
"""

from __future__ import annotations

from torch import nn

from gafn_lib.envs.fragments import FragmentMDP
from gafn_lib.molecules.config import MOL_NETWORKS
from gafn_lib.molecules.policy import BlockGraphPolicy
from gafn_lib.molecules.release_net import ReleaseGraphNet, ReleaseStateEmbedding


def _check_network(network: str) -> None:
    if network not in MOL_NETWORKS:
        raise ValueError(f"network must be one of {MOL_NETWORKS}, got {network!r}")


def build_policy(network: str, mdp: FragmentMDP, hidden: int, n_rounds: int) -> nn.Module:
    """The policy network ``network`` for ``mdp`` (width ``hidden``, ``n_rounds`` rounds). Raises
    ``ValueError`` naming ``network`` for an unknown name."""
    _check_network(network)
    if network == "compact":
        return BlockGraphPolicy.for_mdp(mdp, hidden, n_rounds)
    return ReleaseGraphNet.for_mdp(mdp, hidden, n_rounds)


def build_state_embedding(network: str, mdp: FragmentMDP, hidden: int, n_rounds: int) -> nn.Module:
    """A graph encoder of family ``network`` for RND (``embed(batch)`` → (B, hidden)): the whole
    :class:`BlockGraphPolicy` for ``"compact"`` (its heads unused, kept so that earlier runs' weights
    and checkpoints are unchanged); the release's ``StateEmbeddingNet``, trunk only
    (:class:`ReleaseStateEmbedding`), for ``"release"``."""
    _check_network(network)
    if network == "compact":
        return BlockGraphPolicy.for_mdp(mdp, hidden, n_rounds)
    return ReleaseStateEmbedding.for_mdp(mdp, hidden, n_rounds)
