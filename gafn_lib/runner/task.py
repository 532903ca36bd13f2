"""One run of a sweep, as executed by a worker (a pool process, a Ray task, or the caller itself).

:func:`execute_run` never raises for a failure of the run itself: it records the error in the
run's metadata and returns it (with the original traceback) so the sweep can keep going and
report every failure at the end.

Resume: with ``checkpoint_every=N`` the trainer's ``on_log`` hook saves ``trainer.state_dict()``
atomically to ``checkpoints/<run_id>.pt`` at the first logged step at least ``N`` steps after the
previous save. A re-run finds the file, loads it with ``torch.load(..., weights_only=True)``
(tensors and plain containers only, no arbitrary pickles), calls ``trainer.load_state_dict`` and
continues; trainers resume bit-for-bit on CPU, so the final table equals an uninterrupted run's
(except the wall-clock columns). The checkpoint is deleted once the run's results are written.
A checkpoint that does not load (written by an incompatible version of the code, e.g. a metrics
tracker's state from before first visits were recorded) is deleted with a warning and the run
starts again from step 0, on a freshly built trainer.

Ensembles: :class:`EnsembleTask` trains several compatible configs as one ensemble, the
``ensemble_class`` of their trainer (:class:`gafn_lib.core.ensemble.EnsembleTrainer` for the
GFlowNets, :class:`gafn_lib.baselines.ppo_ensemble.PPOEnsembleTrainer` for the grid PPO;
:func:`execute_ensemble`); each member's table, arrays (if its solo trainer keeps any) and
metadata go under its own run id exactly as a solo run's would (the metadata adds
``ensemble``: id, size and member index). The ensemble checkpoints to
``checkpoints/<ensemble id>.pt``, so a killed ensemble resumes as a whole.
"""

from __future__ import annotations

import os
import platform
import socket
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from gafn_lib.registry import config_key, make_trainer, trainer_class
from gafn_lib.runner.describe import summarise_configs
from gafn_lib.runner.durations import format_duration
from gafn_lib.runner.store import ExperimentStore, atomic_torch_save, config_fields, run_table
from gafn_lib.core.runtime import THREADS_ENV_VAR, configure_threads


@dataclass(frozen=True)
class RunTask:
    """Everything a worker needs to execute one run (picklable)."""

    config: Any
    run_id: str
    experiment_dir: str
    checkpoint_every: int | None = None
    single_thread: bool = False  # pool and Ray workers: one torch thread per run
    backend: str = "serial"
    provenance: dict[str, Any] = field(default_factory=dict)  # git commit etc., computed once by the sweep


@dataclass(frozen=True)
class EnsembleTask:
    """Several compatible runs trained as one ensemble (picklable)."""

    configs: tuple
    run_ids: tuple
    experiment_dir: str
    checkpoint_every: int | None = None
    single_thread: bool = False
    backend: str = "serial"
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def ensemble_id(self) -> str:
        from gafn_lib.core.ensemble import ensemble_id

        return ensemble_id(self.run_ids)


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    finished: bool
    wall_seconds: float
    resumed_from_step: int = 0
    error: str | None = None  # the original traceback, formatted


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def package_versions() -> dict[str, str]:
    import numpy
    import torch

    import gafn_lib

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "gafn": gafn_lib.__version__,
    }


class Checkpointer:
    """``on_log`` hook: save the trainer's state once ``every`` steps have passed since the last
    save, and after each save pass one progress line to ``report`` (the runner's tasks: standard
    error)::

        run 73d29e3e1cd33510 (MolTrainConfig augment joint, seed 0): checkpoint at step 12,000 of 62,500; 8.6 steps/s since step 0, about 1 h 37 min left

    (the only sign of life of a run of hours trained in the background; ``report=None``, the
    default: silent)."""

    def __init__(self, store: ExperimentStore, run: str, every: int, start_step: int, final_step: int | None,
                 label: str = "", report: Callable[[str], None] | None = None):
        self.path = store.checkpoint_path(run)
        self.run = run
        self.label = label
        self.every = every
        self.start_step = start_step
        self.last_saved = start_step
        self.final_step = final_step
        self.saves = 0
        self.report = report
        self._start = time.perf_counter()

    def __call__(self, trainer) -> None:
        step = trainer.step_count
        if self.final_step is not None and step >= self.final_step:  # the results are written right after: no checkpoint needed
            return
        if step - self.last_saved >= self.every:
            atomic_torch_save(self.path, trainer.state_dict())
            self.last_saved = step
            self.saves += 1
            if self.report is not None:
                self.report(self.progress_line(step, time.perf_counter() - self._start))

    def progress_line(self, step: int, seconds: float) -> str:
        """The line written after a save at ``step``, ``seconds`` after this process took the run up."""
        name = f"run {self.run}" + (f" ({self.label})" if self.label else "")
        line = f"{name}: checkpoint at step {step:,}" + (f" of {self.final_step:,}" if self.final_step else "")
        done = step - self.start_step
        if done > 0 and seconds > 0:
            rate = done / seconds
            line += f"; {rate:.3g} steps/s since step {self.start_step:,}"
            if self.final_step:
                line += f", about {format_duration((self.final_step - step) / rate)} left"
        return line


