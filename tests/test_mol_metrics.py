"""Molecule metrics and reward transforms: exact values on tiny inputs."""

from __future__ import annotations

import numpy as np
import pytest

from gafn_lib.envs.mol_reward import MolReward
from gafn_lib.molecules.metrics import (
    count_modes,
    mean_pairwise_tanimoto,
    top_k_mean_reward,
    top_k_tanimoto,
    top_k_unique,
)


def test_sparse_reward_paper_values():
    r = MolReward()
    got = r(np.array([6.0, 7.0, 7.5, 8.0]))
    np.testing.assert_allclose(got, [1e-9, 1e-9, (7.5 / 8) ** 10, 1.0])
    assert abs(r(np.array([7.0001]))[0] - 0.263) < 1e-3
    np.testing.assert_allclose(r.log_reward(np.array([8.0])), [0.0])


def test_dense_reward_is_monotone_and_floored():
    r = MolReward("dense", exponent=3.0)
    got = r(np.array([-2.0, 0.0, 4.0, 8.0]))
    np.testing.assert_allclose(got, [1e-9, 1e-9, 0.125, 1.0])


def test_reward_validation():
    with pytest.raises(ValueError, match="kind"):
        MolReward("medium")
    with pytest.raises(ValueError, match="floor"):
        MolReward(floor=0.0)


def test_top_k_unique_and_mean():
    smiles = ["A", "B", "A", "C", "D"]
    values = [1.0, 5.0, 3.0, 2.0, 4.0]
    assert top_k_unique(smiles, values, 3) == [("B", 5.0), ("D", 4.0), ("A", 3.0)]
    assert top_k_mean_reward(smiles, values, 3) == pytest.approx(4.0)
    assert top_k_mean_reward(smiles, values, 10) == pytest.approx((5 + 4 + 3 + 2) / 4)


def test_modes_count_unique_above_threshold():
    smiles = ["CCO", "CCO", "CCCO", "c1ccccc1", "CCN"]
    scores = [8.0, 7.9, 7.6, 7.7, 7.4]
    assert count_modes(smiles, scores) == 3
    assert count_modes(smiles, scores, threshold=7.65) == 2
    # CCO and CCCO are similar (> 0.3), benzene is not: two separated modes
    assert count_modes(smiles, scores, max_similarity=0.3) == 2
    assert count_modes(smiles, scores, max_similarity=1.01) == 3


def test_tanimoto():
    assert mean_pairwise_tanimoto(["CCO", "CCO"]) == pytest.approx(1.0)
    assert mean_pairwise_tanimoto(["CCO"]) != mean_pairwise_tanimoto(["CCO"])  # nan
    three = mean_pairwise_tanimoto(["CCO", "CCN", "c1ccccc1"])
    assert 0.0 <= three < 1.0
    assert top_k_tanimoto(["CCO", "CCO", "c1ccccc1"], [1.0, 2.0, 0.5], k=2) == pytest.approx(
        mean_pairwise_tanimoto(["CCO", "c1ccccc1"])
    )
    with pytest.raises(ValueError, match="C1CC"):
        mean_pairwise_tanimoto(["CCO", "C1CC"])
