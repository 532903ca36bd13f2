"""A bounded cache of a deterministic function of fragment-MDP states.

The molecule trainers compute three things that depend on a state alone and never change during a
run: a finished state's proxy score and SMILES (:class:`gafn_lib.molecules.scoring.StateScorer`),
a frozen random encoder's embedding (the fixed RND features of
:class:`gafn_lib.molecules.trainer.MolTrainer`) and the frozen target network's embedding
(:class:`gafn_lib.molecules.graph_rnd.GraphRND`). Each is computed once per state, in one batch
for the states a call has not seen, and read back from a dictionary afterwards.

The cache holds at most ``max_size`` states: a call whose new states would overflow it clears it
and computes its whole batch afresh, so a call always answers for every state it is given and
memory stays bounded over a run of a million molecules. Results are the same with or without the
cache (the function is deterministic); it only saves time.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: The most states whose embedding a frozen network's cache keeps: 200,000 × width numbers, 205 MB
#: at width 256 in float32.
EMBEDDING_CACHE_SIZE = 200_000


class BoundedStateCache(Generic[K, V]):
    """``cache(states) -> [value of each state]``, computing ``compute(new_states)`` for the states
    not cached yet (in order of first appearance, each once).

    Args:
        compute: the function of a list of distinct states, returning one value per state in order.
        max_size: the most states held (>= 1); past it the cache starts afresh with the call's batch.
    """

    def __init__(self, compute: Callable[[list[K]], Sequence[V]], max_size: int) -> None:
        if int(max_size) < 1:
            raise ValueError(f"max_size must be >= 1, got {max_size}")
        self.compute, self.max_size = compute, int(max_size)
        self._values: dict[K, V] = {}

    def __call__(self, states: Sequence[K]) -> list[V]:
        values = self._values
        new = list(dict.fromkeys(s for s in states if s not in values))
        if len(values) + len(new) > self.max_size:  # bounded: start afresh, keeping this batch's states
            values.clear()
            new = list(dict.fromkeys(states))
        if new:
            computed = self.compute(new)
            if len(computed) != len(new):
                raise ValueError(f"compute returned {len(computed)} values for {len(new)} states")
            values.update(zip(new, computed))
        return [values[s] for s in states]

    def __len__(self) -> int:
        return len(self._values)

    def clear(self) -> None:
        """Forget every state (after the function changed, e.g. a network's weights were loaded)."""
        self._values.clear()
