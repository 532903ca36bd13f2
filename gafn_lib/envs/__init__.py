"""Environments, each implementing the protocol of :mod:`gafn_lib.core.env`: the hypergrid
(GridWorld), bit strings (the small teaching environment) and the fragment-based molecule MDP
(:mod:`gafn_lib.envs.fragments`, imported on its own: it needs RDKit).

Importing this package registers ``"bitseq"`` as an environment name for
:class:`gafn_lib.core.config.EnvTrainConfig`.
"""

from gafn_lib.core.config import ENVIRONMENTS, register_environment
from gafn_lib.envs.bitseq import BitSequences, BitSequencesConfig
from gafn_lib.envs.hypergrid import MAX_ENUMERABLE_STATES, TERMINATION_RULES, Hypergrid, HypergridConfig
from gafn_lib.envs.rewards import GRID_REWARDS, DenseGridReward, SparseGridReward, register_grid_reward

if "bitseq" not in ENVIRONMENTS:
    register_environment("bitseq", lambda device, **kwargs: BitSequences(BitSequencesConfig(**kwargs), device=device))

__all__ = [
    "GRID_REWARDS",
    "MAX_ENUMERABLE_STATES",
    "TERMINATION_RULES",
    "BitSequences",
    "BitSequencesConfig",
    "DenseGridReward",
    "Hypergrid",
    "HypergridConfig",
    "SparseGridReward",
    "register_grid_reward",
]
