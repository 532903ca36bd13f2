"""A molecule GFlowNet learns: on the dense reward, what FM and TB sample at the end of a short run
scores clearly better than random search with the same budget.

The measure is the last window's ``mean_score`` (mean proxy score of the molecules generated since
the previous logged row, :mod:`gafn_lib.molecules.tracking`), for the GFlowNet and for random search
(:mod:`gafn_lib.baselines.random_search`) on the same MDP, reward, seed, batch size, number of
steps and logging interval, so both windows hold the same 800 molecules of a 3,200-molecule budget.

Settings (the smallest found that pass with room to spare): 2-4 blocks, dense reward ``(s/8)^10``,
a 32-wide, 2-round network, lr 2e-3, 8 trajectories a step, no ε-exploration, 400 steps logged
every 100. Measured margins (GFlowNet − random, last window), seeds 0 / 1 / 2:
FM 2.36 / 1.72 / 2.05, TB 2.03 / 1.84 / 1.85 (random search 2.58 / 2.69 / 2.64). The test asks for
≥ 1.0, the margin of issue 23; it can fail: the same runs with learning switched off (lr = lr_logz
= 1e-9) give margins 0.09 / -0.10 (seeds 0 / 1).
"""

from __future__ import annotations

import pytest

from gafn_lib.baselines.random_search import RandomSearchConfig, RandomSearchTrainer
from gafn_lib.envs.fragments import FragmentMDP
from gafn_lib.molecules.trainer import MolTrainConfig, MolTrainer

SEED = 0
#: Shared by the GFlowNets and random search: molecule size, reward, budget and windows.
BUDGET = dict(min_blocks=2, max_blocks=4, reward="dense", reward_exponent=10.0, batch_size=8, n_steps=400, log_every=100, seed=SEED, threads=1)
#: The GFlowNet's network and optimiser (plain GFlowNet: no augmentation).
LEARNER = dict(augment="none", hidden=32, n_rounds=2, lr=2e-3, epsilon=0.0)
MARGIN = 1.0


@pytest.fixture(scope="module")
def mdp() -> FragmentMDP:
    return FragmentMDP(min_blocks=BUDGET["min_blocks"], max_blocks=BUDGET["max_blocks"])


@pytest.fixture(scope="module")
def random_last_window(mdp, proxy) -> dict:
    """Random search's last logged row with the GFlowNets' budget."""
    return RandomSearchTrainer(RandomSearchConfig(**BUDGET), proxy=proxy, mdp=mdp).train(progress=False).rows[-1]


@pytest.mark.parametrize("objective", ["fm", "tb"])
def test_gflownet_beats_random_search_on_the_last_window(mdp, proxy, random_last_window, objective):
    trainer = MolTrainer(MolTrainConfig(**BUDGET, **LEARNER, objective=objective), proxy=proxy, mdp=mdp)
    last = trainer.train(progress=False).rows[-1]
    assert last["molecules_generated"] == random_last_window["molecules_generated"] == 3200
    assert last["window_molecules"] == random_last_window["window_molecules"] == 800
    margin = last["mean_score"] - random_last_window["mean_score"]
    assert margin >= MARGIN, (objective, last["mean_score"], random_last_window["mean_score"])
