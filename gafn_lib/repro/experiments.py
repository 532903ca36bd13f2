"""The paper's GridWorld experiments as lists of labelled run configs (used by notebooks 01–05).

A notebook builds its runs here from plain parameter values, runs them through
:func:`gafn_lib.runner.run_sweep` (cached: a run already in the store is not recomputed; all grid
notebooks share the store ``data/results/gridworld/`` so a run used by two notebooks is trained
once) and gets back one tidy table with a ``method`` column.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from gafn_lib.grid.config import GridTrainConfig

#: Result store shared by the GridWorld notebooks.
GRID_STORE = "gridworld"

GAFN = "GAFlowNet"
TB = "GFlowNet (TB)"
MCMC = "MCMC"
PPO = "PPO"
PPO_RND = "PPO + RND"
COMPARISON_METHODS = (GAFN, TB, MCMC, PPO)


def method_config(method: str, *, height: int, seed: int, n_steps: int, log_every: int, **grid: Any):
    """The config of one of the paper's methods on a hypergrid (paper defaults otherwise).

    ``grid`` may set ``ndim``, ``reward``, ``termination``, ``r0/r1/r2`` and, for the GFlowNet
    methods, any :class:`GridTrainConfig` field (e.g. ``objective``, ``eta``).
    """
    common = dict(height=height, seed=seed, n_steps=n_steps, log_every=log_every)
    if method == GAFN:
        return GridTrainConfig(objective="tb", augment="joint", intrinsic="rnd", **common, **grid)
    if method == TB:
        return GridTrainConfig(objective="tb", augment="none", intrinsic="none", **common, **grid)
    from gafn_lib.baselines.mcmc import MCMCConfig
    from gafn_lib.baselines.ppo import PPOConfig

    if method == MCMC:
        return MCMCConfig(**common, **grid)
    if method == PPO:
        return PPOConfig(**common, **grid)
    if method == PPO_RND:
        return PPOConfig(intrinsic="rnd", **common, **grid)
    raise ValueError(f"unknown method {method!r}; known: {(GAFN, TB, MCMC, PPO, PPO_RND)}")


def comparison_runs(
    heights: Sequence[int], seeds: Sequence[int], n_steps: int, log_every: int, methods: Iterable[str] = COMPARISON_METHODS, **grid: Any
) -> list[tuple[str, Any]]:
    """Notebook 01: every method × grid height × seed, as ``(label, config)`` pairs."""
    return [
        (m, method_config(m, height=h, seed=s, n_steps=n_steps, log_every=log_every, **grid))
        for h in heights
        for m in methods
        for s in seeds
    ]


def gfn_variants(base: GridTrainConfig, variants: dict[str, dict[str, Any]], seeds: Sequence[int]) -> list[tuple[str, Any]]:
    """Label → field overrides of ``base``, for each seed (ablations, objectives)."""
    return [(label, replace(base, seed=s, **changes)) for label, changes in variants.items() for s in seeds]


def run_labelled(
    runs: list[tuple[str, Any]],
    experiment: str = GRID_STORE,
    results_dir: str = "data/results",
    workers: int | None = None,
    backend: str = "process",
    progress: bool = True,
) -> pd.DataFrame:
    """Run ``(label, config)`` pairs through the runner (cached) and return the tidy table with a
    ``method`` column (the label) and the run's ``seed`` and ``height``."""
    from gafn_lib.runner import load_results, run_id, run_sweep

    configs = [c for _, c in runs]
    run_sweep(experiment, configs, results_dir=results_dir, workers=workers, backend=backend, progress=progress)
    table = load_results(experiment, results_dir, configs=configs)
    frames = []
    for label, config in runs:
        part = table[table["run"] == run_id(config)].copy()
        part["method"] = label
        part["seed"] = config.seed
        part["height"] = getattr(config, "height", None)
        frames.append(part)
    return pd.concat(frames, ignore_index=True)


def final_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The last logged row of every (method, run)."""
    return table.sort_values("step").groupby(["method", "run"], as_index=False).tail(1)


def summarise(table: pd.DataFrame, metrics: Sequence[str], by: Sequence[str] = ("method",)) -> pd.DataFrame:
    """Mean ± std over seeds of the final value of each metric, one row per ``by`` group."""
    final = final_rows(table)
    out = final.groupby(list(by))[list(metrics)].agg(["mean", "std"])
    out.columns = [f"{m}_{stat}" for m, stat in out.columns]
    return out.reset_index()


def final_values(table: pd.DataFrame, method: str, metric: str, **where: Any) -> np.ndarray:
    """Final values of ``metric`` for ``method`` over its seeds (optionally filtered, e.g. height=16)."""
    final = final_rows(table)
    mask = final["method"] == method
    for key, value in where.items():
        mask &= final[key] == value
    return final.loc[mask, metric].to_numpy(dtype=float)


def comparison_claim(
    table: pd.DataFrame,
    claim: str,
    method_a: str,
    method_b: str,
    metric: str,
    lower_is_better: bool = True,
    strict: bool = True,
    **where: Any,
) -> dict:
    """A claims-table row: does ``method_a`` beat ``method_b`` on the final ``metric`` (mean over seeds)?

    ``strict=False`` accepts ties ("at least as good"). ``where`` filters runs (e.g. ``height=16``).
    """
    from gafn_lib.repro.plotting import fmt_mean_std

    a = final_values(table, method_a, metric, **where)
    b = final_values(table, method_b, metric, **where)
    if a.size == 0 or b.size == 0:
        raise ValueError(f"no runs for {method_a!r} or {method_b!r} with {where}")
    ma, mb = a.mean(), b.mean()
    if lower_is_better:
        supported = ma < mb if strict else ma <= mb
    else:
        supported = ma > mb if strict else ma >= mb
    scope = ", ".join(f"{k}={v}" for k, v in where.items())
    measured = f"{metric}{' (' + scope + ')' if scope else ''}: {method_a} {fmt_mean_std(a)} vs {method_b} {fmt_mean_std(b)}"
    return {"claim": claim, "measured": measured, "supported": bool(supported)}


def all_of(claim: str, rows: list[dict]) -> dict:
    """Combine several claim rows (e.g. one per grid size) into one that holds if all of them do."""
    return {"claim": claim, "measured": "; ".join(r["measured"] for r in rows), "supported": all(r["supported"] for r in rows)}
