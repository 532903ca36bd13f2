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

This module itself is the command line (:func:`main`): the long profile's runs and the decisive run
(:func:`gafn_lib.repro.molecules.configs.decisive_runs`), resumable, with a committed run archive.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from gafn_lib.repro import experiments as ex  # noqa: F401  (notebook 06 reads mx.ex.summarise)
from gafn_lib.repro.molecules.claims import molecule_claims
from gafn_lib.repro.molecules.configs import (
    DECISIVE_CHECKPOINT_EVERY, DECISIVE_METHODS, DECISIVE_SEEDS, DECISIVE_STEPS, GAFN, GFN, GFN_RELEASE, GFN_RELEASE_LOSS,
    LONG_CHECKPOINT_EVERY, LONG_LOGS, LONG_SEEDS, LONG_STEPS, MARS, MOL_METHODS, PAPER_REWARD, PPO, RANDOM,
    REDUCED_REWARD, REWARD_FIELDS, decisive_runs, long_runs, method_config, molecule_runs, notebook_runs, notebook_settings, reward_label,
    release_fields, scale_note,
)
from gafn_lib.repro.molecules.load import (
    MOL_STORE, best_molecules, load_molecules, progress_of, run_molecules, split_complete,
)
from gafn_lib.repro.molecules.plots import MODES_LINEAR_UP_TO, PANELS, draw_best_molecules, plot_panels, seeds_label, thousands
from gafn_lib.repro.molecules.probe import OPTION_PROBES, option_probe

__all__ = [
    "DECISIVE_CHECKPOINT_EVERY", "DECISIVE_METHODS", "DECISIVE_SEEDS", "DECISIVE_STEPS", "GFN_RELEASE", "GFN_RELEASE_LOSS", "decisive_runs",
    "release_fields", "run_archive", "GAFN", "GFN", "LONG_CHECKPOINT_EVERY", "LONG_LOGS", "LONG_SEEDS", "LONG_STEPS", "MARS", "MODES_LINEAR_UP_TO", "MOL_METHODS",
    "MOL_STORE", "OPTION_PROBES", "PANELS", "PAPER_REWARD", "PPO", "RANDOM", "REDUCED_REWARD", "REWARD_FIELDS", "best_molecules",
    "draw_best_molecules", "load_molecules", "long_runs", "main", "method_config", "molecule_claims", "molecule_runs",
    "notebook_runs", "notebook_settings", "option_probe", "plot_panels", "progress_of", "reward_label", "run_molecules",
    "scale_note", "seeds_label", "split_complete", "thousands",
]


#: The command line's sweeps: their runs, checkpoint period and default seeds.
SWEEPS = {
    "long": (long_runs, LONG_CHECKPOINT_EVERY, LONG_SEEDS, MOL_METHODS),
    "decisive": (lambda methods, seeds: decisive_runs(seeds, methods=methods), DECISIVE_CHECKPOINT_EVERY, DECISIVE_SEEDS, DECISIVE_METHODS),
}


def run_archive(sweep: str) -> Path:
    """The committed run archive of a sweep of :data:`SWEEPS`: ``<project>/data/runs/<sweep>/``."""
    from gafn_lib.repro import paths

    if sweep not in SWEEPS:
        raise ValueError(f"sweep must be one of {tuple(SWEEPS)}, got {sweep!r}")
    return paths.project_root().resolve() / paths.RUN_ARCHIVE_DIR / sweep


