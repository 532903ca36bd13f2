"""The first visit of each mode: exact positions in the stream of terminal states, for every grid
method (GFlowNet engine and its ensembles, PPO and its ensemble, MCMC), through checkpoints, the
runner and the repro loaders (runs stored before the columns existed included)."""

from __future__ import annotations

import io
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

import gafn_lib.core.tracking as tracking
from gafn_lib.baselines.mcmc import MCMCConfig, MCMCTrainer
from gafn_lib.baselines.ppo import PPOConfig, PPOTrainer
from gafn_lib.baselines.ppo_ensemble import PPOEnsembleTrainer
from gafn_lib.core.ensemble import EnsembleTrainer
from gafn_lib.core.tracking import FIRST_VISIT_COLUMNS, NOT_VISITED, MetricsTracker, first_visit_mode_column
from gafn_lib.envs.hypergrid import Hypergrid, HypergridConfig
from gafn_lib.grid.config import GridTrainConfig

NAN = math.nan


def grid(height: int = 6) -> Hypergrid:
    return Hypergrid(HypergridConfig(ndim=2, height=height))


def states_of(env: Hypergrid, *indices: int) -> torch.Tensor:
    """The terminal states with these canonical indices, as one batch (in this order)."""
    return env.all_states()[torch.tensor(indices, dtype=torch.long)]


def first_visit_part(row: dict) -> dict:
    return {k: v for k, v in row.items() if k.startswith("first_visit_")}


def same(a: dict, b: dict) -> bool:
    """Dicts equal key for key, NaN equal to NaN."""
    return a.keys() == b.keys() and all(
        a[k] == b[k] or (isinstance(a[k], float) and isinstance(b[k], float) and math.isnan(a[k]) and math.isnan(b[k])) for k in a
    )


def reference_first_visits(batches: list[torch.Tensor], env, mode_index: list[int]) -> tuple[list, list]:
    """Per mode ``(position, step)`` of its first visit by a plain loop over every sample (None if never)."""
    position, step_of, pos_of = 0, {}, {}
    for step, batch in enumerate(batches, start=1):
        for state in env.index(batch).tolist():
            position += 1
            if state in mode_index and state not in pos_of:
                pos_of[state], step_of[state] = position, step
    return [pos_of.get(m) for m in mode_index], [step_of.get(m) for m in mode_index]


# ---------------------------------------------------------------------------------- the tracker
def test_a_hand_made_stream_gives_the_known_positions():
    """Goals a < b < c (canonical order). Batch 1: a non-goal, b at row 1 and again at row 3.
    Batch 2 (3 rows): nothing. Batch 3: c at row 2, a at row 3, b again. So b at 0 + 1 + 1 = 2
    (step 1), c at 7 + 2 + 1 = 10 (step 3), a at 11 (step 3); every goal by position 11, step 3."""
    env = grid()
    tracker = MetricsTracker(env)
    a, b, c = tracker.mode_index.tolist()
    assert tracker.n_modes == 3
    row = tracker.row()
    assert same(first_visit_part(row), {"first_visit_all_modes": NAN, "first_visit_all_modes_step": NAN,
                                        "first_visit_mode_0": NAN, "first_visit_mode_1": NAN, "first_visit_mode_2": NAN})

    tracker.record_terminals(states_of(env, 0, b, 0, b))
    assert same(first_visit_part(tracker.row()), {"first_visit_all_modes": NAN, "first_visit_all_modes_step": NAN,
                                                  "first_visit_mode_0": NAN, "first_visit_mode_1": 2, "first_visit_mode_2": NAN})
    tracker.record_terminals(states_of(env, 0, 0, 0))
    tracker.record_terminals(states_of(env, 0, 0, c, a, b))
    row = tracker.row()
    assert same(first_visit_part(row), {"first_visit_all_modes": 11, "first_visit_all_modes_step": 3,
                                        "first_visit_mode_0": 11, "first_visit_mode_1": 2, "first_visit_mode_2": 10})
    assert row["trajectories"] == 12 and row["modes_found"] == 3
    # later visits change nothing
    tracker.record_terminals(states_of(env, a, b, c))
    assert same(first_visit_part(tracker.row()), first_visit_part(row))
    assert tracker.first_visit.tolist() == [11, 2, 10] and tracker.first_visit_step.tolist() == [3, 1, 3]


def test_the_first_row_of_a_batch_and_a_batch_of_only_modes():
    env = grid()
    tracker = MetricsTracker(env)
    a, b, c = tracker.mode_index.tolist()
    tracker.record_terminals(states_of(env, c, c, a))
    assert tracker.first_visit.tolist() == [3, NOT_VISITED, 1]
    tracker.record_terminals(states_of(env, b))
    assert first_visit_part(tracker.row())["first_visit_all_modes"] == 4


