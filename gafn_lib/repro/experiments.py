"""The paper's GridWorld experiments as lists of labelled run configs (used by notebooks 01–05).

A notebook builds its runs here from plain parameter values, runs them through
:func:`gafn_lib.runner.run_sweep` (cached: a run already in the store is not recomputed; all grid
notebooks share the store ``data/results/gridworld/`` so a run used by two notebooks is trained
once) and gets back one tidy table with a ``method`` column.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from gafn_lib.grid.config import GridTrainConfig
from gafn_lib.registry import method_by_label, method_spec
from gafn_lib.registry import method_config as registry_method_config
from gafn_lib.repro import claims

#: Result store shared by the GridWorld notebooks.
GRID_STORE = "gridworld"

#: The methods' labels in tables and figures (from :data:`gafn_lib.registry.METHODS`):
#: "GAFlowNet", "GFlowNet (TB)", "MCMC", "PPO", "PPO + RND".
GAFN, TB, MCMC, PPO, PPO_RND = (method_spec(name, "grid").label for name in ("gaflownet", "gflownet", "mcmc", "ppo", "ppo-rnd"))
COMPARISON_METHODS = (GAFN, TB, MCMC, PPO)

# ------------------------------------------------------- profile values the grid notebooks share
# The notebooks read these with ``profile_value(profile, **ex.SEEDS)`` so that runs meant to be
# the same (01's H=16 GAFlowNet/TB are 03's joint/none runs; 02 draws 01's runs) stay identical
# configs, trained once and marked as shared in the claims tables (:func:`shared_with`).
# Paper profile: the paper's sizes, steps and >= 3 seeds; the cost is in docs/paper_profile.md.

#: Seeds per profile: 5 in quick (cheap with ensemble training), the paper's 3 in paper; 2 in
#: smoke so that the claims' statistics run (n=1 would only say "inconclusive (n=1)").
SEEDS = dict(quick=[0, 1, 2, 3, 4], paper=[0, 1, 2], smoke=[0, 1])
#: Training steps (16 trajectories each).
N_STEPS = dict(quick=2_000, paper=20_000, smoke=20)
#: Grid sizes of notebook 01 (the paper's H in {8, ..., 128}).
COMPARISON_HEIGHTS = dict(quick=[8, 16, 32], paper=[8, 16, 32, 64, 128], smoke=[6])
#: Grid sizes of notebook 02's heat maps (a subset of 01's, so its runs are 01's).
SAMPLING_HEIGHTS = dict(quick=[16, 32], paper=[32, 64, 128], smoke=[6])
#: Grid size of notebooks 03-05 (paper: H=32, the largest that keeps the paper profile within
#: about 8 hours of this 2-core machine: re-measured costs in docs/paper_profile.md; H=64 would
#: need about 19 core-hours for 03-05 alone).
ABLATION_HEIGHT = dict(quick=16, paper=32, smoke=6)
#: The eta sweep of notebook 03 (the paper's eta for the height is always added: :func:`eta_sweep`).
ETAS = dict(quick=[1e-4, 1e-3, 1e-2, 1e-1], paper=[1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 1e-1], smoke=[1e-2])
#: Notebook 03, where the intrinsic reward enters (docs/method.md, "One mechanism").
PLACEMENTS = {
    "joint (GAFlowNet)": dict(augment="joint"),
    "edge": dict(augment="edge"),
    "node": dict(augment="node"),
    "none (TB)": dict(augment="none", intrinsic="none", eta=None),
}
#: Notebook 03, the form of the intrinsic reward (joint augmentation).
FORMS = {
    "RND (paper)": dict(intrinsic="rnd"),
    "count η/√N": dict(intrinsic="count", eta=None),
    "none (TB)": dict(augment="none", intrinsic="none", eta=None),
}


def log_every_for(n_steps: int) -> int:
    """Logging interval of the grid notebooks: 20 logged rows per run."""
    return max(1, n_steps // 20)


def paper_eta(height: int) -> float:
    """The paper's RND coefficient for grid size ``height`` (8: 0.005, 16: 0.005, 32: 0.001,
    64: 0.005, 128: 0.001), as :class:`GridTrainConfig` resolves ``eta=None``."""
    return float(registry_method_config("gaflownet", "grid", height=height).eta)


def eta_sweep(etas: Iterable[float], height: int) -> list[float]:
    """``etas`` with the paper's value for ``height`` added (sorted, no duplicates)."""
    return sorted(set(float(e) for e in etas) | {paper_eta(height)})


