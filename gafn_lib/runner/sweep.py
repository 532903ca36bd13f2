"""Sweeps: run many independent configs serially, on a local process pool, or on Ray.

An experiment is a named list of run configs (dataclass configs of any type registered in
:mod:`gafn_lib.registry`: method × size × seed × ...). :func:`run_sweep` runs the ones not
already complete in ``<results_dir>/<experiment>/`` and returns the combined tidy table of all of
them (also written as ``<experiment>/results.csv``). See :mod:`gafn_lib.runner.store` for the
layout and the run id, and :mod:`gafn_lib.runner.task` for checkpoint and resume.

Runs stored before first visits were recorded. Grid runs log the first visit of each mode
(``first_visit_all_modes``, ``first_visit_all_modes_step``, ``first_visit_mode_<j>``:
:class:`gafn_lib.core.tracking.MetricsTracker`); a run stored by an earlier version of the library
lacks those columns, and the store still counts it as complete (its config, hence its run id, is
unchanged). The combined tables (:func:`run_sweep`, :func:`load_results`) keep such runs, with
their first-visit columns NaN, add a column ``first_visit_recorded`` (``False`` for them, ``True``
for the others) and warn, naming them: there NaN means *unknown*, not *never visited*
(:func:`gafn_lib.repro.experiments.first_visit_times` refuses them). To record their first visits,
delete their files (``runs/<run id>.*``) from the store and run the sweep again. A table in which
every run has the columns is returned as stored, without ``first_visit_recorded``.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import subprocess
import traceback
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd

from gafn_lib.core.tracking import FIRST_VISIT_COLUMNS
from gafn_lib.registry import config_class, config_key, trainer_class
from gafn_lib.runner.locks import RunLocks, RunsInProgressError
from gafn_lib.runner.store import ExperimentStore, atomic_write_csv, describe_config, read_csv, run_id
from gafn_lib.runner.task import EnsembleTask, RunOutcome, RunTask, execute_task, init_worker

BACKENDS = ("process", "ray", "serial")
#: Added by the combined tables when some run was stored before first visits were recorded.
FIRST_VISIT_RECORDED = "first_visit_recorded"
#: Default cap on the members of one ensemble task (memory: ~25 MB a member at H=64).
DEFAULT_ENSEMBLE_SIZE = 32


class SweepError(RuntimeError):
    """Some runs of a sweep failed. The others finished and are stored.

    Attributes:
        failures: run id → ``(config description, original traceback)``.
        results: the combined table of the runs that did finish.
    """

    def __init__(self, experiment: str, n_runs: int, failures: dict[str, tuple[str, str]], results: pd.DataFrame):
        self.failures = failures
        self.results = results
        lines = [
            f"{len(failures)} of {n_runs} runs of experiment {experiment!r} failed "
            "(the others are stored; running the sweep again retries only the failed runs):"
        ]
        for rid, (description, error) in failures.items():
            lines.append(f"\n--- run {rid}: {description}\n{error.rstrip()}")
        super().__init__("\n".join(lines))


def default_workers() -> int:
    """Cores this process may use (respects CPU affinity, e.g. under SLURM or taskset)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def git_provenance() -> dict[str, Any]:
    """``git_commit`` (None outside a git checkout) and ``git_dirty`` (tracked files modified)."""
    import gafn_lib

    root = Path(gafn_lib.__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return {"git_commit": None, "git_dirty": None}
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=10
        )
        return {"git_commit": head.stdout.strip(), "git_dirty": bool(status.stdout.strip()) if status.returncode == 0 else None}
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": None, "git_dirty": None}


# ------------------------------------------------------------------------------------- backends
def _task_run_ids(task: RunTask | EnsembleTask) -> tuple:
    return task.run_ids if isinstance(task, EnsembleTask) else (task.run_id,)


def _failed(task: RunTask | EnsembleTask, what: str, err: BaseException) -> list[RunOutcome]:
    # the exception (and its cause) without the local frames: one exception object may be
    # re-raised for every queued run (a broken pool) and would accumulate frames at each raise
    detail = "".join(traceback.format_exception(type(err), err, None))
    return [RunOutcome(rid, False, 0.0, error=f"{what}:\n{detail}") for rid in _task_run_ids(task)]


