"""The dense hypergrid reward: exact (integer) band tests, symmetric at every H, mode counts checked
against a brute-force computation in exact fractions."""

import itertools
from fractions import Fraction

import pytest
import torch

from gafn_lib.envs.rewards import DenseGridReward

R0, R1, R2 = 1e-3, 0.5, 2.0


def _bands_fraction(s: int, height: int) -> tuple[bool, bool]:
    """The formula as written, in exact rationals: a = |s/(H-1) - 1/2|."""
    a = abs(Fraction(s, height - 1) - Fraction(1, 2))
    return a > Fraction(1, 4), Fraction(3, 10) < a < Fraction(4, 10)


def _reward_fraction(cell, height):
    bands = [_bands_fraction(s, height) for s in cell]
    return R0 + R1 * all(b[0] for b in bands) + R2 * all(b[1] for b in bands)


def _mode_count_fraction(height: int, ndim: int) -> int:
    inner = [s for s in range(height) if _bands_fraction(s, height)[1]]
    outer = [s for s in range(height) if _bands_fraction(s, height)[0]]
    return len(inner or outer) ** ndim


@pytest.mark.parametrize("height", range(4, 129))
def test_mirror_cells_have_the_same_reward_1d_and_2d(height):
    reward = DenseGridReward(2, height, R0, R1, R2)
    cells = torch.arange(height)
    diagonal = torch.stack([cells, cells], dim=1)
    mirrored = torch.stack([height - 1 - cells, cells], dim=1)
    assert torch.equal(reward(diagonal), reward(mirrored))
    assert torch.equal(reward(diagonal), reward(height - 1 - diagonal))


@pytest.mark.parametrize("height", range(4, 129))
def test_mode_count_matches_fractions(height):
    for ndim in (1, 2):
        reward = DenseGridReward(ndim, height, R0, R1, R2)
        modes = reward.mode_states()
        assert len(modes) == _mode_count_fraction(height, ndim)
        # every mode has the maximal reward, and mirroring a mode gives a mode
        values = reward(modes)
        assert torch.all(values == values.max())
        assert {tuple(m) for m in modes.tolist()} == {tuple(height - 1 - c for c in m) for m in modes.tolist()}


@pytest.mark.parametrize("ndim,height", [(n, h) for n in (1, 2, 3) for h in (4, 5, 6, 7, 8, 11, 16, 21)])
def test_every_cell_matches_fractions_and_is_symmetric(ndim, height):
    reward = DenseGridReward(ndim, height, R0, R1, R2)
    cells = torch.tensor(list(itertools.product(range(height), repeat=ndim)), dtype=torch.long)
    values = reward(cells)
    expected = torch.tensor([_reward_fraction(c, height) for c in cells.tolist()], dtype=torch.float32)
    assert torch.equal(values, expected)
    for d in range(ndim):
        flipped = cells.clone()
        flipped[:, d] = height - 1 - flipped[:, d]
        assert torch.equal(reward(flipped), values)


def test_h16_has_four_modes_and_the_release_float_bands_have_nine():
    exact = DenseGridReward(2, 16, R0, R1, R2)
    assert sorted(map(tuple, exact.mode_states().tolist())) == [(2, 2), (2, 13), (13, 2), (13, 13)]
    release = DenseGridReward(2, 16, R0, R1, R2, arithmetic="float")
    assert len(release.mode_states()) == 9  # cell 12 passes a > 0.3 in floats, its mirror 3 does not
    assert release(torch.tensor([[12, 12]])) != release(torch.tensor([[3, 3]]))


def test_strict_band_edges():
    # H=11: a = |s/10 - 1/2|; s=1 gives a = 0.4 exactly (excluded), s=2 gives 0.3 (excluded),
    # s=3 gives 0.2 (< 0.25). So no inner-band cell: modes fall back to a > 0.25, s in {0,1,2,8,9,10}.
    reward = DenseGridReward(1, 11, R0, R1, R2)
    assert sorted(reward.mode_states().flatten().tolist()) == [0, 1, 2, 8, 9, 10]
    assert reward(torch.tensor([[1], [2]])).tolist() == pytest.approx([R0 + R1, R0 + R1])
    with pytest.raises(ValueError, match="arithmetic"):
        DenseGridReward(1, 11, R0, R1, R2, arithmetic="decimal")
