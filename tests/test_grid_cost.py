"""The GridWorld cost model (:mod:`gafn_lib.repro.grid_cost`) and the sweep's cost-weighted progress."""

from __future__ import annotations

import io
import math

import pytest

from gafn_lib.baselines.mcmc import MCMCConfig
from gafn_lib.baselines.ppo import PPOConfig
from gafn_lib.core.ensemble import EnsembleTrainer
from gafn_lib.grid.config import GridTrainConfig
from gafn_lib.molecules.config import MolTrainConfig
from gafn_lib.repro import grid_cost
from gafn_lib.runner import ExperimentStore, run_id, run_sweep
from gafn_lib.runner.status import sweep_status
from gafn_lib.runner.store import atomic_torch_save
from gafn_lib.runner.sweep import SweepProgress, expected_seconds, unique_runs, _make_tasks


def test_log_log_interpolation_by_hand():
    anchors = {8: 2.0, 32: 32.0}
    # log-linear: t(H) = 2 · (H/8)^2 between the anchors
    assert grid_cost.interpolate_log_log(anchors, 16) == pytest.approx(8.0)
    assert grid_cost.interpolate_log_log(anchors, 8) == 2.0 and grid_cost.interpolate_log_log(anchors, 32) == 32.0
    # outside the anchors: the nearest one's value
    assert grid_cost.interpolate_log_log(anchors, 4) == 2.0 and grid_cost.interpolate_log_log(anchors, 128) == 32.0
    with pytest.raises(ValueError, match="height must be an integer >= 1"):
        grid_cost.interpolate_log_log(anchors, 0)
    with pytest.raises(ValueError, match="anchors must not be empty"):
        grid_cost.interpolate_log_log({}, 8)


def test_seconds_per_step_by_method_and_height():
    table = grid_cost.MS_PER_MEMBER_STEP
    gafn = GridTrainConfig(height=128, intrinsic="rnd", augment="joint")
    tb = GridTrainConfig(height=128, intrinsic="none", augment="none")
    assert grid_cost.seconds_per_step(gafn) == pytest.approx(table["gflownet"][128] * grid_cost.INTRINSIC_FACTOR / 1000)
    assert grid_cost.seconds_per_step(tb) == pytest.approx(table["gflownet"][128] * grid_cost.PLAIN_FACTOR / 1000)
    # a half-and-half ensemble costs the measured mean
    assert (grid_cost.INTRINSIC_FACTOR + grid_cost.PLAIN_FACTOR) / 2 == 1.0
    assert grid_cost.seconds_per_step(PPOConfig(height=8)) == pytest.approx(table["ppo"][8] / 1000)
    assert grid_cost.seconds_per_step(MCMCConfig(height=64)) == pytest.approx(table["mcmc"][8] / 1000)
    # from H = 32 on (visited mode) larger grids never cost less for the GFlowNets; below, table
    # mode makes H = 16 a little dearer per step than H = 32 (measured)
    costs = [grid_cost.seconds_per_step(GridTrainConfig(height=h)) for h in (32, 48, 64, 96, 128)]
    assert costs == sorted(costs)
    small = [grid_cost.seconds_per_step(GridTrainConfig(height=h)) for h in (8, 12, 16)]
    assert small == sorted(small) and max(small) < costs[-1]
    # per-move sampling (the notebooks' runs at H = 128) costs its measured fraction
    assert grid_cost.seconds_per_step(GridTrainConfig(height=128, sampling="per_move")) == pytest.approx(
        grid_cost.PER_MOVE_FACTOR * grid_cost.seconds_per_step(gafn))
    # not a grid run: no estimate
    assert grid_cost.seconds_per_step(MolTrainConfig()) is None
    assert grid_cost.run_seconds(MolTrainConfig()) is None


def test_run_seconds_counts_the_steps_left():
    config = GridTrainConfig(height=16, n_steps=1_000)
    per_step = grid_cost.seconds_per_step(config)
    assert grid_cost.run_seconds(config) == pytest.approx(1_000 * per_step)
    assert grid_cost.run_seconds(config, steps_done=750) == pytest.approx(250 * per_step)
    with pytest.raises(ValueError, match=r"steps_done must be in \[0, 1000\]"):
        grid_cost.run_seconds(config, steps_done=1_001)


def weighted_bar(seconds_left, seconds_total, n_runs, n_done):
    out = io.StringIO()
    progress = SweepProgress("grid", n_runs, n_done, seconds_left=seconds_left, seconds_total=seconds_total, file=out, mininterval=0.0)
    return progress, out