def test_an_empty_batch_counts_a_step_and_no_sample():
    env = grid()
    tracker = MetricsTracker(env)
    a = tracker.mode_index[0].item()
    tracker.record_terminals(env.all_states()[:0])
    tracker.record_terminals(states_of(env, 0, a))
    assert tracker.first_visit[0].item() == 2 and tracker.first_visit_step[0].item() == 2


def test_a_random_stream_matches_a_plain_loop():
    env = grid(5)
    tracker = MetricsTracker(env)
    generator = torch.Generator().manual_seed(3)
    terminal = env.all_states()[env.terminal_mask()]
    batches = [terminal[torch.randint(len(terminal), (int(torch.randint(1, 9, (1,), generator=generator)),), generator=generator)]
               for _ in range(60)]
    for batch in batches:
        tracker.record_terminals(batch)
    positions, steps = reference_first_visits(batches, env, tracker.mode_index.tolist())
    assert all(p is not None for p in positions)  # the stream is long enough to visit every goal
    assert tracker.first_visit.tolist() == positions and tracker.first_visit_step.tolist() == steps


def test_a_mode_listed_twice_is_found_once_for_both(monkeypatch):
    env = grid()
    modes = env.mode_indices()
    monkeypatch.setattr(env, "mode_indices", lambda: torch.cat([modes, modes[:1]]))
    tracker = MetricsTracker(env)
    assert tracker.n_modes == 4
    tracker.record_terminals(states_of(env, 0, modes[0].item()))
    assert tracker.first_visit.tolist() == [2, NOT_VISITED, NOT_VISITED, 2]
    assert tracker.row()["modes_found"] == 2


def test_many_modes_keep_the_rows_small(monkeypatch):
    monkeypatch.setattr(tracking, "MAX_MODE_COLUMNS", 2)
    env = grid()
    tracker = MetricsTracker(env)
    tracker.record_terminals(env.all_states()[tracker.mode_index])
    row = tracker.row()
    assert not any(k.startswith("first_visit_mode_") for k in row)
    assert row["first_visit_all_modes"] == 3 and row["first_visit_all_modes_step"] == 1
    arrays = tracker.artifacts(torch.full((env.n_states, 3), 1 / 3) * env.forward_mask(env.all_states()))
    assert arrays["first_visit"].tolist() == [1, 2, 3] and arrays["first_visit_step"].tolist() == [1, 1, 1]
    assert arrays["mode_index"].tolist() == tracker.mode_index.tolist()


def test_the_state_resumes_mid_stream_and_an_old_state_is_refused():
    env = grid()
    a, b, c = env.mode_indices().tolist()
    stream = [states_of(env, 0, b), states_of(env, 0, 0), states_of(env, c, a, 0)]
    straight = MetricsTracker(env)
    for batch in stream:
        straight.record_terminals(batch)

    first = MetricsTracker(env)
    first.record_terminals(stream[0])
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    state = torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)
    resumed = MetricsTracker(env)
    resumed.load_state_dict(state)
    for batch in stream[1:]:
        resumed.record_terminals(batch)
    assert same(resumed.row(), straight.row())
    assert resumed.first_visit.tolist() == [6, 2, 5] and resumed.first_visit_step.tolist() == [3, 1, 3]

    with pytest.raises(ValueError, match="before the first visit of each mode was recorded"):
        MetricsTracker(env).load_state_dict({"counts": state["counts"]})


# --------------------------------------------------------------------- every method, wired right
def spy(monkeypatch) -> dict:
    """Record every batch each tracker receives (tracker → its batches, in order)."""
    seen: dict = {}
    original = MetricsTracker.record_terminals

    def record(self, terminal_states):
        seen.setdefault(self, []).append(terminal_states.clone())
        original(self, terminal_states)

    monkeypatch.setattr(MetricsTracker, "record_terminals", record)
    return seen


GFN = dict(height=6, hidden=32, n_steps=24, log_every=6, batch_size=8)
PPO = dict(height=6, hidden=32, batch_size=16, epochs=2, n_minibatches=2, n_steps=24, log_every=6)


def trainers():
    return [
        pytest.param(lambda: EnsembleTrainer([GridTrainConfig(**GFN, seed=s) for s in (0, 1, 2)]), id="gflownet-ensemble"),
        pytest.param(lambda: PPOEnsembleTrainer([PPOConfig(**PPO, seed=0), PPOConfig(**PPO, seed=1, intrinsic="rnd", eta=0.1)]), id="ppo-ensemble"),
        pytest.param(lambda: MCMCTrainer(MCMCConfig(height=6, n_steps=40, log_every=10, seed=0)), id="mcmc"),
    ]


