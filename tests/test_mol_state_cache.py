"""The bounded state cache shared by the proxy scorer and the frozen embeddings of RND."""

from __future__ import annotations

import pytest

from gafn_lib.molecules.state_cache import BoundedStateCache


def test_computes_each_new_state_once_in_order_of_first_appearance():
    calls = []
    cache = BoundedStateCache(lambda new: calls.append(list(new)) or [k * 10 for k in new], max_size=10)
    assert cache([3, 1, 3, 2]) == [30, 10, 30, 20]
    assert cache([2, 5, 1, 5]) == [20, 50, 10, 50]
    assert calls == [[3, 1, 2], [5]] and len(cache) == 4


def test_overflow_starts_afresh_with_the_whole_batch():
    calls = []
    cache = BoundedStateCache(lambda new: calls.append(list(new)) or [-k for k in new], max_size=4)
    cache([1, 2, 3])
    assert cache([1, 4, 5]) == [-1, -4, -5]  # 3 cached + 2 new > 4: cleared, all three recomputed
    assert calls[-1] == [1, 4, 5] and len(cache) == 3
    cache.clear()
    assert len(cache) == 0 and cache([7]) == [-7]


def test_bad_size_and_a_compute_of_the_wrong_length_are_errors():
    with pytest.raises(ValueError, match="max_size must be >= 1"):
        BoundedStateCache(list, max_size=0)
    with pytest.raises(ValueError, match="compute returned 1 values for 2 states"):
        BoundedStateCache(lambda new: [0], max_size=5)([1, 2])