def test_weighted_bar_reads_the_time_left_from_the_cost_done():
    # four runs left: one cheap (10 s expected), three dear (300 s each); 90 s of earlier work done
    left = {"cheap": 10.0, "a": 300.0, "b": 300.0, "c": 300.0}
    progress, out = weighted_bar(left, 1000.0, n_runs=5, n_done=1)
    progress.bar.start_t -= 20.0  # the cheap run took 20 s: twice its estimate
    progress.bar.last_print_t -= 20.0
    progress.run_done("cheap")
    shown = out.getvalue().split("\r")[-1]
    progress.close()
    # 100 of 1000 expected seconds done = 10 %; 900 left at 10 done per 20 s: 30 min, where counting
    # runs (1 of 4 in 20 s) would have said 1 min
    assert "10%" in shown and "2/5 runs" in shown and "<30:00" in shown, shown


def test_weighted_bar_counts_failures_and_needs_a_consistent_total():
    progress, out = weighted_bar({"a": 5.0, "b": 5.0}, 10.0, n_runs=2, n_done=0)
    progress.run_done("a", failed=True)
    shown = out.getvalue().split("\r")[-1]
    progress.close()
    assert "1/2 runs, 1 failed" in shown and "50%" in shown, shown
    with pytest.raises(ValueError, match="seconds_total must be at least the sum of seconds_left"):
        SweepProgress("grid", 2, 0, seconds_left={"a": 5.0, "b": 5.0}, seconds_total=9.0, disable=True)


def tiny(seed: int, height: int = 8) -> GridTrainConfig:
    return GridTrainConfig(height=height, n_steps=40, log_every=10, hidden=32, seed=seed)


def test_expected_seconds_count_a_checkpoint_as_done(tmp_path):
    configs = [tiny(s) for s in range(2)]
    runs = unique_runs("ec", configs)
    store = ExperimentStore.open("ec", tmp_path)
    tasks = _make_tasks(runs, list(runs), store, None, "serial", {}, 12, 1)
    per_step = grid_cost.seconds_per_step(configs[0])
    left, total = expected_seconds(runs, tasks, store, grid_cost.seconds_per_step)
    assert total == pytest.approx(2 * 40 * per_step) and sum(left.values()) == pytest.approx(total)
    trainer = EnsembleTrainer(configs)
    trainer.train(n_steps=30, progress=False)
    atomic_torch_save(store.checkpoint_path(tasks[0].ensemble_id), trainer.state_dict())
    left, total = expected_seconds(runs, tasks, store, grid_cost.seconds_per_step)
    assert left == pytest.approx({rid: 10 * per_step for rid in runs})
    # one config without an estimate: the sweep counts runs
    assert expected_seconds(runs, tasks, store, lambda config: None) is None


def test_status_gives_the_core_hours_left_per_task(tmp_path):
    configs = [tiny(s) for s in range(2)] + [tiny(s, height=16) for s in range(2)]
    run_sweep("ch", configs[:1], results_dir=tmp_path, backend="serial", progress=False, ensemble_size=1)
    table = sweep_status("ch", configs, results_dir=tmp_path, workers=1, step_seconds=grid_cost.seconds_per_step)
    hours = dict(zip(table["status"] + ":" + table["runs"].astype(str), table["core_hours_left"]))
    expected_left = (grid_cost.run_seconds(configs[1]) + 2 * grid_cost.run_seconds(configs[2])) / 3600
    assert hours["finished:1"] == 0.0
    assert table.loc[table["status"] != "finished", "core_hours_left"].sum() == pytest.approx(expected_left)
    # without step_seconds the table keeps its columns; with an unknown cost the task's hours are NaN
    assert "core_hours_left" not in sweep_status("ch", configs, results_dir=tmp_path, workers=1)
    unknown = sweep_status("ch", configs, results_dir=tmp_path, workers=1, step_seconds=lambda c: None)
    assert unknown.loc[unknown["status"] != "finished", "core_hours_left"].map(math.isnan).all()


def test_a_sweep_with_costs_trains_as_without(tmp_path):
    configs = [tiny(s) for s in range(2)]
    weighted = run_sweep("w", configs, results_dir=tmp_path / "a", backend="serial", progress=True,
                         step_seconds=grid_cost.seconds_per_step)
    plain = run_sweep("w", configs, results_dir=tmp_path / "b", backend="serial", progress=False)
    assert weighted.drop(columns="wall_seconds", errors="ignore").equals(plain.drop(columns="wall_seconds", errors="ignore"))
    assert {run_id(c) for c in configs} == set(weighted["run"])
