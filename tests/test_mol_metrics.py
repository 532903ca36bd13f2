"""Molecule metrics and reward transforms: exact values on tiny inputs; the metric rows' window,
separated-mode and top-10 columns by hand, across resumes, and in every molecule method's rows."""

from __future__ import annotations

import math

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


# ------------------------------------------------------------------------------- windows, separated modes, units
SIMILAR = ("CCCCCCCCCCO", "CCCCCCCCCCCO")  # Morgan r=2 Tanimoto 1.0: one separated mode
OTHER = "c1ccc2ccccc2c1"  # naphthalene: Tanimoto 0.32 / 0.22 to the two above


def stream_tracker() -> MolMetricsTracker:
    """A tiny fabricated stream (hit threshold 7, normaliser 8, top-3), recorded in two batches."""
    tracker = MolMetricsTracker(top_k=3, hit_threshold=7.0, score_normaliser=8.0)
    reward = MolReward()
    first = np.array([8.0, 5.0, 8.0])
    tracker.record([SIMILAR[0], "CCO", SIMILAR[0]], first, reward(first), lengths=[3, 2, 3])
    second = np.array([7.8, 7.6, 7.2])
    tracker.record([SIMILAR[1], OTHER, "CCN"], second, reward(second), lengths=[4, 2, 1])
    return tracker


def test_window_columns_by_hand():
    """Hit rate (score > 7), mean score, unique fraction and mean length over the molecules since
    the previous row; an empty window is NaN; ``close_window=False`` looks without closing."""
    tracker = stream_tracker()
    peek = tracker.row(close_window=False)
    row = tracker.row()
    assert peek == row
    assert row["window_molecules"] == 6
    assert row["hit_rate"] == pytest.approx(5 / 6)  # 8.0, 8.0, 7.8, 7.6, 7.2 exceed 7; 5.0 does not
    assert row["mean_score"] == pytest.approx((8.0 + 5.0 + 8.0 + 7.8 + 7.6 + 7.2) / 6)
    assert row["unique_fraction"] == pytest.approx(5 / 6)  # SIMILAR[0] twice
    assert row["mean_length"] == pytest.approx((3 + 2 + 3 + 4 + 2 + 1) / 6)
    # the next window: one molecule without a length, then one with
    tracker.record(["CCO"], np.array([5.0]), np.array([1e-9]))
    tracker.record(["CCO"], np.array([5.0]), np.array([1e-9]), lengths=[2])
    row = tracker.row()
    assert (row["window_molecules"], row["hit_rate"], row["mean_score"], row["unique_fraction"], row["mean_length"]) == (2, 0.0, 5.0, 0.5, 2.0)
    assert row["molecules_generated"] == 8 and row["unique_molecules"] == 5  # cumulative columns keep counting
    empty = tracker.row()
    assert empty["window_molecules"] == 0
    assert all(math.isnan(empty[c]) for c in ("hit_rate", "mean_score", "unique_fraction", "mean_length"))
    without_lengths = MolMetricsTracker()
    without_lengths.record(["CCO"], np.array([5.0]), np.array([1e-9]))
    assert math.isnan(without_lengths.row()["mean_length"])


def test_hit_rate_follows_the_given_threshold():
    scores = np.array([5.5, 6.5, 7.5])
    low, paper = MolMetricsTracker(hit_threshold=6.0), MolMetricsTracker()
    for tracker in (low, paper):
        tracker.record(["CCO", "CCN", "CCC"], scores, MolReward()(scores))
    assert low.row()["hit_rate"] == pytest.approx(2 / 3) and paper.row()["hit_rate"] == pytest.approx(1 / 3)


def test_modes_raw_and_separated():
    """``n_modes`` counts every unique molecule above 7.5; ``n_modes_separated`` drops SIMILAR[1]
    (Tanimoto 1.0 to SIMILAR[0], counted first) and keeps naphthalene (< 0.7 to both)."""
    from rdkit import DataStructs

    from gafn_lib.molecules.metrics import MODE_SIMILARITY_THRESHOLD, SeparatedModes, fingerprint

    sim = lambda a, b: DataStructs.TanimotoSimilarity(fingerprint(a), fingerprint(b))  # noqa: E731
    assert sim(*SIMILAR) >= MODE_SIMILARITY_THRESHOLD > max(sim(SIMILAR[0], OTHER), sim(SIMILAR[1], OTHER))
    row = stream_tracker().row()
    assert row["n_modes"] == 3 and row["n_modes_separated"] == 2
    modes = SeparatedModes()
    assert [modes.offer(s, sc) for s, sc in [("CCN", 7.2), (SIMILAR[1], 7.8), (SIMILAR[0], 9.0), (OTHER, 7.6)]] == [False, True, False, True]
    assert modes.smiles == [SIMILAR[1], OTHER] and modes.count == 2  # order of discovery, not of score
    with pytest.raises(ValueError, match="similarity_threshold"):
        SeparatedModes(similarity_threshold=0.0)


def test_top10_in_reward_and_normalised_score_units():
    row = stream_tracker().row()  # top-3 by reward: 8.0, 7.8, 7.6
    assert row["top10_reward"] == pytest.approx(((8.0 / 8) ** 10 + (7.8 / 8) ** 10 + (7.6 / 8) ** 10) / 3)
    assert row["top10_score"] == pytest.approx((8.0 + 7.8 + 7.6) / 3)
    assert row["top10_score_norm"] == pytest.approx((8.0 + 7.8 + 7.6) / 3 / 8)
    assert MolMetricsTracker(score_normaliser=4.0).row()["top10_score_norm"] != MolMetricsTracker().row()["top10_score_norm"]  # both nan
    with pytest.raises(ValueError, match="score_normaliser"):
        MolMetricsTracker(score_normaliser=0.0)
    with pytest.raises(ValueError, match="lengths"):
        MolMetricsTracker().record(["CCO"], np.array([1.0]), np.array([1.0]), lengths=[1, 2])


