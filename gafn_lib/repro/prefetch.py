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
"""

from __future__ import annotations

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


def prefetch(notebooks: Sequence[str], profile: str, results_dir: str | Path, workers: int | None = None,
             backend: str = "process", progress: bool = False) -> dict[str, int]:
    """Train (cached) every run of :func:`planned_runs` into ``results_dir``; returns the number of
    runs per store. Prints one line per store with the number of runs and the time taken."""
    from gafn_lib.runner import run_sweep

    counts: dict[str, int] = {}
    for store, configs in planned_runs(notebooks, profile).items():
        start = time.perf_counter()
        print(f"prefetch: {len(configs)} runs of the {store!r} store (cached runs are skipped) ...", flush=True)
        run_sweep(store, configs, results_dir=results_dir, workers=workers, backend=backend, progress=progress)
        print(f"prefetch: {store!r} ready in {time.perf_counter() - start:.1f} s", flush=True)
        counts[store] = len(configs)
    return counts
