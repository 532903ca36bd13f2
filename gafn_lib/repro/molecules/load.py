"""Notebook 06's runs in the result store ``molecules``: train them (cached, checkpointed), see which
are finished, read their metric tables and their best molecules."""

from __future__ import annotations

from typing import Any

import pandas as pd

#: Result store shared by the molecule runs.
MOL_STORE = "molecules"


def run_molecules(
    runs: list[tuple[str, Any]], results_dir, workers: int | None = None, backend: str = "process", progress: bool = True,
    checkpoint_every: int | None = None, address: str | None = None, wait: bool = True,
) -> pd.DataFrame:
    """Run (cached; checkpointed every ``checkpoint_every`` steps if given) in the ``molecules`` store
    with :func:`gafn_lib.runner.run_sweep` (``backend``: serial, process or ray, ``address``: a Ray
    cluster; ``wait=False``: raise :class:`gafn_lib.runner.RunsInProgressError` for runs another
    live sweep is training instead of waiting for them); the tidy table with ``method`` and ``seed`` columns."""
    from gafn_lib.runner import run_sweep

    run_sweep(MOL_STORE, [c for _, c in runs], results_dir=results_dir, workers=workers, backend=backend,
              checkpoint_every=checkpoint_every, progress=progress, address=address, wait=wait)
    return load_molecules(runs, results_dir)


def split_complete(runs: list[tuple[str, Any]], results_dir) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    """``(complete, missing)``: the runs the ``molecules`` store holds finished (with their arrays), and the others."""
    from gafn_lib.runner import ExperimentStore, run_id

    store = ExperimentStore.open(MOL_STORE, results_dir)
    done = [(label, c) for label, c in runs if store.is_complete(run_id(c)) and store.artifacts_path(run_id(c)).exists()]
    return done, [r for r in runs if r not in done]


def load_molecules(runs: list[tuple[str, Any]], results_dir) -> pd.DataFrame:
    """The stored tables of ``runs`` (all must be complete) with ``method`` and ``seed`` columns."""
    from gafn_lib.runner import load_results, run_id

    if not runs:
        return pd.DataFrame(columns=["method", "seed", "run", "step", "molecules_generated"])
    table = load_results(MOL_STORE, results_dir, configs=[c for _, c in runs])
    frames = []
    for label, config in runs:
        part = table[table["run"] == run_id(config)].copy()
        part["method"], part["seed"] = label, config.seed
        frames.append(part)
    return pd.concat(frames, ignore_index=True)


def progress_of(runs: list[tuple[str, Any]], results_dir) -> pd.DataFrame:
    """Per run: method, seed, steps planned, the step of its last checkpoint and its status: ``done``,
    ``checkpointed`` or ``not started``, followed by ``· in a live sweep (pid … on … since …)`` when
    a running sweep holds the run's lock (:mod:`gafn_lib.runner.locks`: a sweep locks the runs it is
    about to train, so such a run is training or queued there; do not start it elsewhere)."""
    from gafn_lib.runner import ExperimentStore, run_id
    from gafn_lib.runner.locks import RunLocks

    store = ExperimentStore.open(MOL_STORE, results_dir)
    locks = RunLocks(store.root)
    rows = []
    for label, config in runs:
        rid = run_id(config)
        if store.is_complete(rid):
            status, step = "done", config.n_steps
        elif store.checkpoint_path(rid).exists():
            step = store.checkpoint_step(rid)
            status, step = "checkpointed", -1 if step is None else step
        else:
            status, step = "not started", 0
        owner = None if status == "done" else locks.live_owner(rid)
        if owner is not None:
            status += f" · {owner.status()}"
        rows.append({"method": label, "seed": config.seed, "run": rid, "steps_planned": config.n_steps, "steps_done": step, "status": status})
    return pd.DataFrame(rows)


def best_molecules(runs: list[tuple[str, Any]], results_dir, k: int = 8) -> tuple[pd.DataFrame, list[str]]:
    """The ``k`` best unique molecules of each method over its seeds, from the runs' stored arrays.

    Returns the table (``method``, ``rank``, ``smiles``, ``score``, ``reward``, ``seed``) and the
    methods whose runs stored no molecules (a trainer without ``artifacts()``).
    """
    from gafn_lib.runner import load_artifacts

    rows, missing = [], []
    for label, config in runs:
        try:
            arrays = load_artifacts(MOL_STORE, config, results_dir)
        except FileNotFoundError:
            if label not in missing:
                missing.append(label)
            continue
        for smi, score, reward in zip(arrays["top_smiles"], arrays["top_scores"], arrays["top_rewards"]):
            rows.append({"method": label, "smiles": str(smi), "score": float(score), "reward": float(reward), "seed": config.seed})
    columns = ["method", "rank", "smiles", "score", "reward", "seed"]
    if not rows:
        return pd.DataFrame(columns=columns), missing
    table = pd.DataFrame(rows).sort_values(["method", "reward", "score", "smiles"], ascending=[True, False, False, True])
    table = table.drop_duplicates(["method", "smiles"]).groupby("method", sort=False).head(k)
    table["rank"] = table.groupby("method").cumcount() + 1
    return table[columns].reset_index(drop=True), [m for m in missing if m not in set(table["method"])]
