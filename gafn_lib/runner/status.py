"""Where a long sweep stands, without running anything: :func:`sweep_status`.

A sweep of hours (the paper profile) is trained over several sittings: each run's results are
stored as it finishes and an interrupted run or ensemble resumes from its checkpoint
(:mod:`gafn_lib.runner.task`). :func:`sweep_status` reads the store and the checkpoints and says,
task by task, what :func:`gafn_lib.runner.run_sweep` would do with the same arguments: which runs
are finished, which tasks are checkpointed (and at which step), which have not started.

Tasks are grouped exactly as :func:`~gafn_lib.runner.run_sweep` groups them: checkpointed ensembles
as they were started (whatever ``workers``), the runs not started yet by ``workers``, ``backend`` and
``ensemble_size``.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable

import pandas as pd

from gafn_lib.runner.describe import summarise_configs
from gafn_lib.runner.locks import RunLocks
from gafn_lib.runner.store import ExperimentStore
from gafn_lib.runner.sweep import (
    DEFAULT_ENSEMBLE_SIZE, _make_tasks, check_sweep_arguments, default_workers, is_run_complete, seconds_left, unique_runs,
)
from gafn_lib.runner.task import EnsembleTask

#: Columns of :func:`sweep_status`.
STATUS_COLUMNS = ("task", "runs", "what", "status", "step", "steps_planned")


def sweep_status(
    experiment_name: str,
    configs: Iterable[Any],
    results_dir: str | os.PathLike = "data/results",
    workers: int | None = None,
    backend: str = "process",
    ensemble_size: int | None = DEFAULT_ENSEMBLE_SIZE,
    step_seconds: Callable[[Any], float | None] | None = None,
) -> pd.DataFrame:
    """One row per task of the sweep ``run_sweep(experiment_name, configs, ...)`` would run, after
    rows for the runs already finished.

    Columns (:data:`STATUS_COLUMNS`): ``task`` (the ensemble's checkpoint name or the run id),
    ``runs`` (members), ``what`` (:func:`summarise_configs`), ``status`` (``"finished"``,
    ``"checkpointed"``, ``"not started"``, or ``"in a live sweep (pid … on … since …)"`` while another
    live sweep holds the runs' locks, :mod:`gafn_lib.runner.locks`; a sweep locks all its pending
    runs when it starts, so such a task is training or queued in it), ``step`` (the checkpoint's
    step; the planned steps for finished runs; 0 if not started) and ``steps_planned``. Finished runs are one row per config
    type (``task`` ``"(finished)"``), and so are consecutive solo runs (not in an ensemble) not started
    yet with the same status (``task`` ``"(not started)"``, e.g. 50 MCMC chains: one row, its seeds
    and heights in ``what``). Nothing is trained or written.

    With ``step_seconds`` (a run's expected seconds per training step from its config, e.g.
    :func:`gafn_lib.repro.grid_cost.seconds_per_step`) the table has one more column,
    ``core_hours_left``: Σ over the task's runs of ``step_seconds(config) × (n_steps − step) /
    3600`` (0 for finished runs, NaN where ``step_seconds`` returns ``None``).

    Raises:
        ValueError: for an unknown ``backend``, ``workers < 1``, ``ensemble_size < 1``, an empty
            ``configs`` or a config type without a trainer (as :func:`~gafn_lib.runner.run_sweep`).
    """
    check_sweep_arguments(backend=backend, workers=workers, checkpoint_every=None, ensemble_size=ensemble_size)
    runs = unique_runs(experiment_name, configs)
    store = ExperimentStore.open(experiment_name, results_dir)
    finished = [rid for rid in runs if is_run_complete(store, rid, runs[rid]) and store.damage(rid) is None]
    pending = [rid for rid in runs if rid not in set(finished)]
    n_workers = 1 if backend == "serial" else (workers or default_workers())
    tasks = _make_tasks(runs, pending, store, None, backend, {}, ensemble_size or 1, n_workers)
    rows = []
    by_class: dict[str, list[Any]] = {}
    for rid in finished:
        by_class.setdefault(type(runs[rid]).__name__, []).append(runs[rid])
    for members in by_class.values():  # one row per config type: what is finished
        planned = max(getattr(c, "n_steps", 0) for c in members) or None
        rows.append({"task": "(finished)", "runs": len(members), "what": summarise_configs(members),
                     "status": "finished", "step": planned, "steps_planned": planned, "_members": members})
    locks = RunLocks(store.root)
    waiting: list[Any] = []  # consecutive solo runs not started, of one config type and status: one row

    def flush() -> None:
        if waiting:
            task = waiting[0][0] if len(waiting) == 1 else "(not started)"
            members = [c for _, c, _ in waiting]
            rows.append({"task": task, "runs": len(members), "what": summarise_configs(members), "status": waiting[0][2],
                         "step": 0, "steps_planned": max(getattr(c, "n_steps", 0) for c in members) or None, "_members": members})
            waiting.clear()

    for task in tasks:
        if isinstance(task, EnsembleTask):
            name, members, ids = task.ensemble_id, list(task.configs), list(task.run_ids)
        else:
            name, members, ids = task.run_id, [task.config], [task.run_id]
        step = store.checkpoint_step(name)
        planned = max(getattr(c, "n_steps", 0) for c in members) or None
        status = "not started" if step is None else "checkpointed"
        owners = [o for o in map(locks.live_owner, ids) if o is not None]
        if owners:  # another sweep holds these runs right now
            status = owners[0].status()
        solo_waiting = not isinstance(task, EnsembleTask) and step is None
        if waiting and not (solo_waiting and type(members[0]) is type(waiting[0][1]) and status == waiting[0][2]):
            flush()
        if solo_waiting:
            waiting.append((name, members[0], status))
            continue
        rows.append({"task": name, "runs": len(members), "what": summarise_configs(members),
                     "status": status, "step": step or 0, "steps_planned": planned, "_members": members})
    flush()
    table = pd.DataFrame(rows, columns=list(STATUS_COLUMNS))
    table = table.astype({"runs": int, "step": "Int64", "steps_planned": "Int64"})
    if step_seconds is not None:
        table["core_hours_left"] = [
            0.0 if row["status"] == "finished" else _core_hours_left(row["_members"], int(row["step"] or 0), step_seconds)
            for row in rows]
    return table


def _core_hours_left(members: list[Any], step: int, step_seconds: Callable[[Any], float | None]) -> float:
    """Expected core-hours of ``members`` from ``step`` to their ``n_steps``
    (:func:`~gafn_lib.runner.sweep.seconds_left`; NaN if any has no estimate)."""
    left = [seconds_left(config, step, step_seconds) for config in members]
    return float("nan") if any(s is None for s in left) else sum(left) / 3600