@pytest.mark.parametrize("make", trainers())
def test_every_method_logs_the_positions_of_its_own_stream(monkeypatch, make):
    """The logged columns equal a plain loop over exactly the batches each run recorded, one per
    training step (so ``first_visit_all_modes_step`` is the step of the row convention)."""
    seen = spy(monkeypatch)
    trainer = make()
    out = trainer.train(progress=False)
    histories = out if isinstance(out, list) else [out]
    trackers = trainer.trackers if hasattr(trainer, "trackers") else [trainer.tracker]
    for tracker, history in zip(trackers, histories):
        batches = seen[tracker]
        assert len(batches) == trainer.step_count
        modes = tracker.mode_index.tolist()
        positions, steps = reference_first_visits(batches, tracker.env, modes)
        final = history.final
        for j, p in enumerate(positions):
            value = final[first_visit_mode_column(j)]
            assert (p is None and math.isnan(value)) or value == p, (j, value, p)
        if all(p is not None for p in positions):
            assert final["first_visit_all_modes"] == max(positions)
            assert final["first_visit_all_modes_step"] == steps[positions.index(max(positions))]
        else:
            assert math.isnan(final["first_visit_all_modes"]) and math.isnan(final["first_visit_all_modes_step"])
        # a row shows what had happened by its step: the logging period no longer limits the resolution
        for row in history.rows:
            for j, p in enumerate(positions):
                visible = p is not None and p <= row["trajectories"]
                assert visible == (not math.isnan(row[first_visit_mode_column(j)]))
            assert row["modes_found"] == sum(not math.isnan(row[first_visit_mode_column(j)]) for j in range(len(modes)))
    assert any(h.final["modes_found"] for h in histories)  # not vacuous


def test_gflownet_members_log_their_solo_first_visits():
    configs = [GridTrainConfig(**GFN, seed=s, **extra) for s, extra in
               ((0, {}), (1, dict(augment="none", intrinsic="none")), (2, dict(objective="db")), (3, dict(intrinsic="count")))]
    solo = [EnsembleTrainer([c]) for c in configs]
    solo_rows = [t.train(progress=False)[0].rows for t in solo]
    ensemble = EnsembleTrainer(configs[::-1])
    for history, rows in zip(ensemble.train(progress=False)[::-1], solo_rows):
        assert [first_visit_part(r) for r in history.rows] == [first_visit_part(r) for r in rows]
    for i, trainer in enumerate(solo):
        a, b = trainer.artifacts_of(0), ensemble.artifacts_of(len(configs) - 1 - i)
        for key in ("first_visit", "first_visit_step", "mode_index"):
            assert np.array_equal(a[key], b[key]), key
    assert any(r[-1]["modes_found"] for r in solo_rows)


def test_ppo_members_log_their_solo_first_visits():
    configs = [PPOConfig(**PPO, seed=0), PPOConfig(**PPO, seed=1, intrinsic="rnd", eta=0.2), PPOConfig(**PPO, seed=2, entropy_coef=0.1)]
    solo_rows = [PPOTrainer(c).train(progress=False).rows for c in configs]
    for history, rows in zip(PPOEnsembleTrainer(configs[::-1]).train(progress=False)[::-1], solo_rows):
        assert [first_visit_part(r) for r in history.rows] == [first_visit_part(r) for r in rows]
    assert any(r[-1]["modes_found"] for r in solo_rows)


@pytest.mark.parametrize("make", trainers())
def test_a_resumed_run_logs_the_same_first_visits(make):
    straight = make()
    out = straight.train(progress=False)
    expected = [h.rows for h in (out if isinstance(out, list) else [out])]
    first = make()
    first.train(n_steps=first.config.log_every, progress=False)
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    resumed = make()
    resumed.load_state_dict(torch.load(io.BytesIO(buffer.getvalue()), weights_only=True))
    out = resumed.train(progress=False)
    for rows, want in zip([h.rows for h in (out if isinstance(out, list) else [out])], expected):
        assert [first_visit_part(r) for r in rows] == [first_visit_part(r) for r in want]


# ------------------------------------------------------------------------- runner and loaders
def make_old(store, rid: str) -> None:
    """Rewrite a stored run as an earlier version stored it: no first-visit columns."""
    table = store.read_table(rid)
    table = table.drop(columns=[c for c in table.columns if c.startswith("first_visit_")])
    meta = store.read_metadata(rid)
    meta.update(store.write_table(rid, table))
    store.write_metadata(rid, meta)