def ablation_base(height: int, n_steps: int, log_every: int, **fields: Any) -> GridTrainConfig:
    """The GAFlowNet config that notebook 03's variants change (TB, joint, RND, paper eta)."""
    return registry_method_config("gaflownet", "grid", height=height, n_steps=n_steps, log_every=log_every, **fields)


def notebook_runs(profile: str) -> dict[str, list[Any]]:
    """The configs each grid notebook runs with its default parameters for ``profile`` (keys
    ``"01"`` ... ``"05"``), to find runs that several notebooks count (:func:`shared_with`)."""
    from gafn_lib.repro.profiles import profile_value

    seeds, n_steps = profile_value(profile, **SEEDS), profile_value(profile, **N_STEPS)
    log_every, height = log_every_for(n_steps), profile_value(profile, **ABLATION_HEIGHT)
    base = ablation_base(height, n_steps, log_every)
    etas = {f"η={eta:g}": dict(eta=eta) for eta in eta_sweep(profile_value(profile, **ETAS), height)}
    runs = {
        "01": comparison_runs(profile_value(profile, **COMPARISON_HEIGHTS), seeds, n_steps, log_every),
        "02": comparison_runs(profile_value(profile, **SAMPLING_HEIGHTS), seeds, n_steps, log_every, methods=(GAFN, TB)),
        "03": gfn_variants(base, {**PLACEMENTS, **FORMS, **etas}, seeds),
        "04": objective_runs(["fm", "db", "subtb"], height, seeds, n_steps, log_every),
        "05": [r for r0 in (0.1, 0.001) for r in comparison_runs([height], seeds, n_steps, log_every, methods=(GAFN, TB), reward="dense", r0=r0)],
    }
    return {nb: [config for _, config in pairs] for nb, pairs in runs.items()}


def shared_with(run_ids: Iterable[str], notebook: str, profile: str) -> str:
    """The other notebooks (e.g. ``"notebook 03"``) whose default runs for ``profile`` include any
    of ``run_ids``: a claim on those runs is not independent evidence from theirs. Empty if none."""
    from gafn_lib.runner import run_id

    ids = set(run_ids)
    others = [nb for nb, configs in notebook_runs(profile).items() if nb != notebook and ids & {run_id(c) for c in configs}]
    return ", ".join(f"notebook {nb}" for nb in others)


def method_config(method: str, *, height: int, seed: int, n_steps: int, log_every: int, **grid: Any):
    """The config of one of the paper's methods, by its label (:data:`GAFN`, :data:`TB`,
    :data:`MCMC`, :data:`PPO`, :data:`PPO_RND`), on a hypergrid (paper defaults otherwise): the
    method's fields from :data:`gafn_lib.registry.METHODS`, then these.

    ``grid`` may set ``ndim``, ``reward``, ``termination``, ``r0/r1/r2`` and any other field of
    the method's config class (e.g. ``objective``, ``eta`` for the GFlowNet methods).
    """
    spec = method_by_label(method, "grid")
    return registry_method_config(spec.name, "grid", height=height, seed=seed, n_steps=n_steps, log_every=log_every, **grid)


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


NAMES = {"fm": "FM", "db": "DB", "subtb": "SubTB", "tb": "TB"}


