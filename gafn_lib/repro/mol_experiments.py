"""The paper's molecule experiment (§4, notebook 06): ``python -m gafn_lib.repro.mol_experiments``,
and the one namespace notebook 06 imports (``from gafn_lib.repro import mol_experiments as mx``).

The work is done in :mod:`gafn_lib.repro.molecules`, one job per module, whose names this module
re-exports:

- :mod:`~gafn_lib.repro.molecules.configs` — the methods (labels), rewards, budgets and profiles as
  labelled run configs (from :data:`gafn_lib.registry.METHODS`);
- :mod:`~gafn_lib.repro.molecules.load` — training and reading the runs of the ``molecules`` store;
- :mod:`~gafn_lib.repro.molecules.plots` — the three panels and the drawings of the best molecules;
- :mod:`~gafn_lib.repro.molecules.claims` — the paper's claims as tests over seeds;
- :mod:`~gafn_lib.repro.molecules.probe` — the release-option probe.

This module itself is the command line (:func:`main`): the long profile's runs, resumable.
"""

from __future__ import annotations

from typing import Sequence

from gafn_lib.repro import experiments as ex  # noqa: F401  (notebook 06 reads mx.ex.summarise)
from gafn_lib.repro.molecules.claims import molecule_claims
from gafn_lib.repro.molecules.configs import (
    GAFN, GFN, LONG_CHECKPOINT_EVERY, LONG_LOGS, LONG_SEEDS, LONG_STEPS, MARS, MOL_METHODS, PAPER_REWARD, PPO, RANDOM,
    REDUCED_REWARD, REWARD_FIELDS, long_runs, method_config, molecule_runs, notebook_runs, notebook_settings, reward_label,
    scale_note,
)
from gafn_lib.repro.molecules.load import (
    MOL_STORE, best_molecules, load_molecules, progress_of, run_molecules, split_complete,
)
from gafn_lib.repro.molecules.plots import MODES_LINEAR_UP_TO, PANELS, draw_best_molecules, plot_panels, seeds_label, thousands
from gafn_lib.repro.molecules.probe import OPTION_PROBES, option_probe

__all__ = [
    "GAFN", "GFN", "LONG_CHECKPOINT_EVERY", "LONG_LOGS", "LONG_SEEDS", "LONG_STEPS", "MARS", "MODES_LINEAR_UP_TO", "MOL_METHODS",
    "MOL_STORE", "OPTION_PROBES", "PANELS", "PAPER_REWARD", "PPO", "RANDOM", "REDUCED_REWARD", "REWARD_FIELDS", "best_molecules",
    "draw_best_molecules", "load_molecules", "long_runs", "main", "method_config", "molecule_claims", "molecule_runs",
    "notebook_runs", "notebook_settings", "option_probe", "plot_panels", "progress_of", "reward_label", "run_molecules",
    "scale_note", "seeds_label", "split_complete", "thousands",
]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gafn_lib.repro.mol_experiments long [--methods ...] [--seeds ...] [--workers N] [--status]``:
    run the long profile's runs into the project's run store (``data/results/molecules``, which
    notebook 06 reads with ``profile="long"``), checkpointed; rerun the same command to resume.

    ``--workers 1`` (default) trains one run after the other in this process; ``--workers N`` trains
    ``N`` at a time in a process pool (one core and one torch thread each), in the same seed-major
    order. Each finished run is stored as soon as it finishes either way. ``--status`` trains nothing
    and prints each run's progress (done, checkpointed at which step, not started).
    Do not start two of these commands on the same runs at once: both would train them.
    """
    import argparse

    from gafn_lib.core.runtime import configure_threads
    from gafn_lib.repro import paths
    from gafn_lib.runner import RunsInProgressError, SweepError

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("profile", choices=["long"])
    parser.add_argument("--methods", nargs="+", default=list(MOL_METHODS), choices=list(MOL_METHODS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(LONG_SEEDS))
    parser.add_argument("--results-dir", default=None, help="default: <project root>/data/results")
    parser.add_argument("--workers", type=int, default=1, help="runs trained at a time, one core each (default 1)")
    parser.add_argument("--status", action="store_true", help="print each run's progress and exit (trains nothing)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be >= 1, got {args.workers}")
    configure_threads(1)
    results = args.results_dir or paths.project_root() / "data" / "results"
    runs = long_runs(args.methods, args.seeds)
    if args.status:
        progress = progress_of(runs, results)
        print(progress.to_string(index=False))
        print(f"{int((progress['status'] == 'done').sum())} of {len(progress)} runs done")
        return 0
    try:
        if args.workers == 1:
            for label, config in runs:  # one at a time: each finished run is stored at once
                print(f"{label} seed {config.seed}: {config.n_steps} steps", flush=True)
                run_molecules([(label, config)], results, workers=1, backend="serial", progress=False, checkpoint_every=LONG_CHECKPOINT_EVERY)
        else:
            print(f"{len(runs)} runs, {args.workers} at a time (finished ones are skipped)", flush=True)
            run_molecules(runs, results, workers=args.workers, backend="process", progress=True, checkpoint_every=LONG_CHECKPOINT_EVERY)
    except (SweepError, RunsInProgressError) as err:
        print(f"error: {err}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
