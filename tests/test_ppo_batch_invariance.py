"""Same seed, same numbers, for the grid PPO: a run's logged history is bitwise identical however
it is trained.

Alone (``PPOTrainer``), in a :class:`PPOEnsembleTrainer` of any size, beside partners that differ
in every field a member may differ in (seed, RND, η, entropy and value coefficients, clip, λ,
advantage normalisation, gradient cap), at any position, in both roll-out modes (tables and one
network call per move), after a resume, and through the runner with any ensemble size. Exact
equality (``==`` on floats), never a tolerance: a difference in the last bit grows into different
trajectories a few hundred steps later.
"""

from __future__ import annotations

import io

import pandas as pd
import pytest
import torch

import gafn_lib.baselines.ppo_ensemble as ppo_ensemble
from gafn_lib.baselines.ppo import PPOConfig, PPOTrainer
from gafn_lib.baselines.ppo_ensemble import PPOEnsembleTrainer, minibatch_width

TINY = dict(height=6, hidden=32, batch_size=16, epochs=2, n_minibatches=2, n_steps=12, log_every=4)
TIMING = ("wall_seconds",)

#: Twelve runs that may share an ensemble: every member field varies.
RUNS = [
    dict(seed=0),
    dict(seed=1, intrinsic="rnd", eta=0.05),
    dict(seed=2, entropy_coef=0.01, clip=0.1, gae_lambda=1.0),
    dict(seed=3, intrinsic="rnd", eta=0.2, value_coef=1.0, max_grad_norm=None, normalize_advantages=False),
    dict(seed=4, gae_lambda=0.0, max_grad_norm=0.05),
    dict(seed=5, intrinsic="rnd", eta=0.5, entropy_coef=0.0, clip=0.3),
    dict(seed=6, normalize_advantages=False, gae_lambda=0.5),
    dict(seed=7, intrinsic="rnd", eta=0.01, max_grad_norm=2.0, value_coef=0.1),
    dict(seed=8, clip=0.05, entropy_coef=0.5),
    dict(seed=9, intrinsic="rnd", eta=0.1, gae_lambda=0.8, normalize_advantages=False, max_grad_norm=None),
    dict(seed=10, value_coef=2.0, max_grad_norm=0.2),
    dict(seed=11, intrinsic="rnd", eta=0.3, clip=0.15, entropy_coef=0.05, gae_lambda=0.99),
]
#: Ensembles as lists of indices into RUNS: sizes 2, 5 and 12, the runs at several positions.
ENSEMBLES = [[0, 3], [5, 1, 9, 4, 0], [11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]]
MODES = ("table", "per-move")
_SOLO: dict[str, dict[int, list[dict]]] = {}


def strip(rows):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


#: The first-visit columns (MetricsTracker) every compared row carries: on this 6x6 grid, 3 goals.
FIRST_VISITS = ("first_visit_all_modes", "first_visit_all_modes_step", "first_visit_mode_0", "first_visit_mode_1", "first_visit_mode_2")


def assert_first_visits_compared(histories):
    """The rows compared with ``==`` carry the first-visit columns, and some run has visited a goal
    by its last row (so their equality is not only NaN against NaN)."""
    assert all(set(FIRST_VISITS) <= row.keys() for rows in histories for row in rows)
    assert any(rows[-1]["modes_found"] > 0 for rows in histories)


@pytest.fixture(params=MODES)
def mode(request, monkeypatch):
    """Both roll-outs: tables over every state, and one stacked network call per move (forced on a
    small grid through the module's thresholds)."""
    if request.param == "per-move":
        monkeypatch.setattr(ppo_ensemble, "TABLE_MODE_MAX_STATES", 0)
        monkeypatch.setattr(ppo_ensemble, "ADAPTIVE_TABLES", False)
    return request.param


def configs(indices, **extra):
    return [PPOConfig(**{**TINY, **extra}, **RUNS[i]) for i in indices]


@pytest.fixture
def solo_histories(mode):
    """Every run trained alone (``PPOTrainer``), once per mode."""
    if mode not in _SOLO:
        _SOLO[mode] = {i: strip(PPOTrainer(configs([i])[0]).train(progress=False).rows) for i in range(len(RUNS))}
    return _SOLO[mode]


def test_the_mode_fixture_selects_each_roll_out(mode):
    trainer = PPOEnsembleTrainer(configs([0, 1]))
    assert trainer.table_mode == (mode == "table")


@pytest.mark.parametrize("members", ENSEMBLES, ids=lambda m: f"K={len(m)}")
def test_every_member_logs_exactly_its_solo_history(mode, solo_histories, members, monkeypatch):
    widths = []
    groups = PPOEnsembleTrainer.width_groups
    monkeypatch.setattr(PPOEnsembleTrainer, "width_groups", lambda self, ro: widths.append(len(groups(self, ro))) or groups(self, ro))
    histories = PPOEnsembleTrainer(configs(members)).train(progress=False)
    for i, history in zip(members, histories):
        assert strip(history.rows) == solo_histories[i], f"run {RUNS[i]} differs from its solo run in an ensemble of {len(members)}"
    assert_first_visits_compared([solo_histories[i] for i in members])
    if len(members) == 12:
        assert max(widths) > 1  # members of different minibatch widths took their own passes