def _run_serial(tasks: list, on_done: Callable[[RunOutcome], None]) -> None:
    for task in tasks:
        for outcome in execute_task(task):
            on_done(outcome)


def _run_process(tasks: list[RunTask], workers: int, on_done: Callable[[RunOutcome], None]) -> None:
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(tasks)), mp_context=multiprocessing.get_context("spawn"), initializer=init_worker
    )
    try:
        futures = {pool.submit(execute_task, task): task for task in tasks}
        for future in as_completed(futures):
            try:
                outcomes = future.result()
            except Exception as err:  # the worker process died (killed, out of memory) or could not unpickle
                outcomes = _failed(futures[future], "the worker process running this run failed", err)
            for outcome in outcomes:
                on_done(outcome)
    except BaseException:  # e.g. KeyboardInterrupt: drop the queued runs, let running ones finish and be stored
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _run_ray(tasks: list[RunTask], workers: int, address: str | None, on_done: Callable[[RunOutcome], None]) -> None:
    try:
        import ray
    except ImportError as err:
        raise ImportError("backend='ray' needs Ray: pip install 'gafn[distributed]' (or pip install ray)") from err

    started_here = False
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS") or None
        if address:
            ray.init(address=address)
        else:
            ray.init(num_cpus=workers, include_dashboard=False)
        started_here = True
    try:
        remote_run = ray.remote(num_cpus=1)(execute_task)
        refs = {remote_run.remote(task): task for task in tasks}
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                try:
                    outcomes = ray.get(ref)
                except Exception as err:  # the Ray worker died or the task could not run
                    outcomes = _failed(refs[ref], "the Ray task running this run failed", err)
                for outcome in outcomes:
                    on_done(outcome)
    finally:
        if started_here:
            ray.shutdown()


