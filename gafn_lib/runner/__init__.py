"""Experiment runner: sweeps of independent runs, a result store with stable run ids, resume, pool / Ray.

Example (in a notebook)::

    from gafn_lib.grid.config import GridTrainConfig
    from gafn_lib.runner import run_sweep

    configs = [GridTrainConfig(height=h, augment=a, seed=s)
               for h in (8, 16) for a in ("none", "joint") for s in range(3)]
    table = run_sweep("grid_l1", configs, checkpoint_every=1_000)   # data/results/grid_l1/
    table.groupby(["height", "augment", "step"])["l1_mean_exact"].mean()

Modules: :mod:`~gafn_lib.runner.store` (run ids, atomic files, folder layout),
:mod:`~gafn_lib.runner.task` (one run: checkpoint and resume), :mod:`~gafn_lib.runner.sweep`
(backends, progress, errors), :mod:`~gafn_lib.runner.locks` (two sweeps never train one run at once),
:mod:`~gafn_lib.runner.status` (where a sweep stands). Distributed use: ``docs/distributed.md``.
"""

from gafn_lib.runner.store import (
    ExperimentStore,
    atomic_write_bytes,
    atomic_write_csv,
    atomic_write_json,
    atomic_write_text,
    describe_config,
    read_csv,
    run_id,
    run_table,
)
from gafn_lib.runner.locks import RunsInProgressError
from gafn_lib.runner.sweep import BACKENDS, SweepError, default_workers, load_artifacts, load_results, run_sweep
from gafn_lib.runner.task import EnsembleTask, RunOutcome, RunTask, execute_ensemble, execute_run, execute_task

__all__ = [
    "BACKENDS",
    "ExperimentStore",
    "RunOutcome",
    "RunTask",
    "RunsInProgressError",
    "EnsembleTask",
    "SweepError",
    "atomic_write_bytes",
    "atomic_write_csv",
    "atomic_write_json",
    "atomic_write_text",
    "default_workers",
    "describe_config",
    "execute_run",
    "execute_ensemble",
    "execute_task",
    "load_artifacts",
    "load_results",
    "read_csv",
    "run_id",
    "run_sweep",
    "run_table",
]
