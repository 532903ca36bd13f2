"""Proxy scores and canonical SMILES of finished fragment-MDP states, cached by state.

A finished state ``x`` (a :class:`~gafn_lib.envs.fragments.BlockState`) determines its molecule and
its stem atoms, hence its proxy score: the cache key is the state itself, so a molecule met again
costs one dictionary lookup instead of RDKit assembly, canonical SMILES and the proxy's own
SMILES-keyed lookup. New states go through the proxy in one batch. Results are identical with the
cache on or off (the proxy is deterministic); the cache is a speed device only and is cleared
when it reaches ``max_size`` entries (:class:`~gafn_lib.molecules.state_cache.BoundedStateCache`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gafn_lib.envs.fragments import BlockState, FragmentMDP
from gafn_lib.envs.mol_reward import MolReward
from gafn_lib.envs.sehproxy import SEHProxy
from gafn_lib.molecules.state_cache import BoundedStateCache


class StateScorer:
    """``scorer(states) -> (smiles, scores)`` for finished states, cached by state."""

    def __init__(self, mdp: FragmentMDP, proxy: SEHProxy, max_size: int = 500_000) -> None:
        self.mdp, self.proxy = mdp, proxy
        self._cache: BoundedStateCache[BlockState, tuple[str, float]] = BoundedStateCache(self._compute, max_size)

    @property
    def max_size(self) -> int:
        """The most finished states whose SMILES and score are kept (the cache's bound)."""
        return self._cache.max_size

    def _compute(self, states: list[BlockState]) -> list[tuple[str, float]]:
        mols = [self.mdp.to_mol(x) for x in states]
        scores = self.proxy.score_mols(mols, [self.mdp.stem_atoms(x) for x in states])
        return [(self.mdp.smiles(x), float(score)) for x, score in zip(states, scores)]

    def __call__(self, states: Sequence[BlockState]) -> tuple[list[str], np.ndarray]:
        hits = self._cache(states)
        return [h[0] for h in hits], np.array([h[1] for h in hits], dtype=np.float64)

    def __len__(self) -> int:
        return len(self._cache)


def score_molecules(scorer: StateScorer, reward: MolReward, states: Sequence[BlockState]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Canonical SMILES, proxy scores and rewards ``R(x)`` of finished states (every molecule trainer)."""
    smiles, scores = scorer(states)
    return smiles, scores, reward(scores)
