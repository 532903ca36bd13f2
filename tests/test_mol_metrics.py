"""Molecule metrics and reward transforms: exact values on tiny inputs."""

from __future__ import annotations

import numpy as np
import pytest

from gafn_lib.envs.mol_reward import MolReward
from gafn_lib.molecules.metrics import mean_pairwise_tanimoto
from gafn_lib.molecules.tracking import MolMetricsTracker


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


def test_tracker_row_top_k_unique_and_modes():
    """The metric row of a run: top-k over unique molecules by reward (then score), modes = unique
    molecules scoring above 7.5, diversity of the top-k."""
    tracker = MolMetricsTracker(top_k=3)
    smiles = ["CCO", "CCN", "CCO", "CCCO", "c1ccccc1"]
    scores = np.array([8.0, 7.4, 8.0, 7.6, 7.7])
    rewards = np.array([5.0, 2.0, 5.0, 3.0, 4.0])
    tracker.record(smiles, scores, rewards)
    row = tracker.row()
    assert row["top10_reward"] == pytest.approx((5 + 4 + 3) / 3) and row["top10_score"] == pytest.approx((8.0 + 7.7 + 7.6) / 3)
    assert row["n_modes"] == 3 and row["unique_molecules"] == 4 and row["molecules_generated"] == 5
    assert row["top10_tanimoto"] == pytest.approx(mean_pairwise_tanimoto(["CCO", "c1ccccc1", "CCCO"]))
    # equal rewards (the sparse reward's floor): the higher score ranks first
    floor = MolMetricsTracker(top_k=1)
    floor.record(["CCN", "CCO"], np.array([5.0, 6.0]), np.array([1e-9, 1e-9]))
    assert floor.row()["top10_score"] == 6.0 and list(floor.artifacts()["top_smiles"]) == ["CCO", "CCN"]


def test_tanimoto():
    assert mean_pairwise_tanimoto(["CCO", "CCO"]) == pytest.approx(1.0)
    assert mean_pairwise_tanimoto(["CCO"]) != mean_pairwise_tanimoto(["CCO"])  # nan
    three = mean_pairwise_tanimoto(["CCO", "CCN", "c1ccccc1"])
    assert 0.0 <= three < 1.0
    with pytest.raises(ValueError, match="C1CC"):
        mean_pairwise_tanimoto(["CCO", "C1CC"])