def test_a_resumed_ensemble_logs_exactly_the_solo_history(mode, solo_histories):
    members = ENSEMBLES[1]
    first = PPOEnsembleTrainer(configs(members))
    first.train(n_steps=8, progress=False)
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    torch.manual_seed(12345)  # the resumed run must not depend on the global RNG at load time
    resumed = PPOEnsembleTrainer(configs(members))
    resumed.load_state_dict(torch.load(io.BytesIO(buffer.getvalue()), weights_only=True))
    for i, history in zip(members, resumed.train(progress=False)):
        assert strip(history.rows) == solo_histories[i]


def test_a_resumed_solo_run_logs_exactly_its_history(mode, solo_histories):
    first = PPOTrainer(configs([1])[0])
    first.train(n_steps=4, progress=False)
    resumed = PPOTrainer(configs([1])[0])
    resumed.load_state_dict(first.state_dict())
    assert strip(resumed.train(progress=False).rows) == solo_histories[1]


def test_a_layout_depends_on_the_members_own_batch_only(mode):
    """Trajectories padded to max_moves, B·(max_moves+1) decision rows, RND rows and minibatch
    widths of the member's own decisions: shapes never depend on the partners."""
    trainer = PPOEnsembleTrainer(configs([0, 1, 2]))
    traj, log_pi, values = trainer.sample()
    t1 = trainer.env.max_moves + 1
    assert traj.states.shape[1] == t1 and log_pi.shape[1] == values.shape[1] == TINY["batch_size"] * t1
    rollout = trainer.collect()
    assert rollout.actions.shape == (3, TINY["batch_size"] * t1)
    for group in trainer.width_groups(rollout):
        members = range(3) if group.members is None else group.members.tolist()
        assert all(minibatch_width(rollout.n_decisions[k], TINY["n_minibatches"]) == group.width for k in members)


@pytest.mark.parametrize("hidden", [20, 32])
def test_padded_layers_stay_invariant(hidden):
    """Layers whose width is not a whole number of Adam vectors are stored padded (their padding's
    gradient stays 0); members still equal their solo runs."""
    from gafn_lib.core.ensemble.stacked import MEMBER_ALIGN

    members = [3, 1, 6]
    small = dict(hidden=hidden, n_steps=6, log_every=3)
    ensemble = PPOEnsembleTrainer(configs(members, **small))
    for group in ensemble.optimizer.param_groups + ensemble.rnd_optimizer.param_groups:
        for p in group["params"]:
            assert p[0].numel() % MEMBER_ALIGN == 0, tuple(p.shape)
    histories = ensemble.train(progress=False)
    for i, history in zip(members, histories):
        assert strip(history.rows) == strip(PPOTrainer(configs([i], **small)[0]).train(progress=False).rows)
    net = ensemble.policy_net.net
    for i in range(net.n_layers):
        w = getattr(net, f"weight{i}")
        assert not w[..., net.sizes[i + 1]:].detach().any()  # the padding is never trained


def test_runner_gives_the_same_table_whatever_the_ensemble_size(tmp_path):
    """The issue's reproduction: the same PPO runs through ``run_sweep`` alone and as one ensemble of 8."""
    from gafn_lib.runner import run_sweep

    cfgs = configs(range(8))
    tables = []
    for size in (1, 8):
        table = run_sweep("inv", cfgs, results_dir=tmp_path / f"k{size}", workers=1, backend="serial", ensemble_size=size, progress=False)
        tables.append(table.drop(columns=[c for c in table.columns if c in TIMING]).sort_values(["run", "step"]).reset_index(drop=True))
    assert set(FIRST_VISITS) <= set(tables[0].columns)
    pd.testing.assert_frame_equal(tables[0], tables[1], check_exact=True)


def test_wide_minibatches_take_their_own_width():
    """Minibatches of a few hundred rows: BLAS blocks the rows of a weight gradient by their number,
    so a member padded to a partner's width would round otherwise than alone (this test fails if
    the members share the widest width). Members of different widths here take separate passes."""
    wide = dict(height=8, hidden=256, batch_size=64, epochs=1, n_minibatches=1, n_steps=4, log_every=2)
    members = [0, 5, 9]
    seen = []
    ensemble = PPOEnsembleTrainer(configs(members, **wide))
    groups = ensemble.width_groups
    ensemble.width_groups = lambda ro: seen.append([g.width for g in groups(ro)]) or groups(ro)
    histories = ensemble.train(progress=False)
    for i, history in zip(members, histories):
        assert strip(history.rows) == strip(PPOTrainer(configs([i], **wide)[0]).train(progress=False).rows)
    assert max(max(w) for w in seen) >= 256 and max(len(w) for w in seen) > 1
