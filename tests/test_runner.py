"""Experiment runner: run ids, atomic writes, cache skip, kill-and-resume, pool and Ray backends, errors."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import pytest

import gafn_lib.runner.task as task_module
from gafn_lib.grid.config import GridTrainConfig
from gafn_lib.registry import register
from gafn_lib.runner import ExperimentStore, SweepError, atomic_write_text, load_results, run_id, run_sweep, run_table

WALL_CLOCK_COLUMNS = ["wall_seconds"]
#: The final arrays of a hypergrid GFlowNet run (MetricsTracker.artifacts).
GRID_ARRAYS = {"p_exact", "visit_counts", "p_true", "mode_index", "first_visit", "first_visit_step"}


def tiny(seed: int = 0, **changes) -> GridTrainConfig:
    return GridTrainConfig(height=8, n_steps=40, log_every=10, hidden=32, seed=seed, **changes)


def without_wall_clock(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns=WALL_CLOCK_COLUMNS).reset_index(drop=True)


def assert_same_runs(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Equal tables but for float rounding: a run trained inside an ensemble (serial backend, one
    task) and alone (a pool splits the group across workers) agree to ~1e-8, not bit for bit."""
    pd.testing.assert_frame_equal(without_wall_clock(a), without_wall_clock(b), check_exact=False, rtol=1e-6)


# A config type whose trainer always fails, registered at import so spawned workers know it too.
@dataclass(frozen=True)
class ExplodingConfig:
    n_steps: int = 5
    seed: int = 0


class ExplodingTrainer:
    def __init__(self, config: ExplodingConfig):
        self.config = config

    def train(self, n_steps=None, progress=True, on_log=None):
        raise RuntimeError(f"exploded on purpose (seed {self.config.seed})")


register(ExplodingConfig, f"{__name__}.ExplodingTrainer")


# --------------------------------------------------------------------------------------- run ids
@dataclass(frozen=True)
class PinnedConfig:
    height: int = 8
    lr: float = 1e-3
    name: str = "tb"
    sizes: tuple = (1, 2)
    extra: float | None = None


PinnedConfig.__module__ = "example.pinned"  # the golden id below must not depend on how pytest names this module


def test_run_id_is_stable_across_processes_and_pinned():
    config = tiny(seed=3)
    assert run_id(config) == run_id(tiny(seed=3))
    code = "from gafn_lib.grid.config import GridTrainConfig as C; from gafn_lib.runner import run_id; " \
           "print(run_id(C(height=8, n_steps=40, log_every=10, hidden=32, seed=3)))"
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == run_id(config)
    # the scheme itself is pinned: changing it would orphan every stored result
    assert run_id(PinnedConfig()) == "0301ffcdf73eb13c"
    documented = {"schema": "gafn-run/1", "class": "example.pinned.PinnedConfig",
                  "fields": {"height": 8, "lr": 0.001, "name": "tb", "sizes": [1, 2], "extra": None}}
    text = json.dumps(documented, sort_keys=True, separators=(",", ":"))
    assert hashlib.sha256(text.encode()).hexdigest()[:16] == run_id(PinnedConfig())
    assert len(run_id(config)) == 16 and int(run_id(config), 16) >= 0
    # a grid run's id from before the ``sampling`` field existed (added_field: "auto" is left out)
    assert run_id(config) == "8ec2978678bfbe55"


def test_run_id_changes_with_every_field():
    base = tiny()
    alternatives = dict(
        ndim=3, height=9, reward="dense", termination="exit", r0=0.2, r1=0.6, r2=3.0, objective="db",
        augment="edge", intrinsic="count", eta=0.02, subtb_lambda=0.5, hidden=33, n_layers=3, uniform_pb=True,
        lr=2e-3, lr_logz=0.2, batch_size=8, n_steps=41, epsilon=0.1, temperature=2.0, log_every=5, seed=1,
        device="cuda", threads=2, sampling="per_move",
    )
    assert set(alternatives) == set(GridTrainConfig.field_names()), "list an alternative value for every field"
    ids = {run_id(base)}
    for name, value in alternatives.items():
        ids.add(run_id(replace(base, **{name: value})))
    assert len(ids) == len(alternatives) + 1
    # equal configs share an id (2 == 2.0), different classes with equal fields do not
    assert run_id(replace(base, r2=2)) == run_id(replace(base, r2=2.0))
    assert run_id(ExplodingConfig(n_steps=5, seed=0)) != run_id(PinnedConfig())