def test_tracker_resumes_mid_window_and_loads_old_checkpoints():
    """A window open at a checkpoint is restored (through torch.save with weights_only); a checkpoint
    without the window (written before windows existed) loads with an empty window and the separated
    modes rebuilt from the molecules."""
    import io

    import torch

    straight = stream_tracker()
    half = MolMetricsTracker(top_k=3, hit_threshold=7.0, score_normaliser=8.0)
    first = np.array([8.0, 5.0, 8.0])
    half.record([SIMILAR[0], "CCO", SIMILAR[0]], first, MolReward()(first), lengths=[3, 2, 3])
    buffer = io.BytesIO()
    torch.save(half.state_dict(), buffer)
    buffer.seek(0)
    resumed = MolMetricsTracker(top_k=3, hit_threshold=7.0, score_normaliser=8.0)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    second = np.array([7.8, 7.6, 7.2])
    resumed.record([SIMILAR[1], OTHER, "CCN"], second, MolReward()(second), lengths=[4, 2, 1])
    assert resumed.row() == straight.row()

    old = stream_tracker()
    state = old.state_dict()
    del state["window"]
    loaded = MolMetricsTracker(top_k=3)
    loaded.load_state_dict(state)
    row = loaded.row()
    assert row["n_modes_separated"] == 2 and loaded.modes.smiles == [SIMILAR[0], OTHER]
    assert row["window_molecules"] == 0 and math.isnan(row["mean_score"])


# ------------------------------------------------------------------------------- every method's rows
def tiny_trainers():
    """One tiny trainer of each molecule method (a few steps of a 16-wide, one-round network)."""
    from gafn_lib.baselines.mars import MARSConfig, MARSTrainer
    from gafn_lib.baselines.mol_ppo import MolPPOConfig, MolPPOTrainer
    from gafn_lib.baselines.random_search import RandomSearchConfig, RandomSearchTrainer
    from gafn_lib.molecules.trainer import MolTrainConfig, MolTrainer

    size = dict(min_blocks=2, max_blocks=4, reward="dense", reward_exponent=3.0, reward_threshold=4.0)
    net = dict(hidden=16, n_rounds=1)
    return {
        "gflownet": lambda **kw: MolTrainer(MolTrainConfig(**size, **net, **{"n_steps": 3, "log_every": 2, **kw})),
        "ppo": lambda **kw: MolPPOTrainer(MolPPOConfig(**size, **net, **{"batch_size": 3, "n_steps": 3, "log_every": 2, **kw})),
        "mars": lambda **kw: MARSTrainer(MARSConfig(**size, **net, **{"n_chains": 3, "n_steps": 3, "log_every": 2, "train_batch": 2, **kw})),
        "random": lambda **kw: RandomSearchTrainer(RandomSearchConfig(**size, **{"n_steps": 3, "log_every": 2, **kw})),
    }


NEW_COLUMNS = ("top10_score_norm", "n_modes_separated", "window_molecules", "hit_rate", "mean_score", "unique_fraction", "mean_length")


@pytest.mark.parametrize("method", ["gflownet", "ppo", "mars", "random"])
def test_every_method_logs_window_columns_and_resumes_mid_window(method):
    """Every molecule trainer's rows carry the new columns with the config's threshold and normaliser;
    the windows add up to the molecules generated; a run checkpointed mid-window (step 3 of
    windows 1-2, 3-4, 5) logs the same rows as one that was not interrupted."""
    import io

    import torch

    make = tiny_trainers()[method]
    trainer = make(seed=3)
    assert (trainer.tracker.hit_threshold, trainer.tracker.score_normaliser) == (4.0, 8.0)
    rows = trainer.train(progress=False).rows
    for row in rows:
        for column in NEW_COLUMNS:
            assert column in row, column
        assert 0.0 <= row["hit_rate"] <= 1.0 and 0.0 < row["unique_fraction"] <= 1.0
        assert 2 <= row["mean_length"] <= 4  # every trainer passes its molecules' numbers of blocks
    assert sum(r["window_molecules"] for r in rows) == rows[-1]["molecules_generated"]

    straight = make(seed=4, n_steps=5).train(progress=False).rows
    first = make(seed=4, n_steps=5)
    first.train(n_steps=2, progress=False)
    first.step()  # step 3, not logged: the window 3-4 is open at the checkpoint
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    resumed = make(seed=99, n_steps=5)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    rows = resumed.train(progress=False).rows
    assert [r["step"] for r in rows] == [2, 4, 5]
    for a, b in zip(straight, rows):
        for column in NEW_COLUMNS + ("n_modes", "top10_score"):
            if isinstance(a[column], float) and math.isnan(a[column]):
                assert math.isnan(b[column]), column
            else:
                assert a[column] == pytest.approx(b[column], rel=1e-6), column


def test_window_mean_score_is_the_steps_molecules_when_logging_every_step():
    """With one step per window the window is that step's batch: random search's row equals the
    step's own mean score and length (the window's value is the one a row keeps)."""
    trainer = tiny_trainers()["random"](n_steps=1, log_every=1, batch_size=5)
    info = trainer.step()
    row = trainer.evaluate()
    assert row["window_molecules"] == 5
    assert row["mean_score"] == pytest.approx(info["mean_score"]) and row["mean_length"] == pytest.approx(info["mean_length"])