def objective_runs(objectives: Sequence[str], height: int, seeds: Sequence[int], n_steps: int, log_every: int) -> list[tuple[str, Any]]:
    """Notebook 04: each objective plain (``"FM"``) and with joint RND (``"FM + joint RND"``)."""
    return [
        (label, registry_method_config(method, "grid", objective=obj, height=height, seed=s, n_steps=n_steps, log_every=log_every))
        for obj in objectives
        for label, method in ((NAMES[obj], "gflownet"), (f"{NAMES[obj]} + joint RND", "gaflownet"))
        for s in seeds
    ]


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
    """Final values of ``metric`` for ``method``, one per run in seed order (optionally filtered,
    e.g. ``height=16``)."""
    final = _select(final_rows(table), method, where)
    return final.sort_values("seed")[metric].to_numpy(dtype=float)


def never_found_a_goal(table: pd.DataFrame, method: str, **where: Any) -> np.ndarray:
    """One bool per run (seed order): the run never visited a goal/mode (``modes_found`` = 0 at
    every logged step) — its L1 and mode counts never left their initial, worst values."""
    part = _select(table, method, where)
    if "modes_found" not in part:
        return np.zeros(part["run"].nunique(), dtype=bool)
    best = part.groupby("run").agg(seed=("seed", "first"), most=("modes_found", "max")).sort_values("seed")
    return (best["most"].fillna(0) == 0).to_numpy()


#: The first-visit columns of a grid run (:class:`gafn_lib.core.tracking.MetricsTracker`): when
#: every goal had been visited, in terminal states visited (the paper's x-axis) and in training steps.
FIRST_VISIT_ALL, FIRST_VISIT_ALL_STEP = "first_visit_all_modes", "first_visit_all_modes_step"


def first_visit_times(table: pd.DataFrame, method: str, column: str = FIRST_VISIT_ALL, **where: Any) -> tuple[np.ndarray, np.ndarray]:
    """When each run of ``method`` first visited its goals, as data for a censoring-aware test.

    ``column`` is a first-visit column: ``first_visit_all_modes`` (default; terminal states
    visited until every mode had been visited), ``first_visit_all_modes_step`` (the same event in
    training steps) or ``first_visit_mode_<j>`` (mode ``j``, in terminal states). Returns two arrays,
    one value per run in seed order (optionally filtered by ``where``, e.g. ``height=16``):

    - ``times``: the column's value in the run's final row; NaN if the event had not happened by
      the end of the run (right-censored);
    - ``budgets``: what the run had spent by its end, in the column's unit (its final
      ``trajectories``, or ``step`` for a ``_step`` column): the censoring time of a NaN.

    Raises:
        ValueError: if a selected run was stored before first visits were recorded (its NaN would
            mean *unknown*, not *censored*; :mod:`gafn_lib.runner.sweep` says how to retrain it),
            or if no run has the column.
    """
    final = _select(final_rows(table), method, where).sort_values("seed")
    if final.empty:
        raise ValueError(f"no runs for {method!r} with {where or 'no filter'}")
    old = final["run"][~final["first_visit_recorded"].astype(bool)].tolist() if "first_visit_recorded" in final else []
    if old or FIRST_VISIT_ALL not in final:
        which = f"run(s) {', '.join(map(str, old))}" if old else "its runs"
        raise ValueError(
            f"{method!r}: {which} were stored before the first visit of each mode was recorded; delete their files "
            "(runs/<run id>.*) from the run store and run the sweep again to record them"
        )
    if column not in final:
        available = [c for c in final.columns if c.startswith("first_visit_") and c != "first_visit_recorded"]
        raise ValueError(f"no column {column!r} (per-mode columns exist for at most "
                         f"gafn_lib.core.tracking.MAX_MODE_COLUMNS modes); first-visit columns: {available}")
    budget = "step" if column.endswith("_step") else "trajectories"
    return final[column].to_numpy(dtype=float), final[budget].to_numpy(dtype=float)


def _select(frame: pd.DataFrame, method: str, where: dict[str, Any]) -> pd.DataFrame:
    mask = frame["method"] == method
    for key, value in where.items():
        mask &= frame[key] == value
    return frame[mask]