def report_decisive(runs: list, results_dir, tables_dir=None, figures_dir=None) -> int:
    """Write the decisive run's tables and figure from its finished runs and print the verdicts
    (:mod:`gafn_lib.repro.molecules.decisive`); defaults: the long profile's folders of notebook 06."""
    from gafn_lib.repro import paths
    from gafn_lib.repro.molecules import decisive
    from gafn_lib.repro.plotting import save_figure

    curves = decisive.decisive_curves(runs, results_dir)
    if curves.empty:
        print("no decisive run has finished yet (see --status)")
        return 1
    hits = decisive.tail_hits(curves)
    verdicts = decisive.against_random(hits, RANDOM)
    tables = Path(tables_dir) if tables_dir else paths.profile_results_dir("long") / "06_molecule_generation"
    tables.mkdir(parents=True, exist_ok=True)
    curves.to_csv(tables / "decisive_curves.csv", index=False)
    hits.to_csv(tables / "decisive_tail_hits.csv", index=False)
    verdicts.to_csv(tables / "decisive_verdicts.csv", index=False)
    seeds = sorted(curves["seed"].unique())
    n_mol = int(curves["molecules_generated"].max())
    fig = decisive.plot_decisive(curves, f"Decisive run: release-configuration GFlowNet vs default GFlowNet vs random search; "
                                         f"paper reward, seeds {', '.join(map(str, seeds))}, up to {n_mol:,} molecules per run")
    save_figure(fig, "molecules_decisive", Path(figures_dir) if figures_dir else paths.profile_figures_dir("long"))
    print(hits.to_string(index=False))
    print(verdicts.to_string(index=False))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gafn_lib.repro.mol_experiments {long,decisive} [--methods ...] [--seeds ...] [--workers N] [--status] [--save-archive]``:
    train a sweep's runs into the project's run store (``data/results/molecules``, which notebook 06
    reads), checkpointed; rerun the same command to resume.

    ``long``: the long profile of notebook 06. ``decisive``: issue 23's decisive run (the release
    configuration's GFlowNet vs our default GFlowNet vs random search, paper reward, 2 seeds).

    Before training, the sweep's committed run archive (``data/runs/<sweep>/``; ``--no-archive``:
    none) is restored into the store, so a new clone or machine resumes from the last saved
    checkpoints. ``--save-archive`` trains nothing: it copies the finished runs and the current
    checkpoints into the archive, to commit. ``--workers 1`` (default) trains one run after the
    other in this process; ``--workers N`` trains ``N`` at a time in a process pool (one core and one
    torch thread each), in the same seed-major order. Each finished run is stored as soon as it
    finishes. ``--status`` trains nothing and prints each run's progress (done, checkpointed at
    which step, not started). Do not start two of these commands on the same runs at once.
    """
    import argparse

    from gafn_lib.core.runtime import configure_threads
    from gafn_lib.repro import paths
    from gafn_lib.runner import ExperimentStore, RunsInProgressError, SweepError, run_id
    from gafn_lib.runner.archive import restore_from_archive, save_to_archive

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("sweep", choices=list(SWEEPS))
    parser.add_argument("--methods", nargs="+", default=None, help="labels (default: every method of the sweep)")
    parser.add_argument("--seeds", nargs="+", type=int, default=None, help="default: the sweep's seeds")
    parser.add_argument("--results-dir", default=None, help="default: <project root>/data/results")
    parser.add_argument("--workers", type=int, default=1, help="runs trained at a time, one core each (default 1)")
    parser.add_argument("--status", action="store_true", help="print each run's progress and exit (trains nothing)")
    parser.add_argument("--save-archive", action="store_true", help="copy finished runs and checkpoints into the run archive; train nothing")
    parser.add_argument("--no-archive", action="store_true", help="neither restore from nor save to the run archive")
    parser.add_argument("--report", action="store_true",
                        help="decisive only: train nothing; write the finished runs' curves, tail hit rates and verdicts "
                             "(data/results/long/06_molecule_generation/decisive_*.csv) and figure (figures/long/molecules_decisive.png)")
    args = parser.parse_args(argv)
    build, checkpoint_every, default_seeds, methods = SWEEPS[args.sweep]
    if args.workers < 1:
        parser.error(f"--workers must be >= 1, got {args.workers}")
    bad = sorted(set(args.methods or ()) - set(methods))
    if bad:
        parser.error(f"--methods: unknown {bad} for {args.sweep}; choose from {list(methods)}")
    if args.save_archive and args.no_archive:
        parser.error("--save-archive and --no-archive exclude each other")
    if args.report and args.sweep != "decisive":
        parser.error("--report is for the decisive sweep (notebook 06 reports the long profile)")
    configure_threads(1)
    results = args.results_dir or paths.project_root() / "data" / "results"
    runs = build(list(args.methods or methods), list(args.seeds if args.seeds is not None else default_seeds))
    ids = [run_id(c) for _, c in runs]
    if not args.no_archive:
        archive, store = ExperimentStore.open(MOL_STORE, run_archive(args.sweep)), ExperimentStore.open(MOL_STORE, results)
        if args.save_archive:
            print(save_to_archive(store, archive, ids).summary(results, archive.root), flush=True)
            return 0
        if archive.root.exists():
            print(restore_from_archive(archive, store, ids).summary(archive.root, results), flush=True)
    if args.report:
        return report_decisive(runs, results)
    if args.status:
        progress = progress_of(runs, results)
        print(progress.to_string(index=False))
        print(f"{int((progress['status'] == 'done').sum())} of {len(progress)} runs done")
        return 0
    try:
        if args.workers == 1:
            for label, config in runs:  # one at a time: each finished run is stored at once
                print(f"{label} seed {config.seed}: {config.n_steps} steps", flush=True)
                run_molecules([(label, config)], results, workers=1, backend="serial", progress=False, checkpoint_every=checkpoint_every)
        else:
            print(f"{len(runs)} runs, {args.workers} at a time (finished ones are skipped)", flush=True)
            run_molecules(runs, results, workers=args.workers, backend="process", progress=True, checkpoint_every=checkpoint_every)
    except (SweepError, RunsInProgressError) as err:
        print(f"error: {err}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
