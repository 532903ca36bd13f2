"""The paper's molecule experiment (§4, notebook 06): ``python -m gafn_lib.repro.mol_experiments``,
and the one namespace notebook 06 imports (``from gafn_lib.repro import mol_experiments as mx``).

The work is done in :mod:`gafn_lib.repro.molecules`, one job per module, whose names this module
re-exports:

- :mod:`~gafn_lib.repro.molecules.configs` — the methods (labels), rewards, budgets and profiles as
  labelled run configs (from :data:`gafn_lib.registry.METHODS`);
- :mod:`~gafn_lib.repro.molecules.load` — training and reading the runs of the ``molecules`` store;
- :mod:`~gafn_lib.repro.molecules.plots` — the three panels and the drawings of the best molecules;
- :mod:`~gafn_lib.repro.molecules.sampler` — what each sampler produces now: late-training hit
  rates (per seed against random search) and the summary table, from the per-window columns;
- :mod:`~gafn_lib.repro.molecules.claims` — the paper's claims as tests over seeds;
- :mod:`~gafn_lib.repro.molecules.findings` — the seed-by-seed tables and GAFlowNet's ranks in
  plain sentences;
- :mod:`~gafn_lib.repro.molecules.decisive` — the decisive run's statistic, figure and report;
- :mod:`~gafn_lib.repro.molecules.cost` — core-hours of a sweep from measured step rates;
- :mod:`~gafn_lib.repro.molecules.probe` — the release-option probe.

This module itself is the command line (:func:`main`): the long and paper profiles' runs and the
decisive run (:func:`gafn_lib.repro.molecules.configs.decisive_runs`), resumable, with a committed
run archive.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

from gafn_lib.repro import experiments as ex  # noqa: F401  (notebook 06 reads mx.ex.summarise)
from gafn_lib.repro.molecules import decisive  # noqa: F401  (notebook 06 reads mx.decisive.read_report)
from gafn_lib.repro.molecules.claims import molecule_claims
from gafn_lib.repro.molecules.configs import (
    DECISIVE_CHECKPOINT_EVERY, DECISIVE_METHODS, DECISIVE_SEEDS, DECISIVE_STEPS, GAFN, GAFN_RELEASE, GAFN_RELEASE_NO_C, GFN, GFN_RELEASE, GFN_RELEASE_LOSS, GFN_RELEASE_NO_C,
    KNOWN_METHODS, LONG_CHECKPOINT_EVERY, LONG_LOGS, LONG_SEEDS, LONG_STEPS, MARS, MOL_METHODS, PAPER_CHECKPOINT_EVERY, PAPER_LOGS, PAPER_REWARD,
    PAPER_SEEDS, PAPER_STEPS, PPO, RANDOM, REDUCED_REWARD, RELEASE_PROFILE_METHODS, REWARD_FIELDS, VARIANT_BASE, decisive_runs, long_runs, method_config, molecule_runs,
    notebook_runs, notebook_settings, paper_runs, release_fields, release_method_fields, reward_label, scale_note, sweep_runs,
    variant_fields,
)
from gafn_lib.repro.molecules.cost import RELEASE_CPU_STEPS_PER_SECOND, cost_estimate, format_cost
from gafn_lib.repro.molecules.findings import plain_findings
from gafn_lib.repro.molecules.load import (
    MOL_STORE, best_molecules, load_molecules, progress_of, run_molecules, split_complete,
)
from gafn_lib.repro.molecules.plots import (
    MODES_LINEAR_UP_TO, PANELS, SAMPLER_PANELS, draw_best_molecules, plot_panels, plot_sampler_panels, seeds_label, thousands,
)
from gafn_lib.repro.molecules.probe import COLLAPSE_COMMAND, COLLAPSE_PROBES, OPTION_PROBES, collapse_probe, collapse_summary, option_probe, read_collapse_probe
from gafn_lib.repro.molecules.sampler import (
    TAIL, finished_runs, format_finished_runs, format_summary, gafn_vs_gflownets, has_window_columns, hit_rate_vs, hit_rate_vs_random,
    summary_table, tail_table,
)

__all__ = [
    "DECISIVE_CHECKPOINT_EVERY", "DECISIVE_METHODS", "DECISIVE_SEEDS", "DECISIVE_STEPS", "GAFN", "GFN", "GAFN_RELEASE", "GAFN_RELEASE_NO_C", "GFN_RELEASE", "GFN_RELEASE_LOSS", "GFN_RELEASE_NO_C",
    "KNOWN_METHODS", "LONG_CHECKPOINT_EVERY", "LONG_LOGS", "LONG_SEEDS", "LONG_STEPS", "MARS", "MODES_LINEAR_UP_TO", "MOL_METHODS", "MOL_STORE",
    "COLLAPSE_COMMAND", "COLLAPSE_PROBES", "OPTION_PROBES", "PANELS", "PAPER_CHECKPOINT_EVERY", "PAPER_LOGS", "PAPER_REWARD", "PAPER_SEEDS", "PAPER_STEPS", "PPO", "RANDOM",
    "REDUCED_REWARD", "RELEASE_CPU_STEPS_PER_SECOND", "RELEASE_PROFILE_METHODS", "REWARD_FIELDS", "SAMPLER_PANELS", "SWEEPS", "TAIL", "best_molecules",
    "collapse_probe", "collapse_summary", "cost_estimate", "decisive", "decisive_runs", "draw_best_molecules", "format_cost", "format_summary", "has_window_columns", "hit_rate_vs", "hit_rate_vs_random",
    "finished_runs", "format_finished_runs", "load_molecules", "long_runs", "main", "method_config", "molecule_claims", "molecule_runs", "notebook_runs", "notebook_settings",
    "option_probe", "paper_runs", "plain_findings", "read_collapse_probe", "plot_panels", "plot_sampler_panels", "progress_of", "release_fields", "release_method_fields",
    "report_decisive", "reward_label", "run_archive", "run_molecules", "scale_note", "seeds_label", "split_complete", "summary_table",
    "sweep_runs", "tail_table", "thousands", "VARIANT_BASE", "variant_fields", "gafn_vs_gflownets",
]


#: The command line's sweeps: their runs (a function of methods and seeds), checkpoint period,
#: default seeds and methods. ``long`` and ``paper`` are notebook 06's profiles of those names.
#: The builders look the functions up when called, so a test can replace ``long_runs`` on this module.
SWEEPS = {
    "long": (lambda methods, seeds: long_runs(methods, seeds), LONG_CHECKPOINT_EVERY, LONG_SEEDS, RELEASE_PROFILE_METHODS),
    "paper": (lambda methods, seeds: paper_runs(methods, seeds), PAPER_CHECKPOINT_EVERY, PAPER_SEEDS, RELEASE_PROFILE_METHODS),
    "decisive": (lambda methods, seeds: decisive_runs(seeds, methods=methods), DECISIVE_CHECKPOINT_EVERY, DECISIVE_SEEDS, DECISIVE_METHODS),
}
#: Sweeps whose --status prints a cost estimate (their GFlowNets are in the release preset, the
#: configuration :data:`RELEASE_CPU_STEPS_PER_SECOND` was measured in).
COSTED_SWEEPS = ("long", "paper")


def run_archive(sweep: str) -> Path:
    """The committed run archive of a sweep of :data:`SWEEPS`: ``<project>/data/runs/<sweep>/``."""
    from gafn_lib.repro import paths

    if sweep not in SWEEPS:
        raise ValueError(f"sweep must be one of {tuple(SWEEPS)}, got {sweep!r}")
    return paths.project_root().resolve() / paths.RUN_ARCHIVE_DIR / sweep


def report_decisive(runs: list, results_dir, tables_dir=None, figures_dir=None) -> int:
    """Write the decisive run's tables and figure from its finished runs and print the verdicts
    (:mod:`gafn_lib.repro.molecules.decisive`): each learner against random search
    (``decisive_verdicts.csv``) and the release GAFlowNets against the release GFlowNets, each pair
    that has run (both as released; the GAFlowNet as released against the GFlowNet without
    ``log_reg_c``; both without it: ``decisive_gafn_vs_gfn.csv``, column ``reference``);
    defaults: the long profile's folders of notebook 06."""
    from gafn_lib.repro import paths
    from gafn_lib.repro.plotting import save_figure

    curves = decisive.decisive_curves(runs, results_dir)
    if curves.empty:
        print("no decisive run has finished yet (see --status)")
        return 1
    hits = decisive.tail_hits(curves)
    verdicts = decisive.against_random(hits, RANDOM)
    tables = Path(tables_dir) if tables_dir else decisive.report_dir(paths.results_dir())
    tables.mkdir(parents=True, exist_ok=True)
    curves.to_csv(tables / "decisive_curves.csv", index=False)
    hits.to_csv(tables / "decisive_tail_hits.csv", index=False)
    verdicts.to_csv(tables / "decisive_verdicts.csv", index=False)
    # the paper's comparison, GAFlowNet against GFlowNet, in the release's network: against each release GFlowNet that ran
    ran = set(hits["method"])
    pairs = [(a, r) for a, r in ((GAFN_RELEASE, GFN_RELEASE), (GAFN_RELEASE, GFN_RELEASE_NO_C), (GAFN_RELEASE_NO_C, GFN_RELEASE_NO_C))
             if {a, r} <= ran]
    paired = pd.concat([decisive.against_reference(hits, r, [a], name="GFlowNet").assign(reference=r) for a, r in pairs],
                       ignore_index=True) if pairs else None
    if paired is not None:
        paired.to_csv(tables / decisive.OPTIONAL_REPORT_TABLES["gafn_vs_gfn"], index=False)
    seeds = sorted(curves["seed"].unique())
    n_mol = int(curves["molecules_generated"].max())
    fig = decisive.plot_decisive(curves, f"Decisive run: (GA)FlowNets in our and the release's configuration vs random search; "
                                         f"paper reward, seeds {', '.join(map(str, seeds))}, up to {n_mol:,} molecules per run")
    save_figure(fig, decisive.REPORT_FIGURE, Path(figures_dir) if figures_dir else paths.profile_figures_dir("long"))
    print(hits.to_string(index=False))
    print(verdicts.to_string(index=False))
    if paired is not None:
        print(paired.to_string(index=False))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gafn_lib.repro.mol_experiments {long,paper,decisive} [--methods ...] [--seeds ...] [--workers N] [--backend B] [--status] [--save-archive]``:
    train a sweep's runs into the project's run store (``data/results/molecules``, which notebook 06
    reads), checkpointed; rerun the same command to resume.

    ``long``: the long profile of notebook 06 (62,500 GFlowNet steps = 250,000 molecules per run,
    3 seeds, both GFlowNets in the release configuration, and the release GFlowNet without
    ``log_reg_c``: :data:`RELEASE_PROFILE_METHODS`). ``paper``: the paper profile (250,000
    steps, meant for a cluster: ``--backend ray``, docs/distributed.md). ``decisive``: issue 23's
    decisive run (the release configuration's GFlowNet vs our default GFlowNet vs random search,
    paper reward, 2 seeds).

    Before training, the sweep's committed run archive (``data/runs/<sweep>/``; ``--no-archive``:
    none) is restored into the store, so a new clone or machine resumes from the last saved
    checkpoints. ``--save-archive`` trains nothing: it copies the finished runs and the current
    checkpoints into the archive, to commit (a release-configuration run's checkpoint, 12–45 MB, is
    stored as parts of at most 5 MB: :mod:`gafn_lib.runner.archive`). ``--workers 1`` (default) trains one run after the
    other in this process; ``--workers N`` trains ``N`` at a time in a process pool (one core and one
    torch thread each), in the same seed-major order; ``--backend ray`` submits every run to Ray
    (one CPU each; the cluster of ``--address`` or ``$RAY_ADDRESS``, else a local instance with
    ``--workers`` CPUs). Each finished run is stored as soon as it finishes. ``--status`` trains
    nothing and prints each run's progress (done, checkpointed at which step, not started) and, for
    ``long`` and ``paper``, the estimated core-hours (:mod:`gafn_lib.repro.molecules.cost`). Two of
    these commands may share a store, e.g. ``long --methods "GFlowNet (release, log_reg_c 0)"`` on a
    second core beside ``long``: each run is locked by the process training it, ``--status`` names
    the holder, and with ``--workers 1`` a sweep that reaches a run another live sweep holds goes on
    with the next one and waits for the held runs at its end (training them itself if that sweep
    dies first).
    """
    import argparse

    from gafn_lib.core.runtime import configure_threads
    from gafn_lib.repro import paths
    from gafn_lib.runner import ExperimentStore, RunsInProgressError, SweepError, run_id
    from gafn_lib.runner.archive import restore_from_archive, save_to_archive

    parser = argparse.ArgumentParser(prog="python -m gafn_lib.repro.mol_experiments", description=main.__doc__.splitlines()[0])
    parser.add_argument("sweep", choices=list(SWEEPS))
    parser.add_argument("--methods", nargs="+", default=None, help="labels (default: every method of the sweep)")
    parser.add_argument("--seeds", nargs="+", type=int, default=None, help="default: the sweep's seeds")
    parser.add_argument("--results-dir", default=None, help="default: <project root>/data/results")
    parser.add_argument("--workers", type=int, default=1, help="runs trained at a time, one core each (default 1)")
    parser.add_argument("--backend", choices=("serial", "process", "ray"), default=None,
                        help="default: serial with --workers 1, else process; ray: one task per run on a Ray instance")
    parser.add_argument("--address", default=None, help="Ray cluster address (--backend ray; default $RAY_ADDRESS or a local instance)")
    parser.add_argument("--status", action="store_true", help="print each run's progress (and the cost estimate) and exit (trains nothing)")
    parser.add_argument("--save-archive", action="store_true", help="copy finished runs and checkpoints (up to 64 MB each, in files of at most 5 MB) into the run archive; train nothing")
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
    backend = args.backend or ("serial" if args.workers == 1 else "process")
    if backend == "serial" and args.workers != 1:
        parser.error(f"--backend serial trains one run at a time; it needs --workers 1, got {args.workers}")
    if args.address is not None and backend != "ray":
        parser.error(f"--address is for --backend ray, got --backend {backend}")
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
        done, _ = split_complete(runs, results)
        if done:
            found = finished_runs(load_molecules(done, results))
            print(f"\nwhat the finished runs found (late = the last {TAIL:.0%} of a run's molecules; one seed decides no claim):")
            with pd.option_context("display.width", 250):
                print(format_finished_runs(found).to_string(index=False) + "\n")
        if args.sweep in COSTED_SWEEPS:
            done = {i: max(0, int(step)) for i, step in enumerate(progress["steps_done"])}
            print(format_cost(cost_estimate(runs, steps_done=done), workers=args.workers))
        return 0
    try:
        if backend == "serial":
            held = []  # runs another live sweep is training: go on with the others, then wait for these
            for label, config in runs:  # one at a time: each finished run is stored at once
                print(f"{label} seed {config.seed}: {config.n_steps} steps", flush=True)
                try:
                    run_molecules([(label, config)], results, workers=1, backend="serial", progress=False,
                                  checkpoint_every=checkpoint_every, wait=False)
                except RunsInProgressError as err:
                    owner = next(iter(err.busy.values())).describe()
                    print(f"{label} seed {config.seed}: another live sweep is training it ({owner}); going on with the next run", flush=True)
                    held.append((label, config))
            if held:  # finished by their sweep, or trained here if that sweep dies first
                print(f"waiting for the {len(held)} run(s) another live sweep is training", flush=True)
                run_molecules(held, results, workers=1, backend="serial", progress=False, checkpoint_every=checkpoint_every)
        else:
            print(f"{len(runs)} runs, {args.workers} at a time on {backend} (finished ones are skipped)", flush=True)
            run_molecules(runs, results, workers=args.workers, backend=backend, progress=True, checkpoint_every=checkpoint_every,
                          address=args.address)
    except (SweepError, RunsInProgressError) as err:
        print(f"error: {err}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