def _report_to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _label(config: Any) -> str:
    """``<config class>[ augment <a>], seed <s>`` for a progress line."""
    seed, augment = getattr(config, "seed", None), getattr(config, "augment", None)
    return type(config).__name__ + (f" augment {augment}" if augment else "") + (f", seed {seed}" if seed is not None else "")


def _resume(make: Callable[[], Any], store: ExperimentStore, run: str) -> tuple[Any, int]:
    """A trainer from ``make()``, loaded from the run's checkpoint if there is one; returns it and
    the step resumed from. A checkpoint that cannot be loaded (e.g. written by an incompatible
    version of the code) is removed with a warning, and a fresh trainer from ``make()`` starts at
    step 0 (the failed load may have restored part of the state into the first one)."""
    import torch

    trainer = make()
    path = store.checkpoint_path(run)
    if not path.exists():
        return trainer, 0
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        trainer.load_state_dict(state)
    except Exception as err:
        warnings.warn(f"run {run}: could not resume from {path} ({type(err).__name__}: {err}); starting from step 0", stacklevel=2)
        store.remove_checkpoint(run)
        return make(), 0
    return trainer, int(trainer.step_count)


def execute_run(task: RunTask) -> RunOutcome:
    """Train one config (resuming from its checkpoint if any) and write its table and metadata."""
    start = time.perf_counter()
    store = ExperimentStore(task.experiment_dir)
    run = task.run_id
    metadata: dict[str, Any] = {
        "run_id": run,
        "experiment": store.name,
        "config_class": config_key(task.config),
        "config": config_fields(task.config),
        "status": "running",
        "finished": False,
        "started_at": _now(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "backend": task.backend,
        "versions": package_versions(),
        **task.provenance,
    }
    resumed_from = 0
    try:
        if task.single_thread:
            os.environ[THREADS_ENV_VAR] = "1"
            configure_threads(1)
        trainer, resumed_from = _resume(lambda: make_trainer(task.config), store, run)
        metadata["resumed_from_step"] = resumed_from
        store.write_metadata(run, metadata)
        on_log = None
        if task.checkpoint_every:
            final_step = getattr(task.config, "n_steps", None)
            on_log = Checkpointer(store, run, task.checkpoint_every, resumed_from, final_step, label=_label(task.config),
                                  report=_report_to_stderr)
        history = trainer.train(progress=False, on_log=on_log)
        table = run_table(run, task.config, history.rows)
        table_record = store.write_table(run, table)  # n_rows and table_sha256, checked on every later sweep
        if hasattr(trainer, "artifacts"):
            store.write_artifacts(run, trainer.artifacts())
        wall = time.perf_counter() - start
        metadata.update(status="finished", finished=True, finished_at=_now(), wall_seconds=wall,
                        steps=int(trainer.step_count), **table_record)
        store.write_metadata(run, metadata)  # the metadata is written last: it marks the run complete
        store.remove_checkpoint(run)
        return RunOutcome(run, True, wall, resumed_from)
    except Exception:
        error = traceback.format_exc()
        wall = time.perf_counter() - start
        metadata.update(status="failed", finished=False, failed_at=_now(), wall_seconds=wall, error=error)
        try:
            store.write_metadata(run, metadata)
        except Exception:  # report the run's own error, not a secondary one
            print(f"run {run}: could not write its metadata:\n{traceback.format_exc()}", file=sys.stderr)
        return RunOutcome(run, False, wall, resumed_from, error)


def execute_ensemble(task: EnsembleTask) -> list[RunOutcome]:
    """Train the task's configs as one ensemble (resuming from its checkpoint if any) and write
    every member's table, arrays and metadata under its own run id. Never raises for a failure of
    the training itself: every member is then recorded as failed with the traceback."""
    start = time.perf_counter()
    store = ExperimentStore(task.experiment_dir)
    ens = task.ensemble_id
    size = len(task.run_ids)
    metas: list[dict[str, Any]] = []
    for i, (run, config) in enumerate(zip(task.run_ids, task.configs)):
        metas.append({
            "run_id": run, "experiment": store.name, "config_class": config_key(config), "config": config_fields(config),
            "status": "running", "finished": False, "started_at": _now(), "host": socket.gethostname(), "pid": os.getpid(),
            "backend": task.backend, "versions": package_versions(), "ensemble": {"id": ens, "size": size, "member": i},
            **task.provenance,
        })
    resumed_from = 0
    try:
        if task.single_thread:
            os.environ[THREADS_ENV_VAR] = "1"
            configure_threads(1)
        solo_class = trainer_class(task.configs[0])
        trainer, resumed_from = _resume(lambda: solo_class.ensemble_class(list(task.configs)), store, ens)
        keeps_arrays = hasattr(solo_class, "artifacts")
        for run, meta in zip(task.run_ids, metas):
            meta["resumed_from_step"] = resumed_from
            store.write_metadata(run, meta)
        on_log = None
        if task.checkpoint_every:
            on_log = Checkpointer(store, ens, task.checkpoint_every, resumed_from, task.configs[0].n_steps,
                                  label=f"ensemble of {size}: {summarise_configs(list(task.configs))}", report=_report_to_stderr)
        histories = trainer.train(progress=False, on_log=on_log)
        probs = trainer.forward_probabilities_all() if keeps_arrays else None
        wall = time.perf_counter() - start
        outcomes = []
        for i, (run, config, history, meta) in enumerate(zip(task.run_ids, task.configs, histories, metas)):
            record = store.write_table(run, run_table(run, config, history.rows))
            if keeps_arrays:
                store.write_artifacts(run, trainer.artifacts_of(i, probs))
            meta.update(status="finished", finished=True, finished_at=_now(), wall_seconds=wall / size,
                        ensemble_wall_seconds=wall, steps=int(trainer.step_count), **record)
            store.write_metadata(run, meta)
            outcomes.append(RunOutcome(run, True, wall / size, resumed_from))
        store.remove_checkpoint(ens)
        return outcomes
    except Exception:
        error = traceback.format_exc()
        wall = time.perf_counter() - start
        outcomes = []
        for run, meta in zip(task.run_ids, metas):
            if meta.get("finished"):
                outcomes.append(RunOutcome(run, True, wall / size, resumed_from))
                continue
            meta.update(status="failed", finished=False, failed_at=_now(), wall_seconds=wall, error=error)
            try:
                store.write_metadata(run, meta)
            except Exception:
                print(f"run {run}: could not write its metadata:\n{traceback.format_exc()}", file=sys.stderr)
            outcomes.append(RunOutcome(run, False, wall, resumed_from, error))
        return outcomes


def execute_task(task: RunTask | EnsembleTask) -> list[RunOutcome]:
    """What a worker runs: one solo run or one ensemble; the outcome of every run in it."""
    if isinstance(task, EnsembleTask):
        return execute_ensemble(task)
    return [execute_run(task)]


#: Seconds between two checks, in a pool worker, that the sweep process that started it is alive.
PARENT_POLL_SECONDS = 2.0


def init_worker() -> None:
    """Pool initializer: one torch thread per worker process, and the worker ends with its sweep
    (:func:`exit_with_parent`)."""
    os.environ[THREADS_ENV_VAR] = "1"
    configure_threads(1)
    exit_with_parent()


def exit_with_parent(poll_seconds: float = PARENT_POLL_SECONDS):
    """Start a daemon thread that ends this process once its parent has died, checked every
    ``poll_seconds`` (the parent pid changes when the process is re-parented); returns the thread.

    A pool worker whose sweep process was killed (``kill``, the end of a sitting) would otherwise go
    on training its task as an orphan: the runs' locks belong to the dead sweep, so the next sweep
    trains the same runs again beside it, each on a core. The worker exits instead, and its task
    resumes from its last checkpoint in the next sweep, as if the whole sweep had been killed."""
    import threading

    if not poll_seconds > 0:
        raise ValueError(f"poll_seconds must be > 0, got {poll_seconds!r}")
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(poll_seconds)
            if os.getppid() != parent:
                print(f"pool worker {os.getpid()}: its sweep process {parent} has ended; stopping (the task resumes "
                      "from its last checkpoint in the next sweep)", file=sys.stderr, flush=True)
                os._exit(1)

    thread = threading.Thread(target=watch, name="exit-with-parent", daemon=True)
    thread.start()
    return thread