# ---------------------------------------------------------------------------------------- sweeps
def check_sweep_arguments(backend: str, workers: int | None, checkpoint_every: int | None, ensemble_size: int | None) -> None:
    """Raise ``ValueError`` naming the first bad argument of :func:`run_sweep` (or :func:`~gafn_lib.runner.status.sweep_status`)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    for name, value in (("workers", workers), ("checkpoint_every", checkpoint_every), ("ensemble_size", ensemble_size)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError(f"{name} must be an integer >= 1 or None, got {value!r}")


def unique_runs(experiment_name: str, configs: Iterable[Any]) -> dict[str, Any]:
    """``{run id: config}`` in order of first appearance (duplicates once); ``ValueError`` for an
    empty list or a config type without a registered trainer."""
    runs: dict[str, Any] = {}
    for config in configs:
        config_class(config_key(config))  # raises ValueError for a config type without a trainer
        runs.setdefault(run_id(config), config)
    if not runs:
        raise ValueError(f"experiment {experiment_name!r}: configs is empty")
    return runs


def is_run_complete(store: ExperimentStore, rid: str, config: Any) -> bool:
    """Whether run ``rid`` is stored as finished (and, for a trainer that keeps final arrays, has
    them: older stores lack them). A damaged table is checked separately (:meth:`ExperimentStore.damage`)."""
    needs_arrays = hasattr(trainer_class(config), "artifacts")
    return store.is_complete(rid) and (not needs_arrays or store.artifacts_path(rid).exists())


def _ensemble_key(config: Any) -> str | None:
    """The grouping key of a config that can train inside an ensemble, else ``None``.

    A trainer class opts in with two class attributes: ``ensemble_class`` (built from a list of
    compatible configs; :class:`gafn_lib.core.ensemble.EnsembleTrainer` for the GFlowNets,
    :class:`gafn_lib.baselines.ppo_ensemble.PPOEnsembleTrainer` for the grid PPO) and
    ``ensemble_key(config)`` (configs with equal keys may share an ensemble)."""
    try:
        cls = trainer_class(config)
        key = getattr(cls, "ensemble_key", None)
        if getattr(cls, "ensemble_class", None) is None or key is None:
            return None
        return f"{cls.__module__}.{cls.__qualname__}:{key(config)}"
    except (TypeError, ValueError):
        return None


def checkpointed_ensembles(store: ExperimentStore, pending: Iterable[str]) -> list[list[str]]:
    """Ensembles an earlier sweep started and checkpointed, whose runs are all pending again: each as
    its run ids in member order (from the members' metadata, ``ensemble: {id, size, member}``).

    They are resumed as they were grouped, whatever this sweep's ``workers`` or ``ensemble_size``
    (another grouping would give another ensemble id, miss the checkpoint and start from step 0)."""
    from gafn_lib.core.ensemble import ensemble_id

    pending = list(pending)
    members: dict[str, dict[int, str]] = {}
    sizes: dict[str, int] = {}
    for rid in pending:
        meta = store.read_metadata(rid) or {}
        ens = meta.get("ensemble")
        if meta.get("finished") or not isinstance(ens, dict) or not store.checkpoint_path(str(ens.get("id"))).exists():
            continue
        members.setdefault(ens["id"], {})[int(ens["member"])] = rid
        sizes[ens["id"]] = int(ens["size"])
    groups = []
    for ens, by_index in members.items():
        ordered = [by_index.get(i) for i in range(sizes[ens])]
        if None not in ordered and ensemble_id(ordered) == ens:  # every member pending, in its original order
            groups.append(ordered)
    return groups


def _make_tasks(runs, pending, store, checkpoint_every, backend, provenance, cap, workers) -> list:
    """Solo :class:`RunTask` s and :class:`EnsembleTask` s for the pending runs (order kept within a
    group). Checkpointed ensembles of an earlier sweep come first, grouped as they were
    (:func:`checkpointed_ensembles`); the other runs are grouped by ``cap`` and ``workers``."""
    common = dict(
        experiment_dir=str(store.root), checkpoint_every=checkpoint_every, single_thread=backend != "serial",
        backend=backend, provenance=provenance,
    )
    tasks: list = []
    resumed = checkpointed_ensembles(store, pending) if cap > 1 else []
    for chunk in resumed:
        tasks.append(EnsembleTask(configs=tuple(runs[r] for r in chunk), run_ids=tuple(chunk), **common))
    taken = {rid for chunk in resumed for rid in chunk}
    groups: dict[str, list[str]] = {}
    solo: list[str] = []
    for rid in (r for r in pending if r not in taken):
        key = _ensemble_key(runs[rid]) if cap > 1 else None
        if key is None:
            solo.append(rid)
        else:
            groups.setdefault(key, []).append(rid)
    for members in groups.values():
        n_chunks = max(-(-len(members) // cap), min(workers, len(members)))
        size, extra = divmod(len(members), n_chunks)
        start = 0
        for i in range(n_chunks):
            chunk = members[start : start + size + (1 if i < extra else 0)]
            start += len(chunk)
            if len(chunk) == 1:
                solo.append(chunk[0])
            else:
                tasks.append(EnsembleTask(configs=tuple(runs[r] for r in chunk), run_ids=tuple(chunk), **common))
    tasks += [RunTask(config=runs[rid], run_id=rid, **common) for rid in solo]
    return tasks


def sweep_progress_bar(total: int, initial: int, name: str, disable: bool = False, **tqdm_options: Any):
    """The sweep's bar, runs done of ``total``. Its rate is runs done / time since the start
    (``smoothing=0``): an ensemble's members finish in one burst, and tqdm's moving average would
    keep the burst's first interval (one run per task's wall time) as the rate, and show e.g.
    "59 h left" for a sweep of a few hours."""
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=name, unit="run", disable=disable, smoothing=0, **tqdm_options)


#: The cost-weighted bar: runs done in the description, percentage and time left by expected seconds.
WEIGHTED_BAR_FORMAT = "{desc} {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]"


class SweepProgress:
    """The sweep's progress: runs done of all, as a bar.

    Without costs (``seconds_left is None``) the bar counts runs (:func:`sweep_progress_bar`).
    With them, the bar's percentage and time left are weighted by each run's expected seconds:
    ``total`` is the expected seconds of every run of the sweep, the bar starts at ``total − Σ
    seconds_left`` (finished runs and the steps before a checkpoint count as done) and a finished
    run adds its ``seconds_left``. The rate is the weight done in this sweep / the time since its start
    (``smoothing=0``), so the time left is the weight left at the speed measured so far: the costs
    only need to be right relative to each other. It reads ``"name: k/N runs 10%|█…| [elapsed<left]"``
    (and the failures after the runs)."""

    def __init__(self, name: str, n_runs: int, n_done: int, seconds_left: dict[str, float] | None = None,
                 seconds_total: float | None = None, disable: bool = False, **tqdm_options: Any):
        self.n_runs, self.n_done, self.failed = n_runs, n_done, 0
        self.name, self.seconds_left = name, seconds_left
        if seconds_left is None:
            self.bar = sweep_progress_bar(n_runs, n_done, name, disable=disable, **tqdm_options)
            return
        from tqdm.auto import tqdm

        if seconds_total is None or not seconds_total >= sum(seconds_left.values()):
            raise ValueError(f"SweepProgress: seconds_total must be at least the sum of seconds_left, got {seconds_total!r}")
        self.bar = tqdm(total=seconds_total, initial=seconds_total - sum(seconds_left.values()), desc=self._description(),
                        disable=disable, smoothing=0, bar_format=WEIGHTED_BAR_FORMAT, **tqdm_options)

    def _description(self) -> str:
        return f"{self.name}: {self.n_done}/{self.n_runs} runs" + (f", {self.failed} failed" if self.failed else "")

    def run_done(self, run: str, failed: bool = False) -> None:
        """Count run ``run`` as done (``failed``: it raised) and redraw the bar."""
        self.n_done += 1
        self.failed += bool(failed)
        if self.seconds_left is None:
            self.bar.update(1)
            if failed:
                self.bar.set_postfix(failed=self.failed)
        else:
            self.bar.set_description_str(self._description(), refresh=False)
            self.bar.update(self.seconds_left.get(run, 0.0))
        self.bar.refresh()  # an ensemble's members finish together: tqdm would skip all but the first in its interval

    def write(self, line: str) -> None:
        self.bar.write(line)

    def close(self) -> None:
        self.bar.close()


def seconds_left(config: Any, step: int, step_seconds: Callable[[Any], float | None]) -> float | None:
    """Expected seconds of ``config``'s steps from ``step`` to its ``n_steps``:
    ``step_seconds(config) × max(0, n_steps − step)``; ``None`` if there is no estimate
    (``step_seconds`` returns ``None`` or a negative or infinite value, or the config has no ``n_steps``)."""
    seconds, n_steps = step_seconds(config), getattr(config, "n_steps", None)
    if seconds is None or not isinstance(n_steps, int) or not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds * max(0, n_steps - step)


def expected_seconds(runs: dict[str, Any], tasks: list[RunTask | EnsembleTask], store: ExperimentStore,
                     step_seconds: Callable[[Any], float | None]) -> tuple[dict[str, float], float] | None:
    """``(seconds left per pending run, seconds of every run)`` by :func:`seconds_left`; a pending
    run's steps before its task's checkpoint count as done. ``None`` if any run has no estimate: the
    sweep then counts runs."""
    whole = {rid: seconds_left(config, 0, step_seconds) for rid, config in runs.items()}
    if any(seconds is None for seconds in whole.values()):
        return None
    left: dict[str, float] = {}
    for task in tasks:
        name, ids = (task.ensemble_id, task.run_ids) if isinstance(task, EnsembleTask) else (task.run_id, (task.run_id,))
        step = store.checkpoint_step(name) or 0
        for rid in ids:
            left[rid] = seconds_left(runs[rid], step, step_seconds)
    return left, sum(whole.values())


def run_sweep(
    experiment_name: str,
    configs: Iterable[Any],
    results_dir: str | os.PathLike = "data/results",
    workers: int | None = None,
    backend: str = "process",
    checkpoint_every: int | None = None,
    progress: bool = True,
    address: str | None = None,
    ensemble_size: int | None = DEFAULT_ENSEMBLE_SIZE,
    wait: bool = True,
    step_seconds: Callable[[Any], float | None] | None = None,
) -> pd.DataFrame:
    """Run every config not yet complete and return the tidy table of all of them.

    Args:
        experiment_name: folder name under ``results_dir`` (no slashes).
        configs: run configs (dataclass instances of registered types). Duplicates run once and
            appear once in the table, in order of first appearance.
        results_dir: root of the result store (relative paths resolve against the current folder;
            on a cluster it must be on a file system every node sees).
        workers: parallel runs (default: the cores available to this process). For ``"ray"``
            with a local instance, its ``num_cpus``; ignored when connecting to a cluster.
        backend: ``"process"`` (local pool, "spawn" start, one torch thread per worker),
            ``"ray"`` (one remote task with ``num_cpus=1`` per run; connects to ``address`` or
            ``$RAY_ADDRESS`` if given, uses an already initialised Ray as is, else starts a local
            instance and shuts it down afterwards) or ``"serial"`` (in this process; for debugging
            and notebooks).
        checkpoint_every: save the trainer's state every this many steps (at logged steps) so a
            killed run resumes where it stopped; ``None``: no checkpoints.
        progress: one progress bar for the sweep (runs done / total).
        address: Ray cluster address (``backend="ray"`` only).
        ensemble_size: the most runs trained together as one ensemble
            (:class:`gafn_lib.core.ensemble.EnsembleTrainer` for the GFlowNets,
            :class:`gafn_lib.baselines.ppo_ensemble.PPOEnsembleTrainer` for the grid PPO). Pending
            GFlowNet configs that differ only in ``seed``, ``eta``, ``objective``, ``augment``,
            ``intrinsic``, ``subtb_lambda`` or ``uniform_pb`` (PPO configs: only in
            :data:`~gafn_lib.baselines.ppo_ensemble.PPO_MEMBER_FIELDS`) are grouped automatically
            (split into at least ``workers`` tasks for the pool and Ray backends, so no core idles); each member's results are stored under its
            own run id exactly as a solo run's. ``1`` or ``None``: every run alone. MCMC and the
            molecule methods always run alone.
        wait: runs another live process is training (it holds their locks,
            :mod:`gafn_lib.runner.locks`) are left to it; with ``wait=True`` (default) the sweep then
            waits for them (a notebook and a background sweep, or two notebooks, needing the same
            runs), and trains any whose process dies before finishing them; with ``wait=False`` it
            raises :class:`~gafn_lib.runner.locks.RunsInProgressError` instead.
        step_seconds: a run's expected seconds per training step, from its config (e.g.
            :func:`gafn_lib.repro.grid_cost.seconds_per_step`); with it the progress bar weights its
            percentage and time left by each run's expected cost (:class:`SweepProgress`), else it
            counts runs. If it returns ``None`` for any config, runs are counted.

    Returns:
        The combined table (one row per logged step of every run), also written to
        ``<results_dir>/<experiment>/results.csv``.

    Raises:
        SweepError: after every run has been attempted, if any failed (listing their run ids and
            original tracebacks); the finished runs are stored and are skipped next time.
        RunsInProgressError: with ``wait=False``, after the other runs, if some are being trained by
            another live process (another sweep on the same store holds their locks).
    """
    check_sweep_arguments(backend=backend, workers=workers, checkpoint_every=checkpoint_every, ensemble_size=ensemble_size)
    if address is not None and backend != "ray":
        raise ValueError(f"address is only used with backend='ray', got backend={backend!r}")
    store = ExperimentStore.open(experiment_name, results_dir)
    runs = unique_runs(experiment_name, configs)

    pending = []
    for rid in runs:
        if is_run_complete(store, rid, runs[rid]):
            damage = store.damage(rid)
            if damage is not None:
                warnings.warn(
                    f"experiment {experiment_name!r}: run {rid} ({describe_config(runs[rid])}) is marked finished but "
                    f"{damage}; recomputing it",
                    stacklevel=2,
                )
                pending.append(rid)
                continue
            store.remove_checkpoint(rid)  # left over if a run was killed between its last write and the cleanup
        else:
            pending.append(rid)
    locks = RunLocks(store.root)
    busy = locks.acquire(pending) if pending else {}  # runs another live process is training: left to it
    pending = [rid for rid in pending if rid not in busy]
    provenance = git_provenance() if pending else {}
    n_workers = workers or default_workers()
    tasks = _make_tasks(
        runs, pending, store, checkpoint_every, backend, provenance, ensemble_size or 1, 1 if backend == "serial" else n_workers
    )

    ours = {rid: config for rid, config in runs.items() if rid not in busy}  # another live sweep's runs: not this bar's work
    costs = expected_seconds(ours, tasks, store, step_seconds) if step_seconds is not None and progress else None
    if costs is not None and not costs[1] > 0:  # nothing to weight by (free runs): count them
        costs = None
    bar = SweepProgress(experiment_name, len(runs), len(runs) - len(pending), seconds_left=costs[0] if costs else None,
                        seconds_total=costs[1] if costs else None, disable=not progress)
    failures: dict[str, tuple[str, str]] = {}

    def on_done(outcome: RunOutcome) -> None:
        if not outcome.finished:
            description = describe_config(runs[outcome.run_id])
            failures[outcome.run_id] = (description, outcome.error or "unknown error")
            last_line = (outcome.error or "").strip().splitlines()[-1:] or ["?"]
            bar.write(f"run {outcome.run_id} failed ({description}): {last_line[0]}")
        bar.run_done(outcome.run_id, failed=not outcome.finished)

    try:
        if tasks:
            if backend == "serial":
                _run_serial(tasks, on_done)
            elif backend == "process":
                _run_process(tasks, n_workers, on_done)
            else:
                _run_ray(tasks, n_workers, address, on_done)
    finally:
        bar.close()
        locks.release()

    done = [rid for rid in runs if rid not in failures and rid not in busy]
    frames = [store.read_table(rid) for rid in done]
    combined = combine_run_tables(frames, experiment_name) if frames else pd.DataFrame()
    if failures:
        raise SweepError(experiment_name, len(runs), failures, combined)
    if busy and not wait:
        raise RunsInProgressError(experiment_name, len(runs), busy)
    if busy:
        orphaned = _wait_for(store, locks, runs, busy)
        if orphaned:  # their process died before finishing them: train them here (locks taken again)
            run_sweep(experiment_name, [runs[r] for r in orphaned], results_dir=results_dir, workers=workers, backend=backend,
                      checkpoint_every=checkpoint_every, progress=progress, address=address, ensemble_size=ensemble_size, wait=wait,
                      step_seconds=step_seconds)
        combined = combine_run_tables([store.read_table(rid) for rid in runs if rid not in failures], experiment_name)
    atomic_write_csv(store.results_path, combined)
    return combined


#: Seconds between two checks of runs that another process is training (:func:`_wait_for`).
WAIT_POLL_SECONDS = 5.0


def _wait_for(store: ExperimentStore, locks: RunLocks, runs: dict[str, Any], busy: dict) -> list[str]:
    """Block until every run of ``busy`` (run id → lock owner) is finished by its owner or orphaned
    (its lock gone or stale while the run is unfinished); returns the orphaned run ids."""
    import sys
    import time

    owners = sorted({owner.describe() for owner in busy.values()})
    print(f"{store.name}: waiting for {len(busy)} run(s) that another process is training ({'; '.join(owners)})",
          file=sys.stderr, flush=True)
    waiting, orphaned = set(busy), []
    while waiting:
        for rid in sorted(waiting):
            if is_run_complete(store, rid, runs[rid]):
                waiting.discard(rid)
                continue
            if locks.live_owner(rid) is None:
                waiting.discard(rid)
                orphaned.append(rid)
        if waiting:
            time.sleep(WAIT_POLL_SECONDS)
    return orphaned


def load_results(
    experiment_name: str, results_dir: str | os.PathLike = "data/results", configs: Iterable[Any] | None = None
) -> pd.DataFrame:
    """The stored table of an experiment without running anything.

    With ``configs``: the tables of exactly those runs (raises ``FileNotFoundError`` naming the
    missing ones); without: ``<experiment>/results.csv`` of the last complete sweep. Runs stored
    before first visits were recorded are kept with NaN first-visit columns, marked and warned
    about (:func:`combine_run_tables`).
    """
    store = ExperimentStore.open(experiment_name, results_dir)
    if configs is None:
        if not store.results_path.exists():
            raise FileNotFoundError(f"no combined results for experiment {experiment_name!r} at {store.results_path}: run run_sweep first")
        table = read_csv(store.results_path)
        if "run" not in table.columns:
            return table
        if FIRST_VISIT_COLUMNS[0] not in table.columns:  # written before first visits were recorded
            return combine_run_tables([part for _, part in table.groupby("run", sort=False)], experiment_name)
        if FIRST_VISIT_RECORDED in table.columns:  # written by run_sweep, marked already
            recorded = table.groupby("run", sort=False)[FIRST_VISIT_RECORDED].all()
            if not recorded.all():
                _warn_unrecorded(experiment_name, recorded.index[~recorded.to_numpy()].tolist(), len(recorded))
        return table
    ids = list(dict.fromkeys(run_id(c) for c in configs))
    missing = [rid for rid in ids if not store.is_complete(rid)]
    if missing:
        raise FileNotFoundError(f"experiment {experiment_name!r}: {len(missing)} of {len(ids)} runs are not complete ({', '.join(missing)}): run run_sweep first")
    damaged = {rid: reason for rid in ids if (reason := store.damage(rid)) is not None}
    if damaged:
        details = "; ".join(f"run {rid}: {reason}" for rid, reason in damaged.items())
        raise ValueError(f"experiment {experiment_name!r}: {len(damaged)} stored tables are damaged ({details}): run run_sweep to recompute them")
    return combine_run_tables([store.read_table(rid) for rid in ids], experiment_name)


def lacks_first_visits(table: pd.DataFrame) -> bool:
    """True for a run's table that has the grid's mode metrics (``modes_found``, ``n_modes``) but
    not the first-visit columns: a run stored before first visits were recorded."""
    return (
        "modes_found" in table.columns and "n_modes" in table.columns and bool(table["modes_found"].notna().any())
        and FIRST_VISIT_COLUMNS[0] not in table.columns
    )


def combine_run_tables(tables: list[pd.DataFrame], experiment_name: str) -> pd.DataFrame:
    """The runs' tables stacked. If some grid run was stored before first visits were recorded
    (:func:`lacks_first_visits`), its first-visit columns are NaN (unknown), every row gets
    ``first_visit_recorded`` (``False`` for those runs) and a warning names them and says how to
    retrain them (see the module docstring)."""
    old = [i for i, t in enumerate(tables) if lacks_first_visits(t)]
    if not old:
        return pd.concat(tables, ignore_index=True)
    marked = []
    for i, t in enumerate(tables):
        t = t.copy()
        if i in old:
            for column in FIRST_VISIT_COLUMNS:
                t[column] = float("nan")
        t[FIRST_VISIT_RECORDED] = i not in old
        marked.append(t)
    ids = [str(tables[i]["run"].iloc[0]) if "run" in tables[i].columns and len(tables[i]) else "?" for i in old]
    _warn_unrecorded(experiment_name, ids, len(tables))
    return pd.concat(marked, ignore_index=True)


def _warn_unrecorded(experiment_name: str, ids: list[str], n_runs: int) -> None:
    warnings.warn(
        f"experiment {experiment_name!r}: {len(ids)} of {n_runs} runs were stored before the first visit of each "
        f"mode was recorded ({', '.join(map(str, ids))}); their first_visit_* columns are NaN, meaning unknown (not "
        "'never visited'), and first_visit_recorded is False. To record them, delete those runs' files "
        "(runs/<run id>.*) from the store and run the sweep again",
        stacklevel=4,
    )


def load_artifacts(experiment_name: str, config: Any, results_dir: str | os.PathLike = "data/results") -> dict[str, Any]:
    """The final arrays a completed run stored (e.g. ``p_exact``, ``visit_counts``, ``p_true`` for
    hypergrid runs). Raises ``FileNotFoundError`` if the run is missing or stored no arrays."""
    store = ExperimentStore.open(experiment_name, results_dir)
    rid = run_id(config)
    if not store.is_complete(rid):
        raise FileNotFoundError(f"experiment {experiment_name!r}: run {rid} is not complete: run run_sweep first")
    return store.read_artifacts(rid)
