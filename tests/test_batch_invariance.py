"""Same seed, same numbers: a run's logged history is bitwise identical however it is trained.

Alone, in an ensemble of any size, beside partners that differ in seed, η, objective,
augmentation, intrinsic reward, λ or P_B, at any position in the ensemble, in every evaluation
mode, after a resume, and through the runner with any ensemble size and worker count. Exact
equality (``==`` on floats), never a tolerance: a difference in the last bit grows into different
trajectories a few hundred steps later.
"""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from gafn_lib.core.ensemble import EnsembleTrainer
from gafn_lib.core.ensemble.trainer import evaluation_modes
from gafn_lib.envs.hypergrid import Hypergrid, HypergridConfig
from gafn_lib.grid.config import GridTrainConfig
from tests.test_ensemble import MIXED

TINY = dict(height=6, hidden=32, n_steps=16, log_every=8, batch_size=8)
TIMING = ("wall_seconds",)

#: Twelve runs that may share an ensemble: every objective, augmentation and intrinsic reward
#: (test_ensemble's six mixed members, then six more).
RUNS = MIXED + [
    dict(objective="tb", augment="joint", intrinsic="rnd", seed=6, eta=0.5),
    dict(objective="subtb", augment="joint", intrinsic="count", seed=7, subtb_lambda=0.9),
    dict(objective="db", augment="none", intrinsic="none", seed=8),
    dict(objective="tb", augment="edge", intrinsic="count", seed=9, eta=0.1),
    dict(objective="fm", augment="edge", intrinsic="count", seed=10),
    dict(objective="tb", augment="node", intrinsic="rnd", seed=11),
]
#: Ensembles as lists of indices into RUNS: sizes 2, 5 and 12, the probe runs at several positions.
ENSEMBLES = [[0, 3], [5, 1, 9, 4, 0], [11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]]


def strip(rows):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


#: The first-visit columns (MetricsTracker) every compared row carries: on this 6x6 grid, 3 goals.
FIRST_VISITS = ("first_visit_all_modes", "first_visit_all_modes_step", "first_visit_mode_0", "first_visit_mode_1", "first_visit_mode_2")


def assert_first_visits_compared(histories):
    """The rows compared with ``==`` carry the first-visit columns, and some run has visited a goal
    by its last row (so their equality is not only NaN against NaN)."""
    assert all(set(FIRST_VISITS) <= row.keys() for rows in histories for row in rows)
    assert any(rows[-1]["modes_found"] > 0 for rows in histories)


@pytest.fixture(params=["table", "visited+sampling-tables", "visited+per-move"])
def mode(request, monkeypatch):
    """The evaluation paths of an enumerable environment (forced on a small grid through the two
    thresholds); position mode (no enumeration) has its own test below."""
    import gafn_lib.core.ensemble.trainer as trainer_module

    if request.param != "table":
        monkeypatch.setattr(trainer_module, "TABLE_MODE_MAX_STATES", 0)
    if request.param == "visited+per-move":
        monkeypatch.setattr(trainer_module, "MOVE_CALL_ROWS", -(10**9))
    return request.param


def configs(indices, **extra):
    return [GridTrainConfig(**TINY, **RUNS[i], **extra) for i in indices]


@pytest.fixture
def solo_histories(mode):
    return {i: strip(EnsembleTrainer(configs([i])).train(progress=False)[0].rows) for i in range(len(RUNS))}


def test_the_mode_fixture_selects_each_path(mode):
    trainer = EnsembleTrainer(configs([0, 1]))
    assert (trainer.table_mode, trainer.sampling_table) == {
        "table": (True, True), "visited+sampling-tables": (False, True), "visited+per-move": (False, False)
    }[mode]


@pytest.mark.parametrize("members", ENSEMBLES, ids=lambda m: f"K={len(m)}")
def test_every_member_logs_exactly_its_solo_history(mode, solo_histories, members):
    histories = EnsembleTrainer(configs(members)).train(progress=False)
    for i, history in zip(members, histories):
        assert strip(history.rows) == solo_histories[i], f"run {RUNS[i]} differs from its solo run in an ensemble of {len(members)}"
    assert_first_visits_compared([solo_histories[i] for i in members])


def test_a_resumed_ensemble_logs_exactly_the_solo_history(mode, solo_histories):
    members = ENSEMBLES[1]
    first = EnsembleTrainer(configs(members))
    first.train(n_steps=8, progress=False)
    state = first.state_dict()
    resumed = EnsembleTrainer(configs(members))
    resumed.load_state_dict(state)
    for i, history in zip(members, resumed.train(progress=False)):
        assert strip(history.rows) == solo_histories[i]


class Unlisted:
    """The hypergrid without ``n_states`` / ``index`` / ``all_states``: an environment that cannot be
    enumerated (position mode: every position is evaluated, trajectories padded to ``max_moves``)."""

    def __init__(self, env):
        self._env = env

    def __getattr__(self, name):
        if name in ("n_states", "index", "all_states", "encode_indices"):
            raise AttributeError(name)
        return getattr(self._env, name)

    def __repr__(self):
        return f"Unlisted({self._env!r})"