# ---------------------------------------------------------------------------------- atomic writes
def test_atomic_write_failure_leaves_old_version(tmp_path, monkeypatch):
    target = tmp_path / "table.csv"
    atomic_write_text(target, "old,complete\n")

    def crash(fd):
        raise OSError("disk vanished")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk vanished"):
        atomic_write_text(target, "new,but,never,finished\n" * 1000)
    assert target.read_text() == "old,complete\n"
    assert list(tmp_path.iterdir()) == [target]  # the temporary file was cleaned up


@pytest.mark.parametrize("existed", [True, False])
def test_atomic_write_killed_mid_write(tmp_path, existed):
    """SIGKILL after the new bytes are written but before the rename: old version or nothing."""
    target = tmp_path / "meta.json"
    if existed:
        atomic_write_text(target, '{"finished": true}\n')
    script = textwrap.dedent(
        f"""
        import os, signal
        from gafn_lib.runner import atomic_write_text
        os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)
        atomic_write_text({str(target)!r}, '{{"finished": fal' + 'x' * 100000)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    if existed:
        assert target.read_text() == '{"finished": true}\n'
    else:
        assert not target.exists()


def test_tables_round_trip_exactly(tmp_path):
    rows = [{"step": i, "loss": 0.1 * 3**-i + 1e-300 * i, "name": "none", "maybe": float("nan") if i else 1.5} for i in range(50)]
    table = run_table("abc", tiny(), rows)
    store = ExperimentStore(tmp_path)
    store.write_table("abc", table)
    # exact floats; only the dtype of the all-missing `threads` column (None → NaN) changes
    pd.testing.assert_frame_equal(store.read_table("abc"), table, check_exact=True, check_dtype=False)


def test_run_ids_that_look_like_numbers_stay_text(tmp_path, monkeypatch):
    # a real run id of the paper sweep (TB, H = 8, seed 3) is decimal digits only: read as an
    # integer, it matched no run id, and its run was missing from notebook 01's tables
    digits = "2811874323528678"
    store = ExperimentStore(tmp_path / "s")
    for rid in (digits, "0123456789012345", "12e4567890123456"):
        store.write_table(rid, run_table(rid, tiny(), [{"step": 1, "loss": 0.5}]))
        assert store.read_table(rid)["run"].tolist() == [rid]
    # end to end: a sweep stores the run under that id and the notebooks' loader finds it
    import gafn_lib.runner as runner_package
    import gafn_lib.runner.sweep as sweep_module
    from gafn_lib.repro import experiments as ex

    monkeypatch.setattr(sweep_module, "run_id", lambda config: digits)
    monkeypatch.setattr(runner_package, "run_id", lambda config: digits)
    run_sweep("digits", [tiny()], results_dir=tmp_path, backend="serial", progress=False)
    table, missing = ex.load_complete([("TB", tiny())], tmp_path, experiment="digits")
    assert missing == [] and table["run"].unique().tolist() == [digits] and len(table) == 4


# ------------------------------------------------------------------------------- store and cache
def test_sweep_writes_store_and_skips_complete_runs(tmp_path, monkeypatch):
    configs = [tiny(0), tiny(1), tiny(0)]  # the duplicate runs once
    table = run_sweep("cache", configs, results_dir=tmp_path, backend="serial", progress=False)
    store = ExperimentStore(tmp_path / "cache")
    ids = [run_id(tiny(0)), run_id(tiny(1))]
    assert table["run"].unique().tolist() == ids
    assert len(table) == 2 * 4 and table.groupby("run")["step"].apply(list).tolist() == [[10, 20, 30, 40]] * 2
    assert {"height", "seed", "augment", "l1_mean_exact", "modes_found"} <= set(table.columns)
    meta = json.loads(store.metadata_path(ids[0]).read_text())
    assert meta["finished"] is True and meta["status"] == "finished"
    assert meta["config_class"] == "gafn_lib.config.GridTrainConfig" and meta["config"]["seed"] == 0
    assert set(meta["versions"]) >= {"python", "torch", "numpy"} and "git_commit" in meta and meta["wall_seconds"] > 0
    pd.testing.assert_frame_equal(load_results("cache", tmp_path), table)

    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "cache" / "runs").iterdir()}

    def no_training(config):
        raise AssertionError("a complete run was trained again")

    monkeypatch.setattr(task_module, "make_trainer", no_training)
    again = run_sweep("cache", configs, results_dir=tmp_path, backend="serial", progress=False)
    pd.testing.assert_frame_equal(again, table)
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "cache" / "runs").iterdir()} == mtimes


@pytest.mark.parametrize("damage", ["truncate", "edit"])
def test_damaged_finished_run_is_recomputed_with_a_warning(tmp_path, damage):
    configs = [tiny(0), tiny(1)]
    table = run_sweep("damaged", configs, results_dir=tmp_path, backend="serial", progress=False)
    store = ExperimentStore(tmp_path / "damaged")
    victim = run_id(tiny(1))
    meta = store.read_metadata(victim)
    assert meta["n_rows"] == 4 and len(meta["table_sha256"]) == 64
    assert store.damage(victim) is None
    path = store.table_path(victim)
    lines = path.read_text().splitlines(keepends=True)
    if damage == "truncate":  # as a user would: cut the last two rows of one finished run
        path.write_text("".join(lines[:-2]))
    else:  # same row count, one number changed
        path.write_text("".join(lines[:-1]) + lines[-1].replace(",4", ",5", 1))
    assert store.damage(victim) is not None
    with pytest.raises(ValueError, match=victim):
        load_results("damaged", tmp_path, configs=configs)
    with pytest.warns(UserWarning, match=rf"experiment 'damaged': run {victim} .*recomputing"):
        again = run_sweep("damaged", configs, results_dir=tmp_path, backend="serial", progress=False)
    pd.testing.assert_frame_equal(without_wall_clock(again), without_wall_clock(table))
    assert store.damage(victim) is None


def test_sweep_groups_compatible_runs_into_ensembles(tmp_path):
    from gafn_lib.baselines.mcmc import MCMCConfig

    grid = [tiny(0), tiny(1), tiny(2, augment="none"), tiny(3, objective="db", eta=0.02)]
    mcmc = MCMCConfig(height=8, n_steps=40, log_every=10)
    grouped = run_sweep("grouped", grid + [mcmc], results_dir=tmp_path, backend="serial", progress=False)
    alone = run_sweep("alone", grid + [mcmc], results_dir=tmp_path, backend="serial", progress=False, ensemble_size=1)
    assert grouped["run"].unique().tolist() == [run_id(c) for c in grid + [mcmc]]
    assert_same_runs(grouped, alone)
    store = ExperimentStore(tmp_path / "grouped")
    members = [store.read_metadata(run_id(c))["ensemble"] for c in grid]
    assert {m["id"] for m in members} == {members[0]["id"]} and sorted(m["member"] for m in members) == [0, 1, 2, 3]
    assert "ensemble" not in store.read_metadata(run_id(mcmc))
    assert "ensemble" not in ExperimentStore(tmp_path / "alone").read_metadata(run_id(grid[0]))
    for c in grid:  # arrays stored per member, as for a solo run
        assert set(store.read_artifacts(run_id(c))) == GRID_ARRAYS
    # the cap splits a group; a pool splits it across its workers
    from gafn_lib.runner.store import ExperimentStore as Store
    from gafn_lib.runner.sweep import _make_tasks

    runs = {run_id(c): c for c in grid}
    sizes = lambda tasks: sorted(len(getattr(t, "run_ids", (None,))) for t in tasks)
    assert sizes(_make_tasks(runs, list(runs), Store(tmp_path / "x"), None, "serial", {}, 32, 1)) == [4]
    assert sizes(_make_tasks(runs, list(runs), Store(tmp_path / "x"), None, "serial", {}, 3, 1)) == [2, 2]
    assert sizes(_make_tasks(runs, list(runs), Store(tmp_path / "x"), None, "process", {}, 32, 2)) == [2, 2]
    assert sizes(_make_tasks(runs, list(runs), Store(tmp_path / "x"), None, "serial", {}, 1, 1)) == [1, 1, 1, 1]


def test_failed_run_is_reported_and_others_kept(tmp_path):
    configs = [tiny(0), ExplodingConfig(seed=7)]
    with pytest.raises(SweepError) as info:
        run_sweep("errors", configs, results_dir=tmp_path, backend="serial", progress=False)
    bad = run_id(ExplodingConfig(seed=7))
    message = str(info.value)
    assert bad in message and "exploded on purpose (seed 7)" in message and "Traceback" in message
    assert "1 of 2 runs" in message and list(info.value.failures) == [bad]
    assert info.value.results["run"].unique().tolist() == [run_id(tiny(0))]
    store = ExperimentStore(tmp_path / "errors")
    assert store.is_complete(run_id(tiny(0))) and not store.is_complete(bad)
    assert "exploded on purpose" in store.read_metadata(bad)["error"]


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="backend"):
        run_sweep("x", [tiny()], backend="threads")
    with pytest.raises(ValueError, match="experiment name"):
        run_sweep("a/b", [tiny()])
    with pytest.raises(ValueError, match="no trainer registered|unknown config class"):
        run_sweep("x", [PinnedConfig()])
    with pytest.raises(ValueError, match="checkpoint_every"):
        run_sweep("x", [tiny()], checkpoint_every=0)


# --------------------------------------------------------------------------------- kill & resume
RESUME_CHILD = """
import sys, time
from gafn_lib.grid.config import GridTrainConfig
from gafn_lib.runner import run_sweep
from gafn_lib.core.trainer import GridTrainer

step = GridTrainer.step
def slow_step(self):  # slower steps give the test time to kill the run after its first checkpoint
    time.sleep(0.05)
    return step(self)
GridTrainer.step = slow_step
config = GridTrainConfig(height=8, n_steps=60, log_every=10, hidden=32, seed=5)
run_sweep("resume", [config], results_dir=sys.argv[1], backend="serial", checkpoint_every=20, progress=False)
"""


def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path):
    config = GridTrainConfig(height=8, n_steps=60, log_every=10, hidden=32, seed=5)
    store = ExperimentStore(tmp_path / "resume")
    rid = run_id(config)
    child = subprocess.Popen([sys.executable, "-c", RESUME_CHILD, str(tmp_path)], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not store.checkpoint_path(rid).exists():
            assert child.poll() is None, f"the run ended before its first checkpoint: {child.stderr.read()}"
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    assert store.checkpoint_path(rid).exists() and not store.is_complete(rid)
    assert store.read_metadata(rid)["status"] == "running"

    resumed = run_sweep("resume", [config], results_dir=tmp_path, backend="serial", checkpoint_every=20, progress=False)
    meta = store.read_metadata(rid)
    assert meta["finished"] and meta["resumed_from_step"] in (20, 40)
    assert not store.checkpoint_path(rid).exists()  # deleted once the results are written

    uninterrupted = run_sweep("straight", [config], results_dir=tmp_path, backend="serial", progress=False)
    assert resumed["step"].tolist() == [10, 20, 30, 40, 50, 60]
    pd.testing.assert_frame_equal(without_wall_clock(resumed), without_wall_clock(uninterrupted))


# -------------------------------------------------------------------------------------- backends
def test_process_pool_matches_serial_and_reports_worker_errors(tmp_path):
    configs = [tiny(0), tiny(1)]
    serial = run_sweep("serial", configs, results_dir=tmp_path, backend="serial", progress=False)
    with pytest.raises(SweepError) as info:
        run_sweep("pool", configs + [ExplodingConfig(seed=3)], results_dir=tmp_path, backend="process", workers=2, progress=False)
    assert run_id(ExplodingConfig(seed=3)) in str(info.value) and "exploded on purpose (seed 3)" in str(info.value)
    assert_same_runs(info.value.results, serial)
    meta = ExperimentStore(tmp_path / "pool").read_metadata(run_id(tiny(0)))
    assert meta["backend"] == "process" and meta["pid"] != os.getpid()
    # the finished runs are stored: a sweep of just them is read back without training
    pooled = run_sweep("pool", configs, results_dir=tmp_path, backend="process", workers=2, progress=False)
    assert_same_runs(pooled, serial)


def test_ray_matches_serial(tmp_path):
    ray = pytest.importorskip("ray")
    configs = [tiny(0), tiny(1)]
    serial = run_sweep("serial", configs, results_dir=tmp_path, backend="serial", progress=False)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = run_sweep("ray", configs, results_dir=tmp_path, backend="ray", progress=False)
    finally:
        ray.shutdown()
    assert_same_runs(on_ray, serial)
    assert ExperimentStore(tmp_path / "ray").read_metadata(run_id(tiny(1)))["backend"] == "ray"


def test_final_arrays_are_stored_and_loaded(tmp_path):
    from gafn_lib.runner import load_artifacts
    from gafn_lib.core.trainer import GridTrainer

    config = GridTrainConfig(height=6, n_steps=20, log_every=10, hidden=16, seed=4)
    run_sweep("arrays", [config], results_dir=tmp_path, backend="serial", progress=False)
    arrays = load_artifacts("arrays", config, tmp_path)
    direct = GridTrainer(config)
    direct.train(progress=False)
    expected = direct.artifacts()
    assert set(arrays) == GRID_ARRAYS
    for key, value in expected.items():
        assert (arrays[key] == value).all(), key
    with pytest.raises(FileNotFoundError, match="not complete"):
        load_artifacts("arrays", replace(config, seed=5), tmp_path)


def test_checkpointed_runs_report_their_progress_on_stderr(tmp_path, capfd):
    config = replace(tiny(0), n_steps=60)
    run_sweep("progress", [config], results_dir=tmp_path, backend="serial", checkpoint_every=20, progress=False)
    lines = [l for l in capfd.readouterr().err.splitlines() if "checkpoint at step" in l]
    rid = run_id(config)
    assert [l.split("checkpoint at step ")[1].split(" ")[0] for l in lines] == ["20", "40"]  # none at the last step
    assert all(l.startswith(f"run {rid} (GridTrainConfig augment {config.augment}, seed 0): ") and " of 60; " in l and "steps/s since step 0" in l
               and l.endswith(" left") for l in lines)
    # an ensemble's line names its members by the distinct values of their configs
    pair = [replace(tiny(s), n_steps=40) for s in (0, 1)]
    run_sweep("progress-ensemble", pair, results_dir=tmp_path, backend="serial", checkpoint_every=20, progress=False)
    lines = [l for l in capfd.readouterr().err.splitlines() if "checkpoint at step" in l]
    assert len(lines) == 1 and lines[0].startswith("run ens-")
    assert "(ensemble of 2: GridTrainConfig: height 8; " in lines[0] and "; seed 0/1): checkpoint at step 20 of 40; " in lines[0]
    # without checkpoints a sweep writes no such line
    run_sweep("quiet", [tiny(1)], results_dir=tmp_path, backend="serial", progress=False)
    assert "checkpoint at step" not in capfd.readouterr().err


def test_sweep_bar_reads_the_average_rate_after_an_ensemble_bursts():
    import io
    from gafn_lib.runner.sweep import sweep_progress_bar
    out = io.StringIO()
    bar = sweep_progress_bar(214, 0, "grid", file=out, mininterval=0.0)
    bar.start_t -= 1094.0  # 20 members of one ensemble finish together after 1,094 s
    bar.last_print_t -= 1094.0
    for _ in range(20):
        bar.update(1)
        bar.refresh()
    shown = out.getvalue().split("\r")[-1]
    bar.close()
    # 194 runs left at 1,094 s / 20 runs = 54.7 s per run: 2 h 56 min 51 s (a moving average would say 59 h)
    assert "20/214" in shown and "<2:56:5" in shown and "54.70s/run" in shown, shown


def test_format_duration_by_hand():
    from gafn_lib.runner.durations import format_duration
    assert [format_duration(s) for s in (-5.0, 0.0, 59.4, 59.6, 89.0, 3569.0, 3571.0, 3890.0, 90_000.0)] == [
        "0 s", "0 s", "59 s", "1 min", "1 min", "59 min", "1 h 00 min", "1 h 05 min", "25 h 00 min"]
    with pytest.raises(ValueError, match="seconds must be finite"):
        format_duration(float("nan"))


def test_progress_line_by_hand(tmp_path):
    store = ExperimentStore.open("x", tmp_path)
    line = task_module.Checkpointer(store, "abc", 100, 1_000, 10_000, label="MolTrainConfig, seed 2").progress_line(4_000, 300.0)
    assert line == "run abc (MolTrainConfig, seed 2): checkpoint at step 4,000 of 10,000; 10 steps/s since step 1,000, about 10 min left"
    long = task_module.Checkpointer(store, "abc", 100, 0, 62_500).progress_line(2_000, 250.0)
    assert long == "run abc: checkpoint at step 2,000 of 62,500; 8 steps/s since step 0, about 2 h 06 min left"  # 60,500 steps at 8/s
    assert task_module.Checkpointer(store, "abc", 100, 500, None).progress_line(500, 0.0) == "run abc: checkpoint at step 500"


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, dead but not yet reaped by its new parent, counts as gone)."""
    import os
    from pathlib import Path

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and any(line.startswith("State:") and "Z" in line.split()[1] for line in status.read_text().splitlines()))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to tell a zombie from a live process")
def test_a_pool_worker_stops_when_its_sweep_process_is_killed(tmp_path):
    """A sweep killed with SIGKILL (the end of a sitting) must not leave its pool worker training on
    as an orphan beside the next sweep: the worker exits within a few poll intervals."""
    import os
    import signal
    import subprocess
    import textwrap
    import time

    pid_file = tmp_path / "worker.pid"
    script = tmp_path / "sweep.py"
    script.write_text(textwrap.dedent(f"""
        import multiprocessing, os, time
        from concurrent.futures import ProcessPoolExecutor
        from gafn_lib.runner import task

        def job(path):
            open(path, "w").write(str(os.getpid()))
            time.sleep(120)  # a long run

        if __name__ == "__main__":
            task.PARENT_POLL_SECONDS = 0.2
            pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=task.init_worker)
            pool.submit(job, {str(pid_file)!r})
            time.sleep(120)
    """))
    sweep = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
        worker = int(pid_file.read_text())
        assert _alive(worker)
        sweep.send_signal(signal.SIGKILL)
        sweep.wait(10)
        deadline = time.monotonic() + 10  # the spawned worker polls every 2 s (the module default: it re-imports task)
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(worker), "the worker outlived its sweep process"
    finally:
        if sweep.poll() is None:
            sweep.kill()
        if pid_file.exists() and pid_file.read_text() and _alive(int(pid_file.read_text())):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_exit_with_parent_checks_its_interval():
    from gafn_lib.runner.task import exit_with_parent

    with pytest.raises(ValueError, match="poll_seconds"):
        exit_with_parent(0)
