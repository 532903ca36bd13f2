"""Run locks: a second sweep on the same store leaves runs that a live process is training alone."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from gafn_lib.grid.config import GridTrainConfig
from gafn_lib.runner import ExperimentStore, RunsInProgressError, SweepError, run_id, run_sweep
from gafn_lib.runner.locks import RunLocks, process_alive, process_start


def tiny(seed: int) -> GridTrainConfig:
    return GridTrainConfig(height=6, n_steps=10, log_every=5, hidden=16, seed=seed)


def write_lock(store: ExperimentStore, run: str, pid: int, host: str | None = None, start: str | None = None) -> None:
    folder = store.root / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    record = {"pid": pid, "host": host or socket.gethostname(), "started_at": "2026-01-01T00:00:00+00:00",
              "process_start": start if start is not None else process_start(pid)}
    (folder / f"{run}.lock").write_text(json.dumps(record))


@pytest.fixture
def sleeper():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield proc
    proc.kill()
    proc.wait()


def test_run_locked_by_a_live_process_is_left_to_it(tmp_path, sleeper):
    a, b = tiny(0), tiny(1)
    store = ExperimentStore.open("locks", tmp_path)
    write_lock(store, run_id(a), sleeper.pid)
    with pytest.raises(RunsInProgressError, match=rf"1 of 2 runs .* \(pid {sleeper.pid} on {socket.gethostname()}") as info:
        run_sweep("locks", [a, b], results_dir=tmp_path, backend="serial", progress=False, wait=False)
    assert set(info.value.busy) == {run_id(a)}
    assert store.is_complete(run_id(b)) and not store.is_complete(run_id(a))  # the free run was trained
    assert (store.root / "locks" / f"{run_id(a)}.lock").exists()  # not ours: kept
    assert not (store.root / "locks" / f"{run_id(b)}.lock").exists()  # ours: released


@pytest.mark.parametrize("case", ["dead process", "reused pid", "unreadable and old"])
def test_stale_lock_is_taken_over(tmp_path, sleeper, case):
    config = tiny(0)
    store = ExperimentStore.open("locks", tmp_path)
    rid = run_id(config)
    if case == "dead process":
        done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
        write_lock(store, rid, int(done.stdout))
    elif case == "reused pid":  # a live pid, but not the process that wrote the lock
        if process_start(sleeper.pid) is None:
            pytest.skip("no /proc: process start times unavailable")
        write_lock(store, rid, sleeper.pid, start="1")
    else:
        path = store.root / "locks" / f"{rid}.lock"
        path.parent.mkdir(parents=True)
        path.write_text('{"pid": 12')  # a writer killed mid-write
        os.utime(path, (0, 0))
    run_sweep("locks", [config], results_dir=tmp_path, backend="serial", progress=False)
    assert store.is_complete(rid)
    assert list((store.root / "locks").iterdir()) == []


def test_lock_from_another_host_is_respected(tmp_path):
    config = tiny(0)
    store = ExperimentStore.open("locks", tmp_path)
    write_lock(store, run_id(config), 1, host="some-other-node")
    with pytest.raises(RunsInProgressError, match="some-other-node") as info:
        run_sweep("locks", [config], results_dir=tmp_path, backend="serial", progress=False, wait=False)
    assert str(store.root / "locks" / f"{run_id(config)}.lock") in str(info.value)


def test_locks_are_released_after_success_and_failure(tmp_path, monkeypatch):
    store = ExperimentStore.open("locks", tmp_path)
    run_sweep("locks", [tiny(0), tiny(1)], results_dir=tmp_path, backend="serial", progress=False)
    assert list((store.root / "locks").iterdir()) == []

    import gafn_lib.runner.task as task_module

    def explode(task):
        raise RuntimeError("boom")

    monkeypatch.setattr(task_module, "execute_run", explode)
    monkeypatch.setattr(task_module, "execute_ensemble", explode)
    with pytest.raises((SweepError, RuntimeError)):
        run_sweep("locks", [tiny(2)], results_dir=tmp_path, backend="serial", progress=False)
    assert list((store.root / "locks").iterdir()) == []


def test_process_alive():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    stat = Path(f"/proc/{child.pid}/stat")
    if stat.exists():  # Linux: wait (without reaping it) until the child has exited and is a zombie
        deadline = time.monotonic() + 30
        while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline, "the child did not exit within 30 s"
            time.sleep(0.01)
        assert not process_alive(child.pid)  # a zombie keeps its pid but runs nothing
    child.wait()
    assert process_alive(os.getpid())
    assert process_alive(os.getpid(), process_start(os.getpid()))
    assert not process_alive(0) and not process_alive(-5)
    if process_start(os.getpid()) is not None:
        assert not process_alive(os.getpid(), "1")  # same pid, other start time: another process


def test_acquire_and_release_directly(tmp_path, sleeper):
    first, second = RunLocks(tmp_path), RunLocks(tmp_path)
    assert first.acquire(["r1", "r2"]) == {}
    second.pid = sleeper.pid  # another live process asking for the same runs
    busy = second.acquire(["r1", "r3"])
    assert set(busy) == {"r1"} and busy["r1"].pid == os.getpid()
    first.release()
    assert sorted(p.name for p in (tmp_path / "locks").iterdir()) == ["r3.lock"]
    second.release()
    assert not any((tmp_path / "locks").iterdir())


def test_waiting_sweep_uses_the_other_process_result(tmp_path, sleeper, monkeypatch, capsys):
    """Default ``wait=True``: the run another live process holds is waited for, and its stored result is used."""
    import shutil
    import threading

    import gafn_lib.runner.sweep as sweep_module

    monkeypatch.setattr(sweep_module, "WAIT_POLL_SECONDS", 0.05)
    a, b = tiny(0), tiny(1)
    elsewhere = tmp_path / "elsewhere"
    expected = run_sweep("locks", [a], results_dir=elsewhere, backend="serial", progress=False)  # "the other process's" result
    store = ExperimentStore.open("locks", tmp_path / "here")
    write_lock(store, run_id(a), sleeper.pid)

    def other_process_finishes():  # after a moment the owner stores the run and releases its lock
        source = ExperimentStore.open("locks", elsewhere)
        for suffix in (".csv", ".npz", ".json"):
            (store.root / "runs").mkdir(parents=True, exist_ok=True)
            shutil.copy(source.root / "runs" / f"{run_id(a)}{suffix}", store.root / "runs" / f"{run_id(a)}{suffix}")
        (store.root / "locks" / f"{run_id(a)}.lock").unlink()

    timer = threading.Timer(0.5, other_process_finishes)
    timer.start()
    try:
        table = run_sweep("locks", [a, b], results_dir=tmp_path / "here", backend="serial", progress=False)
    finally:
        timer.cancel()
    assert f"waiting for 1 run(s) that another process is training (pid {sleeper.pid}" in capsys.readouterr().err
    got = table[table["run"] == run_id(a)].drop(columns="wall_seconds").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected.drop(columns="wall_seconds"))
    assert set(table["run"]) == {run_id(a), run_id(b)}


def test_waiting_sweep_trains_a_run_whose_owner_died(tmp_path, sleeper, monkeypatch):
    import threading

    import gafn_lib.runner.sweep as sweep_module

    monkeypatch.setattr(sweep_module, "WAIT_POLL_SECONDS", 0.05)
    config = tiny(0)
    store = ExperimentStore.open("locks", tmp_path)
    write_lock(store, run_id(config), sleeper.pid)
    timer = threading.Timer(0.5, sleeper.kill)  # the owner dies without finishing the run
    timer.start()
    try:
        table = run_sweep("locks", [config], results_dir=tmp_path, backend="serial", progress=False)
    finally:
        timer.cancel()
    assert store.is_complete(run_id(config)) and set(table["run"]) == {run_id(config)}
    assert list((store.root / "locks").iterdir()) == []
