"""Train every run the selected notebooks will read, up front, in one sweep per run store.

``make figures`` executes the notebooks one after another; left to themselves, each notebook trains
its own missing runs with its own process pool, so the cores idle in every notebook's tail (one
long PPO run finishing while the other core waits) and runs that two notebooks share wait for the
first of them. :func:`prefetch` instead hands the runs of *all* selected notebooks to the runner at
once (:func:`gafn_lib.runner.run_sweep`): shared runs are trained once, compatible configs of
different notebooks are grouped into the same ensembles, and the pool stays busy until the last
run. The notebooks then find every run in the cache and only evaluate, draw and write tables.

The runs are the notebooks' own lists for their default parameters:
:func:`gafn_lib.repro.experiments.notebook_runs` (grid notebooks 01–05, the ``gridworld`` store)
and :func:`gafn_lib.repro.mol_experiments.notebook_runs` (notebook 06, the ``molecules`` store).
Notebooks 00 and 07 train small runs inside the notebook and have nothing to prefetch. A run that
the prefetch misses is not an error: its notebook trains it, as without the prefetch.

For long sweeps in the background (the paper profile: hours), run only this step, checkpointed, on
the cores you can spare, then draw the figures when it is done::

    nohup python -m gafn_lib.repro.prefetch --profile paper --only 01,02 --workers 1 > prefetch.log 2>&1 &
    make figures PROFILE=paper NB=01,02      # afterwards: every run is cached

A killed sweep resumes from the runs' last checkpoints when the same command runs again. The log
shows a bar of runs done / total with the time elapsed and left (``tr '\r' '\n' < prefetch.log | tail -1``);
the same command with ``--status`` trains nothing and prints, task by task, what is finished, which
ensembles are checkpointed at which step, and what has not started.

**Across machines.** The run store is a git-ignored cache; a new clone starts without it. For the
profiles that train for hours (``paper``, ``long``) the prefetch first restores the committed run
archive ``data/runs/<profile>/`` (:mod:`gafn_lib.runner.archive`: finished runs and in-progress
checkpoints) into the store, and ``--save-archive`` copies the store's finished runs and current
checkpoints (up to :data:`gafn_lib.runner.archive.MAX_ARCHIVED_CHECKPOINT_BYTES`, 64 MB, in files of at
most 5 MB; larger ones stay in the local store and are named) back into it, to be committed::

    python -m gafn_lib.repro.prefetch --profile paper --only 01,02 --save-archive
    git add data/runs/paper && git commit -m "paper profile: runs so far"
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Sequence

#: Notebooks whose runs live in the runner's stores, by store.
GRID_NOTEBOOKS = ("01", "02", "03", "04", "05")
MOLECULE_NOTEBOOKS = ("06",)


def planned_runs(notebooks: Sequence[str], profile: str) -> dict[str, list[Any]]:
    """``{store name: configs}`` the notebooks numbered ``notebooks`` (e.g. ``["01", "06"]``) read
    with their default parameters for ``profile``; each config once, in first-seen order."""
    from gafn_lib.repro import experiments as ex
    from gafn_lib.repro import mol_experiments as mx
    from gafn_lib.runner import run_id

    wanted = set(notebooks)
    plan: dict[str, list[Any]] = {}
    if wanted & set(GRID_NOTEBOOKS):
        per_notebook = ex.notebook_runs(profile)
        plan[ex.GRID_STORE] = [c for nb in GRID_NOTEBOOKS if nb in wanted for c in per_notebook[nb]]
    if wanted & set(MOLECULE_NOTEBOOKS) and profile != "long":  # long: hours per run, run by `mol_experiments long`
        plan[mx.MOL_STORE] = [c for _, c in mx.notebook_runs(profile)]
    for store, configs in plan.items():
        seen: dict[str, Any] = {}
        for config in configs:
            seen.setdefault(run_id(config), config)
        plan[store] = list(seen.values())
    return {store: configs for store, configs in plan.items() if configs}


#: Checkpoint period (steps) of prefetched runs per profile (None: no checkpoints, runs take minutes).
CHECKPOINT_EVERY = {"quick": None, "smoke": None, "paper": 1_000, "long": 1_000}


def restore_archive(notebooks: Sequence[str], profile: str, results_dir: str | Path, archive: str | Path) -> dict[str, Any]:
    """Copy into the stores under ``results_dir`` what the run archive ``archive`` holds for the runs
    of :func:`planned_runs` (:func:`gafn_lib.runner.archive.restore_from_archive`); prints and
    returns ``{store: ArchiveReport}``."""
    from gafn_lib.runner import ExperimentStore, run_id
    from gafn_lib.runner.archive import restore_from_archive

    reports = {}
    for store, configs in planned_runs(notebooks, profile).items():
        source, target = ExperimentStore.open(store, archive), ExperimentStore.open(store, results_dir)
        reports[store] = report = restore_from_archive(source, target, [run_id(c) for c in configs])
        if report.runs or report.checkpoints or report.skipped:
            print(f"prefetch: {report.summary(source.root, target.root)}", flush=True)
    return reports


def save_archive(notebooks: Sequence[str], profile: str, results_dir: str | Path, archive: str | Path) -> dict[str, Any]:
    """Copy the finished runs and the current checkpoints of :func:`planned_runs` from the stores
    under ``results_dir`` into the run archive ``archive`` (:func:`gafn_lib.runner.archive.save_to_archive`);
    prints and returns ``{store: ArchiveReport}``."""
    from gafn_lib.runner import ExperimentStore, run_id
    from gafn_lib.runner.archive import save_to_archive

    reports = {}
    for store, configs in planned_runs(notebooks, profile).items():
        source, target = ExperimentStore.open(store, results_dir), ExperimentStore.open(store, archive)
        reports[store] = report = save_to_archive(source, target, [run_id(c) for c in configs])
        print(f"{store}: {report.summary(source.root, target.root)}", flush=True)
    return reports


def prefetch(notebooks: Sequence[str], profile: str, results_dir: str | Path, workers: int | None = None,
             backend: str = "process", progress: bool = False, checkpoint_every: int | None = None,
             archive: str | Path | None = None, ensemble_size: int | None = None) -> dict[str, int]:
    """Train (cached) every run of :func:`planned_runs` into ``results_dir``; returns the number of
    runs per store. Prints one line per store with the number of runs and the time taken. Runs are
    checkpointed every ``checkpoint_every`` steps (default: :data:`CHECKPOINT_EVERY` of the profile).
    With ``archive`` (a run archive folder, :mod:`gafn_lib.runner.archive`), its finished runs and
    checkpoints are first restored into the stores, so only what it lacks is trained.
    ``ensemble_size``: the most runs trained together as one ensemble (default: the runner's
    :data:`~gafn_lib.runner.sweep.DEFAULT_ENSEMBLE_SIZE`); a checkpointed ensemble is resumed as it
    was grouped, whatever this value."""
    if checkpoint_every is None:
        checkpoint_every = CHECKPOINT_EVERY.get(profile)
    from gafn_lib.repro.grid_cost import seconds_per_step
    from gafn_lib.runner import run_sweep

    if archive is not None:
        restore_archive(notebooks, profile, results_dir, archive)
    counts: dict[str, int] = {}
    for store, configs in planned_runs(notebooks, profile).items():
        start = time.perf_counter()
        print(f"prefetch: {len(configs)} runs of the {store!r} store (cached runs are skipped) ...", flush=True)
        run_sweep(store, configs, results_dir=results_dir, workers=workers, backend=backend, progress=progress,
                  checkpoint_every=checkpoint_every, step_seconds=seconds_per_step, **_size(ensemble_size))
        print(f"prefetch: {store!r} ready in {time.perf_counter() - start:.1f} s", flush=True)
        counts[store] = len(configs)
    return counts


def _size(ensemble_size: int | None) -> dict[str, int]:
    """The ``ensemble_size`` keyword for the runner when one is given (else the runner's default)."""
    return {} if ensemble_size is None else {"ensemble_size": ensemble_size}


def status(notebooks: Sequence[str], profile: str, results_dir: str | Path, workers: int | None = None,
           ensemble_size: int | None = None) -> dict[str, "Any"]:
    """``{store: table}`` of :func:`gafn_lib.runner.status.sweep_status` for the runs
    :func:`prefetch` would train (same grouping into ensembles for the same ``workers`` and
    ``ensemble_size``), with the expected core-hours left per task (:mod:`gafn_lib.repro.grid_cost`;
    NaN for molecule runs)."""
    from gafn_lib.repro.grid_cost import seconds_per_step
    from gafn_lib.runner.status import sweep_status

    return {store: sweep_status(store, configs, results_dir=results_dir, workers=workers, step_seconds=seconds_per_step,
                                **_size(ensemble_size))
            for store, configs in planned_runs(notebooks, profile).items()}


def print_status(tables: dict[str, Any]) -> None:
    """Each store's task table and a one-line total (runs finished / all, tasks checkpointed / left)."""
    import pandas as pd

    with pd.option_context("display.max_colwidth", 90, "display.width", 200):
        for store, table in tables.items():
            runs = int(table["runs"].sum())
            done = int(table.loc[table["status"] == "finished", "runs"].sum())
            left = table[table["status"] != "finished"]
            checkpointed = int((left["status"] == "checkpointed").sum())
            print(f"{store}: {done} of {runs} runs finished; {len(left)} task(s) left ({checkpointed} checkpointed)")
            shown = table.copy()
            if "core_hours_left" in shown:
                shown["core_hours_left"] = shown["core_hours_left"].map(lambda v: "" if pd.isna(v) else f"{v:.2f}")
            print(shown.to_string(index=False))
            if "core_hours_left" in table and len(left):
                hours = left["core_hours_left"]
                known = f"≈ {hours.sum():.3g} core-hours left" if hours.notna().all() else (
                    f"≈ {hours.sum():.3g} core-hours left for the {int(hours.notna().sum())} task(s) with an estimate")
                print(f"{store}: {known} (gafn_lib.repro.grid_cost: measured ms per member-step by method and height, ±50 %)")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gafn_lib.repro.prefetch --profile paper --only 01,02 [--workers N]``: train the
    notebooks' runs into the project's run stores (``data/results/``) without executing them."""
    from gafn_lib.repro import paths
    from gafn_lib.repro.notebook_selection import parse_only
    from gafn_lib.repro.profiles import ALL_PROFILES

    parser = argparse.ArgumentParser(prog="python -m gafn_lib.repro.prefetch", description=" ".join(main.__doc__.split()))
    parser.add_argument("--profile", choices=ALL_PROFILES, default="quick")
    parser.add_argument("--only", default=",".join(GRID_NOTEBOOKS + MOLECULE_NOTEBOOKS), help="notebook numbers, e.g. 01,02")
    parser.add_argument("--workers", type=int, default=None, help="parallel runs (default: every core)")
    parser.add_argument("--checkpoint-every", type=int, default=None, help="steps between checkpoints (default: by profile)")
    parser.add_argument("--ensemble-size", type=int, default=None,
                        help="the most runs trained together as one ensemble (default 32). Smaller ensembles finish "
                             "sooner and checkpoint in smaller files: the archive keeps checkpoints up to 64 MB, and a "
                             "30-member GAFlowNet ensemble at H = 32 writes 69 MB. A checkpointed ensemble resumes as it "
                             "was grouped")
    parser.add_argument("--results-dir", default=None, help="default: the folder make figures writes for this profile")
    parser.add_argument("--archive", default=None,
                        help="the committed run archive restored before training (default: data/runs/<profile>/ for "
                             "the paper and long profiles when --results-dir is not given)")
    parser.add_argument("--no-archive", action="store_true", help="do not restore from (or save to) a run archive")
    parser.add_argument("--save-archive", action="store_true",
                        help="copy the finished runs and current checkpoints (up to 64 MB each, in files of at most 5 MB) into the run archive (to commit); train nothing")
    parser.add_argument("--status", action="store_true",
                        help="print what is finished, checkpointed (at which step), running in another process "
                             "and not started; train nothing")
    args = parser.parse_args(argv)
    try:
        numbers = parse_only(args.only)
    except ValueError as err:
        parser.error(str(err))
    if args.workers is not None and args.workers < 1:
        parser.error(f"--workers must be >= 1, got {args.workers}")
    if args.ensemble_size is not None and args.ensemble_size < 1:
        parser.error(f"--ensemble-size must be >= 1, got {args.ensemble_size}")
    results = Path(args.results_dir) if args.results_dir else paths.pipeline_output_root(paths.project_root(), args.profile) / "data" / "results"
    if args.archive and args.no_archive:
        parser.error("--archive and --no-archive exclude each other")
    archive = None if args.no_archive else (
        Path(args.archive) if args.archive else None if args.results_dir else paths.run_archive_dir(args.profile))
    if args.save_archive and archive is None:
        parser.error(f"--save-archive: no run archive for profile {args.profile!r} here; name one with --archive")
    if not planned_runs(numbers, args.profile):
        print(f"nothing to prefetch for notebooks {', '.join(numbers)} at profile {args.profile!r}")
        return 0
    if args.save_archive:
        save_archive(numbers, args.profile, results, archive)
        return 0
    if args.status:
        if archive is not None:
            restore_archive(numbers, args.profile, results, archive)
        print_status(status(numbers, args.profile, results, workers=args.workers, ensemble_size=args.ensemble_size))
        return 0
    # the bar (runs done / total, elapsed, ETA) also when stderr is a log file: a background sweep
    # runs for hours; read it with `tr '\r' '\n' < prefetch.log | tail -1`
    from gafn_lib.runner import RunsInProgressError, SweepError

    try:
        prefetch(numbers, args.profile, results, workers=args.workers, progress=True, checkpoint_every=args.checkpoint_every,
                 archive=archive, ensemble_size=args.ensemble_size)
    except (SweepError, RunsInProgressError) as err:  # the finished runs are stored; the message says what is left
        print(f"error: {err}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