#: Metrics that count goals/modes: bounded by 0 and the number of modes (``n_modes``).
MODE_METRICS = ("modes_found", "modes_covered")
#: The two L1 errors every L1 claim reports: the paper's (cumulative visits) and the exact policy's.
L1_METRICS = ("l1_mean_visited", "l1_mean_exact")


def claim(
    table: pd.DataFrame,
    text: str,
    method_a: str,
    method_b: str,
    metric: str,
    *,
    better: str | None = None,
    notebook: str | None = None,
    profile: str | None = None,
    **where: Any,
) -> list[claims.ClaimResult]:
    """Test "``method_a`` beats ``method_b`` on the final ``metric``" over seeds through
    :func:`gafn_lib.repro.claims.compare` (exact Mann–Whitney at 0.025 per side, Hodges–Lehmann
    95 % interval, three-way verdict; at least 4 seeds per group to decide).

    - ``metric="l1"`` tests both L1 errors (:data:`L1_METRICS`; lower is better): one result
      each, noting where they disagree. A method without a policy (MCMC) has no exact L1: only the
      visited L1 is tested and the note says so.
    - A mode metric (:data:`MODE_METRICS`; higher is better) is bounded by ``[0, n_modes]``: all
      runs of both methods at one bound → *inconclusive (saturated)*.
    - A run that never found a goal (:func:`never_found_a_goal`) is labelled "stuck at initial
      value" in the notes.
    - ``where`` selects runs (e.g. ``height=16``) and becomes the scope. With ``notebook`` (e.g.
      ``"03"``) and ``profile``, the ``shared_with`` column names the other notebooks whose
      default runs include these runs (:func:`shared_with`).
    """
    metrics = list(L1_METRICS) if metric == "l1" else [metric]
    better = better or ("higher" if metric in MODE_METRICS else "lower")
    scope = ", ".join(f"{'H' if k == 'height' else k}={v}" for k, v in where.items())
    ids = set(_select(table, method_a, where)["run"]) | set(_select(table, method_b, where)["run"])
    shared = shared_with(ids, notebook, profile) if notebook and profile else ""
    common = dict(
        label_a=method_a, label_b=method_b, scope=scope, shared_with=shared,
        stuck_a=never_found_a_goal(table, method_a, **where), stuck_b=never_found_a_goal(table, method_b, **where),
    )
    values = {}
    notes = []
    for m in metrics:
        a, b = final_values(table, method_a, m, **where), final_values(table, method_b, m, **where)
        if a.size == 0 or b.size == 0:
            raise ValueError(f"no runs for {method_a!r} or {method_b!r} with {where or 'no filter'}")
        if np.isnan(a).all() or np.isnan(b).all():
            missing = method_a if np.isnan(a).all() else method_b
            notes.append(f"{m} not available for {missing} (no policy to evaluate exactly)")
            continue
        values[m] = (a, b)
    results = []
    for m, (a, b) in values.items():
        bounds = None
        if m in MODE_METRICS and "n_modes" in table:
            n_modes = float(final_rows(_select(table, method_a, where))["n_modes"].max())
            bounds = (0.0, n_modes)
        results.append(claims.compare(text, a, b, metric=m, better=better, bounds=bounds, notes=notes, **common))
    return claims.with_agreement(results)


def save_claims(results: Sequence[claims.ClaimResult], out_dir: str | Path) -> pd.DataFrame:
    """Write ``claims.csv`` (the display table) and ``claims_full.csv`` (every number, per-seed
    values included) to ``out_dir``; return the display table."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = claims.claims_table(results)
    table.to_csv(out / "claims.csv", index=False)
    claims.claims_table(results, full=True).to_csv(out / "claims_full.csv", index=False)
    return table


def show_claims(table: pd.DataFrame):
    """The claims table styled for a notebook (left-aligned, wrapped text)."""
    return table.style.hide(axis="index").set_properties(**{"text-align": "left", "white-space": "pre-wrap"})
