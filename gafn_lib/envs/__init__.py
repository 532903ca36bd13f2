"""Environments: the hypergrid (GridWorld) and the fragment-based molecule MDP."""

from gafn_lib.envs.hypergrid import MAX_ENUMERABLE_STATES, TERMINATION_RULES, Hypergrid, HypergridConfig
from gafn_lib.envs.rewards import GRID_REWARDS, DenseGridReward, SparseGridReward

__all__ = [
    "GRID_REWARDS",
    "MAX_ENUMERABLE_STATES",
    "TERMINATION_RULES",
    "DenseGridReward",
    "Hypergrid",
    "HypergridConfig",
    "SparseGridReward",
]