def test_loaders_mark_runs_stored_before_first_visits(tmp_path):
    from gafn_lib.repro import experiments as ex
    from gafn_lib.runner import ExperimentStore, load_results, run_id, run_sweep

    configs = [GridTrainConfig(**GFN, seed=s) for s in (0, 1)]
    fresh = run_sweep("fv", configs, results_dir=tmp_path, backend="serial", progress=False)
    assert set(FIRST_VISIT_COLUMNS) <= set(fresh.columns) and "first_visit_recorded" not in fresh
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about
        table = load_results("fv", tmp_path, configs=configs)
    labelled = table.assign(method="GAFlowNet", seed=[configs[0].seed if r == run_id(configs[0]) else configs[1].seed for r in table["run"]])
    times, budgets = ex.first_visit_times(labelled, "GAFlowNet")
    finals = labelled.sort_values("step").groupby("run").tail(1).sort_values("seed")
    assert np.array_equal(times, finals["first_visit_all_modes"].to_numpy(dtype=float), equal_nan=True)
    assert budgets.tolist() == finals["trajectories"].tolist()
    steps, step_budgets = ex.first_visit_times(labelled, "GAFlowNet", ex.FIRST_VISIT_ALL_STEP)
    assert step_budgets.tolist() == [GFN["n_steps"]] * 2
    with pytest.raises(ValueError, match="first-visit columns"):
        ex.first_visit_times(labelled, "GAFlowNet", "first_visit_mode_99")

    store = ExperimentStore.open("fv", tmp_path)
    old = run_id(configs[1])
    make_old(store, old)
    for load in (lambda: load_results("fv", tmp_path, configs=configs),
                 lambda: run_sweep("fv", configs, results_dir=tmp_path, backend="serial", progress=False)):
        with pytest.warns(UserWarning, match=f"1 of 2 runs were stored before the first visit.*{old}"):
            table = load()
        marks = table.groupby("run")["first_visit_recorded"].agg(["min", "max"])
        assert marks.loc[old].tolist() == [False, False] and marks.loc[run_id(configs[0])].tolist() == [True, True]
        assert table.loc[table["run"] == old, list(FIRST_VISIT_COLUMNS)].isna().all().all()
    # results.csv, as the sweep just wrote it (marked), and as an earlier version wrote it (no columns at all)
    with pytest.warns(UserWarning):
        assert not load_results("fv", tmp_path)["first_visit_recorded"].all()
    combined = pd.read_csv(store.results_path)
    combined.drop(columns=[c for c in combined.columns if c.startswith("first_visit_")]).to_csv(store.results_path, index=False)
    with pytest.warns(UserWarning, match="2 of 2 runs"):
        assert not load_results("fv", tmp_path)["first_visit_recorded"].any()

    with pytest.warns(UserWarning):
        table = load_results("fv", tmp_path, configs=configs)
    labelled = table.assign(method="GAFlowNet", seed=[0 if r == run_id(configs[0]) else 1 for r in table["run"]])
    with pytest.raises(ValueError, match=f"{old}.*stored before the first visit"):
        ex.first_visit_times(labelled, "GAFlowNet")
    ex.first_visit_times(labelled, "GAFlowNet", seed=0)  # the recorded run alone is fine


def test_an_old_checkpoint_restarts_the_run(tmp_path):
    """A checkpoint saved before first visits were recorded cannot resume (those times are
    unknown): the runner warns and trains the run from step 0, to the uninterrupted result."""
    from gafn_lib.registry import make_trainer
    from gafn_lib.runner import ExperimentStore, run_id, run_sweep
    from gafn_lib.runner.store import atomic_torch_save

    config = MCMCConfig(height=6, n_steps=40, log_every=10, seed=0)
    expected = run_sweep("straight", [config], results_dir=tmp_path, backend="serial", progress=False)
    trainer = make_trainer(config)
    trainer.train(n_steps=20, progress=False)
    state = trainer.state_dict()
    state["tracker"] = {"counts": state["tracker"]["counts"]}
    store = ExperimentStore.open("old", tmp_path)
    atomic_torch_save(store.checkpoint_path(run_id(config)), state)
    with pytest.warns(UserWarning, match="could not resume.*before the first visit"):
        table = run_sweep("old", [config], results_dir=tmp_path, backend="serial", progress=False)
    assert store.read_metadata(run_id(config))["resumed_from_step"] == 0
    drop = lambda t: t.drop(columns=["wall_seconds"])
    pd.testing.assert_frame_equal(drop(table), drop(expected), check_exact=True)