def test_position_mode_members_log_exactly_their_solo_histories():
    """An environment that cannot be enumerated: every member (counts need an enumeration, so not
    those) alone and in ensembles of 2 and 5, FM members carrying their parents among them."""
    runnable = [i for i, r in enumerate(RUNS) if r["intrinsic"] != "count"]
    env = lambda: Unlisted(Hypergrid(HypergridConfig(ndim=2, height=TINY["height"])))
    solo = {i: strip(EnsembleTrainer(configs([i]), env=env()).train(progress=False)[0].rows) for i in runnable}
    for members in (runnable[:2], runnable[2:7]):
        trainer = EnsembleTrainer(configs(members), env=env())
        assert (trainer.table_mode, trainer.sampling_table, trainer.enumerable) == (False, False, False)
        for i, history in zip(members, trainer.train(progress=False)):
            assert strip(history.rows) == solo[i], f"run {RUNS[i]} differs from its solo run"


def test_the_mode_is_the_runs_own_choice():
    """The evaluation mode depends on the environment and the batch, never on the ensemble's size."""
    small = Hypergrid(HypergridConfig(ndim=2, height=16))
    large = Hypergrid(HypergridConfig(ndim=2, height=64))
    assert evaluation_modes(small, 16) == (True, True)
    assert evaluation_modes(large, 16) == (False, True)
    for height, modes in ((16, (True, True)), (32, (False, True))):
        for k in (1, 2, 12):
            trainer = EnsembleTrainer([GridTrainConfig(height=height, hidden=16, seed=s) for s in range(k)])
            assert (trainer.table_mode, trainer.sampling_table) == modes


def test_the_sampling_field_chooses_the_path_and_is_refused_where_it_cannot_work():
    """``sampling`` overrides the cost model (a field of the run, so still the run's own choice)."""
    small = Hypergrid(HypergridConfig(ndim=2, height=16))
    large = Hypergrid(HypergridConfig(ndim=2, height=64))
    huge = Hypergrid(HypergridConfig(ndim=2, height=256))  # auto: one network call per move
    assert [evaluation_modes(small, 16, s) for s in ("auto", "tables", "per_move")] == [(True, True), (True, True), (False, False)]
    assert [evaluation_modes(large, 16, s) for s in ("auto", "tables", "per_move")] == [(False, True), (False, True), (False, False)]
    assert [evaluation_modes(huge, 16, s) for s in ("auto", "tables", "per_move")] == [(False, False), (False, True), (False, False)]
    unlisted = Unlisted(Hypergrid(HypergridConfig(ndim=2, height=6)))
    assert evaluation_modes(unlisted, 16, "per_move") == (False, False)
    with pytest.raises(ValueError, match="sampling='tables' needs an environment that lists its states"):
        EnsembleTrainer([GridTrainConfig(**TINY, sampling="tables")], env=unlisted)
    with pytest.raises(ValueError, match="sampling must be one of"):
        evaluation_modes(small, 16, "rows")
    with pytest.raises(ValueError, match="sampling must be one of"):
        GridTrainConfig(sampling="table")
    for k in (1, 3):
        trainer = EnsembleTrainer([GridTrainConfig(height=16, hidden=16, seed=s, sampling="per_move") for s in range(k)])
        assert (trainer.table_mode, trainer.sampling_table) == (False, False)


def test_per_move_members_log_exactly_their_solo_histories():
    """Chosen by the field (not the thresholds): members of every objective and augmentation alone
    and together, in visited mode with one network call per move."""
    members = [5, 1, 9, 4, 0]
    solo = {i: strip(EnsembleTrainer(configs([i], sampling="per_move")).train(progress=False)[0].rows) for i in members}
    trainer = EnsembleTrainer(configs(members, sampling="per_move"))
    assert (trainer.table_mode, trainer.sampling_table) == (False, False)
    histories = [strip(h.rows) for h in trainer.train(progress=False)]
    assert_first_visits_compared(histories)
    for i, rows in zip(members, histories):
        assert rows == solo[i], f"run {RUNS[i]} differs from its solo run"


def test_trajectories_are_padded_to_max_moves(mode):
    """A batch's shape never depends on its draws (nor on the partners' trajectories)."""
    trainer = EnsembleTrainer(configs([0, 5]))
    traj = trainer.sample()
    assert traj.actions.shape[1] == trainer.env.max_moves
    trainer._pending = None


@pytest.mark.parametrize("hidden", [32, 20])
def test_stacked_parameters_are_member_aligned(hidden):
    """Each member's slice of every optimised tensor is a whole number of fused-Adam vectors."""
    from gafn_lib.core.ensemble.stacked import MEMBER_ALIGN

    trainer = EnsembleTrainer([GridTrainConfig(**{**TINY, "hidden": hidden}, **RUNS[0])])
    for group in trainer.optimizer.param_groups:
        for p in group["params"]:
            assert p[0].numel() % MEMBER_ALIGN == 0, tuple(p.shape)


def test_runner_gives_the_same_table_whatever_the_ensemble_size(tmp_path):
    """The issue's reproduction: the same runs through ``run_sweep`` alone and as one ensemble of 8."""
    from gafn_lib.runner import run_sweep

    cfgs = [
        GridTrainConfig(height=8, hidden=32, n_steps=40, log_every=20, batch_size=8, seed=s, objective="tb", **aug)
        for s in range(4)
        for aug in (dict(augment="none", intrinsic="none"), dict(augment="joint", intrinsic="rnd"))
    ]
    tables = []
    for size in (1, 8):
        table = run_sweep("inv", cfgs, results_dir=tmp_path / f"k{size}", workers=1, backend="serial", ensemble_size=size, progress=False)
        tables.append(table.drop(columns=[c for c in table.columns if c in TIMING]).sort_values(["run", "step"]).reset_index(drop=True))
    assert set(FIRST_VISITS) <= set(tables[0].columns)
    pd.testing.assert_frame_equal(tables[0], tables[1], check_exact=True)
