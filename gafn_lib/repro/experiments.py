"""The paper's GridWorld experiments as lists of labelled run configs, and their claims (notebooks 01–05).

A notebook builds its runs here from plain parameter values, runs them through
:func:`gafn_lib.runner.run_sweep` (cached: a run already in the store is not recomputed; all grid
notebooks share the store ``data/results/gridworld/`` so a run used by two notebooks is trained
once) and gets back one tidy table with a ``method`` column. It then builds its claims table with
one function (:func:`comparison_claims` for 01, :func:`sampling_claims` 02, :func:`ablation_claims`
03, :func:`objective_claims` 04, :func:`dense_reward_claims` 05), each row through
:mod:`gafn_lib.repro.claims`:

- the paper's "lower L1" and "more modes" claims by the exact rank test (:func:`claim`);
- "finds the modes faster" as time to event on ``first_visit_all_modes``, runs that never found
  every goal censored at their budget (:func:`time_to_event_claim`);
- "still as good" (dense reward) as non-inferiority with a margin fixed here before the data
  (:data:`DENSE_MARGIN`, :func:`noninferiority_claim`);
- a baseline that barely left its initial value is flagged (:func:`near_stuck_runs`);
- a row that compares the same runs on the same metric as an earlier row, of this notebook or of
  notebook 01, is marked ``duplicate_of`` it, so that ``claims.verdict_counts(results,
  distinct=True)`` counts each distinct comparison once.

``python -m gafn_lib.repro.experiments ppo-tuning`` trains notebook 01's PPO tuning sweep
(:func:`ppo_tuning_runs`) alone.
"""

from __future__ import annotations

import argparse
import math
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from gafn_lib.core.config import TrainConfig
from gafn_lib.grid.config import GridTrainConfig
from gafn_lib.registry import method_by_label, method_spec
from gafn_lib.registry import method_config as registry_method_config
from gafn_lib.repro import claims, stats

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
# Paper profile: the paper's sizes and steps, 10 seeds; the cost is in docs/paper_profile.md.

#: Seeds per profile: 5 in quick (cheap with ensemble training), 10 in paper (the claims' exact
#: rank test needs at least 4 vs 4 seeds to decide anything, and 3 vs 3 never can; 10 gives it
#: power on the spread between seeds seen at 3); 2 in smoke so that the claims' code runs (it can
#: only say "cannot decide at n=2/2").
SEEDS = dict(quick=[0, 1, 2, 3, 4], paper=list(range(10)), smoke=[0, 1])
#: Training steps (16 trajectories each).
N_STEPS = dict(quick=2_000, paper=20_000, smoke=20)
#: Reward floors R0 of notebook 05's dense reward: the standard 0.1 and a harsher 1e-3.
DENSE_R0S = (0.1, 0.001)
#: Grid sizes of notebook 01 (the paper's H in {8, ..., 128}).
COMPARISON_HEIGHTS = dict(quick=[8, 16, 32], paper=[8, 16, 32, 64, 128], smoke=[6])
#: Grid sizes of notebook 02's heat maps (a subset of 01's, so its runs are 01's).
SAMPLING_HEIGHTS = dict(quick=[16, 32], paper=[32, 64, 128], smoke=[6])
#: From this grid height on, the notebooks' GFlowNet runs sample with one network call per move
#: (``sampling="per_move"``, :attr:`gafn_lib.core.config.TrainConfig.sampling`) instead of from tables
#: of every state: they train in ensembles of about 10 (the runner), which share each per-move call
#: but not the tables. ``python -m gafn_lib.bench --ensemble 10 --heights 128,64 --compare-sampling``
#: (2026-12-07, one thread): 1.54× a step at H = 128, 0.91× at H = 64; the draws, losses and
#: parameters were equal bit for bit between the two on this CPU.
PER_MOVE_FROM_HEIGHT = 128
#: Grid size of notebooks 03-05. Paper: H=32. The paper's ablation figures do not say which grid
#: size they use, and the sources available here (the paper's text and the public release) could
#: not confirm it; H=32 is the largest that keeps 03-05 at 10 seeds within a few core-hours
#: (docs/paper_profile.md). Set it to 64 on a bigger machine.
ABLATION_HEIGHT = dict(quick=16, paper=32, smoke=6)
#: The eta sweep of notebook 03 (the paper's eta for the height is always added: :func:`eta_sweep`).
#: Both intrinsic rewards run it: RND (the paper's) and the count bonus (tuned by the same sweep so
#: that "RND vs count" compares RND with count at its best eta, :func:`best_eta`).
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


def rnd_eta_variants(etas: Iterable[float]) -> dict[str, dict[str, Any]]:
    """Notebook 03's RND η sweep as variants of :func:`ablation_base`: ``"η=<eta>"`` → ``eta``."""
    return {rnd_eta_label(eta): dict(eta=float(eta)) for eta in etas}


def count_eta_variants(etas: Iterable[float]) -> dict[str, dict[str, Any]]:
    """Notebook 03's count-bonus η sweep (joint augmentation, ``η/√N``), the same η as RND's:
    ``"count η=<eta>"`` → ``intrinsic="count", eta``. Its η = 0.01 runs are the ``"count η/√N"``
    runs of :data:`FORMS` (the count bonus's default η), trained once."""
    return {count_eta_label(eta): dict(intrinsic="count", eta=float(eta)) for eta in etas}


def rnd_eta_label(eta: float) -> str:
    """``"η=0.001"``: the label of an RND run of the η sweep."""
    return f"η={float(eta):g}"


def count_eta_label(eta: float) -> str:
    """``"count η=0.001"``: the label of a count-bonus run of the η sweep."""
    return f"count η={float(eta):g}"


def eta_of_label(label: str) -> float:
    """The η of a sweep label (:func:`rnd_eta_label`, :func:`count_eta_label`).

    Raises:
        ValueError: naming ``label`` if it holds no ``η=``.
    """
    if "η=" not in label:
        raise ValueError(f"label {label!r} is not an η sweep label (expected 'η=<value>' or 'count η=<value>')")
    return float(label.split("η=", 1)[1])


def notebook_labelled_runs(profile: str) -> dict[str, list[tuple[str, Any]]]:
    """The ``(label, config)`` pairs each grid notebook runs with its default parameters for
    ``profile`` (keys ``"01"`` ... ``"05"``). The paper profile's 01 also holds the PPO tuning sweep
    (:func:`ppo_tuning_runs`), which the notebook reads when it has been trained."""
    from gafn_lib.repro.profiles import profile_value

    seeds, n_steps = profile_value(profile, **SEEDS), profile_value(profile, **N_STEPS)
    log_every, height = log_every_for(n_steps), profile_value(profile, **ABLATION_HEIGHT)
    base = ablation_base(height, n_steps, log_every)
    etas = eta_sweep(profile_value(profile, **ETAS), height)
    runs = {
        "01": comparison_runs(profile_value(profile, **COMPARISON_HEIGHTS), seeds, n_steps, log_every)
        + (ppo_tuning_runs() if profile == "paper" else []),
        "02": comparison_runs(profile_value(profile, **SAMPLING_HEIGHTS), seeds, n_steps, log_every, methods=(GAFN, TB)),
        "03": gfn_variants(base, {**PLACEMENTS, **FORMS, **rnd_eta_variants(etas), **count_eta_variants(etas)}, seeds),
        "04": objective_runs(["fm", "db", "subtb"], height, seeds, n_steps, log_every),
        "05": [r for r0 in DENSE_R0S for r in comparison_runs([height], seeds, n_steps, log_every, methods=(GAFN, TB), reward="dense", r0=r0)],
    }
    return runs


def notebook_runs(profile: str) -> dict[str, list[Any]]:
    """The configs each grid notebook runs with its default parameters for ``profile`` (keys
    ``"01"`` ... ``"05"``; :func:`notebook_labelled_runs` without the labels), to find runs that
    several notebooks count (:func:`shared_with`) and to prefetch them."""
    return {nb: [config for _, config in pairs] for nb, pairs in notebook_labelled_runs(profile).items()}


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
    the method's config class (e.g. ``objective``, ``eta`` for the GFlowNet methods). A GFlowNet
    run from H = :data:`PER_MOVE_FROM_HEIGHT` samples per move unless ``grid`` sets ``sampling``.
    """
    spec = method_by_label(method, "grid")
    config = registry_method_config(spec.name, "grid", height=height, seed=seed, n_steps=n_steps, log_every=log_every, **grid)
    if isinstance(config, TrainConfig) and height >= PER_MOVE_FROM_HEIGHT and "sampling" not in grid:
        config = replace(config, sampling="per_move")
    return config


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


def first_visit_table(table: pd.DataFrame, methods: Sequence[str], by: Sequence[str] = ("height",),
                      column: str = FIRST_VISIT_ALL) -> pd.DataFrame:
    """Per method (and ``by`` group), when the runs had visited every goal (``column``): how many
    runs did within their budget, the Kaplan–Meier median time (NaN: not reached, more than half
    the runs never found them all), the fastest and slowest run that did, and the budget. Runs
    stored before first visits were recorded are refused (:func:`first_visit_times`)."""
    rows = []
    for where, method in _groups(table, methods, by):
        times, budgets = first_visit_times(table, method, column, **where)
        values, found = stats.censored_times(times, budgets)
        rows.append({**where, "method": method, "runs": len(values), "found every goal": int(found.sum()),
                     "KM median": stats.km_median(values, found),
                     "fastest": float(values[found].min()) if found.any() else math.nan,
                     "slowest (of those that did)": float(values[found].max()) if found.any() else math.nan,
                     "budget": float(budgets.max())})
    return pd.DataFrame(rows)


def _groups(table: pd.DataFrame, methods: Sequence[str], by: Sequence[str]):
    """``(where, method)`` for every value of the ``by`` columns (sorted; one empty ``where`` without
    ``by``) and every method of ``methods`` that has rows there."""
    keys = [tuple()] if not by else sorted(table[list(by)].drop_duplicates().itertuples(index=False, name=None))
    for key in keys:
        where = dict(zip(by, key))
        for method in methods:
            if not _select(table, method, where).empty:
                yield where, method


def _select(frame: pd.DataFrame, method: str, where: dict[str, Any]) -> pd.DataFrame:
    mask = frame["method"] == method
    for key, value in where.items():
        mask &= frame[key] == value
    return frame[mask]


#: Metrics that count goals/modes: bounded by 0 and the number of modes (``n_modes``).
MODE_METRICS = ("modes_found", "modes_covered")
#: The two L1 errors every L1 claim reports: the paper's (cumulative visits) and the exact policy's.
L1_METRICS = ("l1_mean_visited", "l1_mean_exact")


def initial_values(table: pd.DataFrame, method: str, metric: str, **where: Any) -> np.ndarray:
    """The value of ``metric`` in each run's *first logged row* (seed order): the runs' initial
    value as logged (the first row is at step ``log_every``; no row is logged at step 0)."""
    first = _select(table, method, where).sort_values("step").groupby("run", as_index=False).head(1)
    return first.sort_values("seed")[metric].to_numpy(dtype=float)


def _found_all_at_first_row(table: pd.DataFrame, method: str, **where: Any) -> np.ndarray:
    """One bool per run (seed order): every goal had been found by the first logged row."""
    part = _select(table, method, where)
    if "modes_found" not in part or "n_modes" not in part:
        return np.zeros(part["run"].nunique(), dtype=bool)
    first = part.sort_values("step").groupby("run", as_index=False).head(1).sort_values("seed")
    return (first["modes_found"].fillna(0) >= first["n_modes"].fillna(np.inf)).to_numpy()


def near_stuck_runs(table: pd.DataFrame, method: str, metric: str, tolerance: float = stats.STUCK_TOLERANCE, **where: Any) -> np.ndarray:
    """One bool per run of ``method`` (seed order): the run barely left its initial value on ``metric``.

    - Every metric: the run never found a goal (:func:`never_found_a_goal`).
    - A metric that is not a mode count (the L1 errors): also when its final value is within
      ``tolerance`` (relative, default 5 %) of its first logged value (:func:`initial_values`,
      :func:`gafn_lib.repro.claims.near_stuck`) while the run had *not* found every goal by that
      row. A run that had found every goal by its first row and then stayed there has converged
      (or collapsed, which the ``modes_covered`` rows show), not stayed at its initial value.

    So PPO at its initial ``2/H²`` L1, MCMC 3 % below its first logged L1 with a goal or two found
    later, and a DB run whose L1 never moved although it touched a goal are all flagged.
    """
    flags = never_found_a_goal(table, method, **where)
    if metric in MODE_METRICS:
        return flags
    final, initial = final_values(table, method, metric, **where), initial_values(table, method, metric, **where)
    near = claims.near_stuck(np.nan_to_num(final, nan=np.inf), np.nan_to_num(initial, nan=0.0), tolerance)
    return flags | (near & ~_found_all_at_first_row(table, method, **where))


def stuck_summary(table: pd.DataFrame, methods: Sequence[str], metrics: Sequence[str] = L1_METRICS, by: Sequence[str] = (),
                  tolerance: float = stats.STUCK_TOLERANCE) -> pd.DataFrame:
    """For each method (and each value of the ``by`` columns, e.g. ``height``), how many runs
    :func:`near_stuck_runs` flags per metric, with their first logged and final values (means):
    the data behind every "stuck at initial value" note, for the notebook's text."""
    rows = []
    for where, method in _groups(table, methods, by):
        row = {**where, "method": method, "runs": int(_select(table, method, where)["run"].nunique()),
               "never found a goal": int(never_found_a_goal(table, method, **where).sum())}
        for metric in metrics:
            final = final_values(table, method, metric, **where)
            if np.isnan(final).all():
                continue
            row[f"{metric}: stuck"] = int(near_stuck_runs(table, method, metric, tolerance, **where).sum())
            row[f"{metric}: first logged"] = float(np.nanmean(initial_values(table, method, metric, **where)))
            row[f"{metric}: final"] = float(np.nanmean(final))
        rows.append(row)
    return pd.DataFrame(rows)


def stuck_note(table: pd.DataFrame, method_a: str, method_b: str, metric: str, **where: Any) -> str:
    """The criterion behind the "stuck at initial value" labels of a row, from the data: ``"stuck =
    never found a goal, or final within 5 % of the first logged value (step 1000) while goals were
    still unfound there"``; ``""`` when neither group has a flagged run."""
    if not (near_stuck_runs(table, method_a, metric, **where).any() or near_stuck_runs(table, method_b, metric, **where).any()):
        return ""
    if metric in MODE_METRICS:
        return "stuck = never found a goal"
    steps = sorted({int(s) for m in (method_a, method_b) for s in
                    _select(table, m, dict(where)).groupby("run")["step"].min()})
    return (f"stuck = never found a goal, or final within {stats.STUCK_TOLERANCE:.0%} of the first logged value "
            f"(step {', '.join(map(str, steps))}) while goals were still unfound there")


def _scope(where: Mapping[str, Any]) -> str:
    names = {"height": "H", "r0": "R0"}
    return ", ".join(f"{names.get(k, k)}={v:g}" if isinstance(v, float) else f"{names.get(k, k)}={v}" for k, v in where.items())


def _ids(table: pd.DataFrame, method: str, where: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(str(r) for r in _select(table, method, dict(where))["run"].unique())


def _shared(table: pd.DataFrame, method_a: str, method_b: str, where: Mapping[str, Any], notebook: str | None, profile: str | None) -> str:
    ids = _ids(table, method_a, where) | _ids(table, method_b, where)
    return shared_with(ids, notebook, profile) if notebook and profile else ""


def _claim_rows(table: pd.DataFrame, text: str, method_a: str, method_b: str, metric: str, *, better: str | None,
                notebook: str | None, profile: str | None, where: Mapping[str, Any], test: str = claims.SUPERIORITY,
                margin: float | None = None, relative: bool = True) -> list[claims.ClaimResult]:
    """:func:`claim` (``test="superiority"``) and :func:`noninferiority_claim` (``"non-inferiority"``)."""
    metrics = list(L1_METRICS) if metric == "l1" else [metric]
    better = better or ("higher" if metric in MODE_METRICS else "lower")
    where = dict(where)
    scope = _scope(where)
    shared = _shared(table, method_a, method_b, where, notebook, profile)
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
        criterion = stuck_note(table, method_a, method_b, m, **where)
        row_notes = list(notes) + ([criterion] if criterion else [])
        stuck_a, stuck_b = near_stuck_runs(table, method_a, m, **where), near_stuck_runs(table, method_b, m, **where)
        if 2 * stuck_b.sum() > stuck_b.size:
            row_notes.append(f"uninformative: {method_b} stuck in {int(stuck_b.sum())}/{stuck_b.size} seeds, so a win shows "
                             f"only that {method_a} left its initial value")
        common = dict(metric=m, better=better, bounds=bounds, notes=row_notes, label_a=method_a, label_b=method_b, scope=scope,
                      shared_with=shared, stuck_a=stuck_a, stuck_b=stuck_b)
        if test == claims.NONINFERIORITY:
            if margin is None:
                raise ValueError("margin is required for a non-inferiority claim")
            results.append(claims.noninferior(text, a, b, margin=margin, relative=relative, **common))
        else:
            results.append(claims.compare(text, a, b, **common))
    return claims.with_agreement(results)


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
    - A run that barely left its initial value (:func:`near_stuck_runs`: never found a goal, or
      an L1 that ended within 5 % of its first logged value) is labelled "stuck at initial value"
      in the notes, with the criterion (:func:`stuck_note`); when most of ``method_b``'s seeds are
      stuck the row is also noted "uninformative" (a win shows only that A left its initial value).
    - ``where`` selects runs (e.g. ``height=16``) and becomes the scope. With ``notebook`` (e.g.
      ``"03"``) and ``profile``, the ``shared_with`` column names the other notebooks whose
      default runs include these runs (:func:`shared_with`).
    """
    return _claim_rows(table, text, method_a, method_b, metric, better=better, notebook=notebook, profile=profile, where=where)


def noninferiority_claim(
    table: pd.DataFrame,
    text: str,
    method_a: str,
    method_b: str,
    metric: str,
    *,
    margin: float,
    relative: bool = True,
    better: str | None = None,
    notebook: str | None = None,
    profile: str | None = None,
    **where: Any,
) -> list[claims.ClaimResult]:
    """Test "``method_a`` is still as good as ``method_b``": worse by less than ``margin``
    (relative: a fraction of B's value; absolute otherwise) on the final ``metric``, through
    :func:`gafn_lib.repro.claims.noninferior`. ``metric="l1"``, stuck flags, scope and
    ``shared_with`` as in :func:`claim`. The margin must be fixed before the data are seen (for
    notebook 05: :data:`DENSE_MARGIN`)."""
    return _claim_rows(table, text, method_a, method_b, metric, better=better, notebook=notebook, profile=profile, where=where,
                       test=claims.NONINFERIORITY, margin=margin, relative=relative)


def runs_without_first_visits(table: pd.DataFrame) -> list[str]:
    """Run ids of ``table`` stored before first visits were recorded (``first_visit_recorded`` is
    False, or the table has no first-visit column at all): their time-to-event rows cannot be built
    (a NaN there means *unknown*, not *never*). Retrain them as :mod:`gafn_lib.runner.sweep` says."""
    if FIRST_VISIT_ALL not in table:
        return sorted(str(r) for r in table["run"].unique())
    if "first_visit_recorded" not in table:
        return []
    old = table.loc[~table["first_visit_recorded"].astype(bool), "run"]
    return sorted(str(r) for r in old.unique())


def time_to_event_claim(
    table: pd.DataFrame,
    text: str,
    method_a: str,
    method_b: str,
    *,
    column: str = FIRST_VISIT_ALL,
    notebook: str | None = None,
    profile: str | None = None,
    **where: Any,
) -> claims.ClaimResult:
    """Test "``method_a`` reaches the event sooner than ``method_b``", by default "finds every
    goal after fewer visited states" (``first_visit_all_modes``; the paper's x-axis, terminal
    states visited), through :func:`gafn_lib.repro.claims.compare_time_to_event`: per run the time
    of the event, or the run's budget (its final ``trajectories``) when it never happened
    (right-censored; :func:`first_visit_times`, :func:`gafn_lib.repro.stats.censored_times`).

    Raises:
        ValueError: if a selected run was stored before first visits were recorded
            (:func:`first_visit_times` says how to retrain it), or no run matches.
    """
    where = dict(where)
    times_a, budget_a = first_visit_times(table, method_a, column, **where)
    times_b, budget_b = first_visit_times(table, method_b, column, **where)
    a, found_a = stats.censored_times(times_a, budget_a)
    b, found_b = stats.censored_times(times_b, budget_b)
    unit = "training steps" if column.endswith("_step") else "visited terminal states"
    budgets = sorted({int(x) for x in np.concatenate([budget_a, budget_b])})
    notes = [f"time in {unit}; a run that never found every goal is censored at its budget "
             f"({', '.join(f'{x:,}' for x in budgets)})"]
    return claims.compare_time_to_event(
        text, a, b, found_a=found_a, found_b=found_b, metric=column, label_a=method_a, label_b=method_b,
        scope=_scope(where), shared_with=_shared(table, method_a, method_b, where, notebook, profile), notes=notes,
    )


# ------------------------------------------------------------------------------ claim builders
@dataclass(frozen=True)
class ClaimSpec:
    """One claim of a notebook before it meets the data.

    Attributes:
        text: the sentence tested. method_a, method_b: the run labels compared (A is claimed better).
        metric: ``"l1"`` (both L1 errors), a metric column, or for ``kind="time to event"`` a
            first-visit column. kind: :data:`gafn_lib.repro.claims.SUPERIORITY`,
            :data:`~gafn_lib.repro.claims.NONINFERIORITY` or :data:`~gafn_lib.repro.claims.TIME_TO_EVENT`.
        where: the runs' selection (e.g. ``(("height", 32),)``), also the row's scope.
        margin, relative: the non-inferiority margin (``kind="non-inferiority"`` only).
    """

    text: str
    method_a: str
    method_b: str
    metric: str
    kind: str = claims.SUPERIORITY
    where: tuple[tuple[str, Any], ...] = ()
    margin: float | None = None
    relative: bool = True

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metric columns the spec's rows test."""
        return L1_METRICS if self.metric == "l1" else (self.metric,)


def _key(kind: str, metric: str, margin: float | None, ids_a: frozenset[str], ids_b: frozenset[str]) -> tuple:
    """What makes two rows the same comparison: the same test on the same runs (either way round)."""
    return (kind, metric, None if margin is None else float(margin), frozenset({ids_a, ids_b}))


def _origin(text: str, label_a: str, label_b: str, scope: str) -> str:
    return f"{text} ({label_a} vs {label_b}{', ' + scope if scope else ''})"


def build_claims(table: pd.DataFrame, specs: Iterable[ClaimSpec], *, notebook: str | None = None, profile: str | None = None,
                 references: Mapping[tuple, str] | None = None) -> list[claims.ClaimResult]:
    """The rows of ``specs`` on ``table``, in order, each distinct comparison counted once: a row
    that tests the same runs on the same metric with the same test as an earlier row gets
    ``duplicate_of`` that row, and one that does so as a row of another notebook (``references``,
    from :func:`reference_keys`) gets ``duplicate_of`` ``"notebook 01: <claim> (...)"``.
    ``claims.verdict_counts(results, distinct=True)`` then counts each comparison once."""
    references = dict(references or {})
    seen: dict[tuple, str] = {}
    out: list[claims.ClaimResult] = []
    for spec in specs:
        where = dict(spec.where)
        if spec.kind == claims.TIME_TO_EVENT:
            rows = [time_to_event_claim(table, spec.text, spec.method_a, spec.method_b, column=spec.metric,
                                        notebook=notebook, profile=profile, **where)]
        else:
            rows = _claim_rows(table, spec.text, spec.method_a, spec.method_b, spec.metric, better=None, notebook=notebook,
                               profile=profile, where=where, test=spec.kind, margin=spec.margin, relative=spec.relative)
        ids_a, ids_b = _ids(table, spec.method_a, where), _ids(table, spec.method_b, where)
        for row in rows:
            key = _key(spec.kind, row.metric, spec.margin, ids_a, ids_b)
            if key in references:
                row = replace(row, duplicate_of=references[key])
            elif key in seen:
                row = replace(row, duplicate_of=seen[key])
            seen.setdefault(key, _origin(row.claim, row.label_a, row.label_b, row.scope))
            out.append(row)
    return claims.mark_duplicates(out)


def l1_text(other: str) -> str:
    """Notebook 01's L1 claim against ``other``."""
    return f"GAFlowNet reaches a lower L1 error than {other}"


def modes_text(other: str) -> str:
    """Notebook 01's "more modes" claim against ``other``."""
    return f"GAFlowNet finds more modes than {other}"


def faster_text(other: str) -> str:
    """Notebook 01's "faster" claim against ``other``."""
    return f"GAFlowNet finds all the modes with fewer visited states than {other}"


#: Notebook 01's coverage claim (ours: the paper reports modes found, not covered).
COVER_TEXT = "GAFlowNet's policy covers more goals than TB's (exact; our addition)"


def comparison_specs(heights: Iterable[int], faster: bool = True) -> list[ClaimSpec]:
    """Notebook 01's claims at each grid size: lower L1 than TB / MCMC / PPO (both L1s), more modes
    found than each, more goals covered than TB (ours), and — with ``faster`` — every mode found
    after fewer visited states than each (time to event on ``first_visit_all_modes``)."""
    specs = []
    for h in heights:
        where = (("height", int(h)),)
        specs += [ClaimSpec(l1_text(o), GAFN, o, "l1", where=where) for o in (TB, MCMC, PPO)]
        specs += [ClaimSpec(modes_text(o), GAFN, o, "modes_found", where=where) for o in (TB, MCMC, PPO)]
        specs.append(ClaimSpec(COVER_TEXT, GAFN, TB, "modes_covered", where=where))
        if faster:
            specs += [ClaimSpec(faster_text(o), GAFN, o, FIRST_VISIT_ALL, kind=claims.TIME_TO_EVENT, where=where) for o in (TB, MCMC, PPO)]
    return specs


def reference_keys(profile: str, notebook: str = "01") -> dict[tuple, str]:
    """The comparisons notebook 01 makes with its default runs for ``profile``, as
    :func:`build_claims` keys → ``"notebook 01: <claim> (<A> vs <B>, H=<h>)"``: rows of other
    notebooks that test the same runs the same way are marked duplicates of them."""
    from gafn_lib.repro.profiles import profile_value
    from gafn_lib.runner import run_id

    if notebook != "01":
        raise ValueError(f"notebook must be '01' (the notebook others repeat), got {notebook!r}")
    labelled = notebook_labelled_runs(profile)["01"]
    keys = {}
    for spec in comparison_specs(profile_value(profile, **COMPARISON_HEIGHTS)):
        where = dict(spec.where)

        def ids(label: str) -> frozenset[str]:
            return frozenset(run_id(c) for lab, c in labelled if lab == label and all(getattr(c, k) == v for k, v in where.items()))

        for metric in spec.metrics:
            keys.setdefault(_key(spec.kind, metric, spec.margin, ids(spec.method_a), ids(spec.method_b)),
                            f"notebook 01: {_origin(spec.text, spec.method_a, spec.method_b, _scope(where))}")
    return keys


def comparison_claims(table: pd.DataFrame, heights: Iterable[int], *, notebook: str = "01", profile: str | None = None) -> list[claims.ClaimResult]:
    """Notebook 01's claims table (:func:`comparison_specs`). The "faster" rows need first visits:
    when some run of ``table`` was stored before they were recorded (:func:`runs_without_first_visits`)
    they are left out with a warning naming the runs (retrain them to get these rows)."""
    old = runs_without_first_visits(table)
    if old:
        warnings.warn(f"{len(old)} runs were stored before first visits were recorded ({', '.join(old[:6])}"
                      f"{', ...' if len(old) > 6 else ''}): the 'finds all the modes faster' rows are left out; "
                      "delete those runs from the run store and run the notebook again", stacklevel=2)
    return build_claims(table, comparison_specs(heights, faster=not old), notebook=notebook, profile=profile)


#: Notebook 02's claims (the heat maps' reading), at each height.
SAMPLING_COVER_TEXT = "GAFlowNet's policy covers more goals (>= 1/2 their target mass) than TB's"
SAMPLING_L1_TEXT = "GAFlowNet's distribution is closer to the target than TB's"


def sampling_claims(table: pd.DataFrame, heights: Iterable[int], *, notebook: str = "02", profile: str | None = None) -> list[claims.ClaimResult]:
    """Notebook 02's claims: GAFlowNet's final policy covers more goals than TB's and its
    distribution is closer to the target (both L1s), at each height. These are notebook 01's own
    comparisons when the runs are 01's (the default): such rows are marked ``duplicate_of`` 01's row
    (:func:`reference_keys`) and do not count as distinct comparisons."""
    specs = []
    for h in heights:
        where = (("height", int(h)),)
        specs += [ClaimSpec(SAMPLING_COVER_TEXT, GAFN, TB, "modes_covered", where=where), ClaimSpec(SAMPLING_L1_TEXT, GAFN, TB, "l1", where=where)]
    return build_claims(table, specs, notebook=notebook, profile=profile, references=reference_keys(profile) if profile else None)


#: The metric by which count's η is selected in notebook 03 (lowest mean final value over seeds):
#: the paper's L1 (cumulative visits), the metric of the paper's η figure.
ETA_SELECTION_METRIC = "l1_mean_visited"


@dataclass(frozen=True)
class EtaSelection:
    """The η of a sweep with the lowest mean final ``metric`` over seeds.

    Attributes:
        label: the winning run label (e.g. ``"count η=0.01"``). eta: its η. metric: the selection metric.
        means: one row per η (``eta``, ``label``, ``mean``, ``std``, ``n``), sorted by η.
    """

    label: str
    eta: float
    metric: str
    means: pd.DataFrame = field(repr=False)

    def describe(self) -> str:
        """One sentence: which η won, on what, and that selecting on the same runs favours it."""
        best = self.means.loc[self.means["label"] == self.label].iloc[0]
        return (f"count's η selected by the lowest mean final {self.metric} over seeds among "
                f"{', '.join(f'{e:g}' for e in self.means['eta'])}: η = {self.eta:g} ({best['mean']:.3g}, n={int(best['n'])}); "
                "selected on the same runs the comparison then uses, which favours count")


def best_eta(table: pd.DataFrame, labels: Iterable[str], metric: str = ETA_SELECTION_METRIC) -> EtaSelection:
    """Select the η sweep's best run label by the lowest mean final ``metric`` over seeds (ties: the
    smaller η). ``labels`` are sweep labels (:func:`count_eta_label`, :func:`rnd_eta_label`).

    Raises:
        ValueError: naming ``labels`` if none has runs in ``table``.
    """
    rows = []
    for label in labels:
        values = final_values(table, label, metric)
        values = values[~np.isnan(values)]
        if values.size:
            rows.append(dict(eta=eta_of_label(label), label=label, mean=float(values.mean()),
                             std=float(values.std(ddof=1)) if values.size > 1 else math.nan, n=int(values.size)))
    if not rows:
        raise ValueError(f"labels: none of {list(labels)} has runs with {metric!r} in the table")
    means = pd.DataFrame(rows).sort_values("eta", ignore_index=True)
    best = means.sort_values(["mean", "eta"]).iloc[0]
    return EtaSelection(label=str(best["label"]), eta=float(best["eta"]), metric=metric, means=means)


#: Notebook 03's placement, form and RND-vs-count claim texts.
NODE_VS_EDGE_TEXT = "Node-based augmentation explores more broadly than edge-based (modes found)"
NODE_WORSE_TEXT = "Node-based augmentation ends with a larger error than joint"
RND_TEXT = "An RND intrinsic reward lowers the L1 error compared with none"
COUNT_TEXT = "A count-based bonus also lowers the L1 error compared with none (our addition)"
#: The direct comparison; the count bonus's η (in its label, e.g. "count η=0.01") is its best of the sweep.
RND_VS_COUNT_TEXT = ("RND at the paper's η reaches a lower L1 than the count bonus at its best η "
                     "(count's η selected on these runs, which favours count; our addition)")


def ablation_specs(height: int, etas: Iterable[float], count_best: EtaSelection | None = None) -> list[ClaimSpec]:
    """Notebook 03's claims at grid size ``height``: joint vs edge and node, node vs edge (modes
    found), "node ends with a larger error than joint" (the same comparison as joint vs node,
    kept as the paper words it and marked duplicate), RND vs none, count vs none, RND at the
    paper's η vs the count bonus at its best η (``count_best``), and every η of the RND sweep vs TB."""
    where = (("height", int(height)),)
    joint, tb = "joint (GAFlowNet)", "none (TB)"
    specs = [ClaimSpec(f"Joint augmentation has a lower final L1 than {o}", joint, o, "l1", where=where) for o in ("edge", "node")]
    specs += [
        ClaimSpec(NODE_VS_EDGE_TEXT, "node", "edge", "modes_found", where=where),
        ClaimSpec(NODE_WORSE_TEXT, joint, "node", "l1", where=where),
        ClaimSpec(RND_TEXT, "RND (paper)", tb, "l1", where=where),
        ClaimSpec(COUNT_TEXT, "count η/√N", tb, "l1", where=where),
    ]
    if count_best is not None:
        specs.append(ClaimSpec(
            RND_VS_COUNT_TEXT, "RND (paper)", count_best.label, "l1", where=where))
    for eta in etas:
        paper = " (the paper's η)" if eta == paper_eta(height) else ""
        specs.append(ClaimSpec(f"GAFlowNet with η={eta:g}{paper} beats TB", rnd_eta_label(eta), tb, "l1", where=where))
    return specs


def ablation_claims(table: pd.DataFrame, *, height: int, etas: Iterable[float], count_best: EtaSelection | None = None,
                    notebook: str = "03", profile: str | None = None) -> list[claims.ClaimResult]:
    """Notebook 03's claims table (:func:`ablation_specs`) on the table of every 03 run (placements,
    forms, both η sweeps, labelled as :data:`PLACEMENTS`, :data:`FORMS`, :func:`rnd_eta_variants`,
    :func:`count_eta_variants`). Rows on the same runs are marked duplicates: "node ends with a
    larger error than joint" of "joint lower than node"; the paper's-η row of the RND row; and,
    with the default runs, the RND row of notebook 01's GAFlowNet-vs-TB row at this height."""
    return build_claims(table, ablation_specs(height, etas, count_best), notebook=notebook, profile=profile,
                        references=reference_keys(profile) if profile else None)


def objective_claims(table: pd.DataFrame, objectives: Iterable[str], *, notebook: str = "04", profile: str | None = None) -> list[claims.ClaimResult]:
    """Notebook 04's claims: for each objective, joint RND lowers its L1 (both L1s) and lets its
    policy cover more goals; the plain objective is the baseline whose stuck runs are flagged."""
    specs = []
    for obj in objectives:
        text = f"Augmentation lowers the L1 error of {NAMES[obj]}" + (" (our addition)" if obj == "subtb" else "")
        specs += [ClaimSpec(text, f"{NAMES[obj]} + joint RND", NAMES[obj], "l1"),
                  ClaimSpec(f"Augmentation lets {NAMES[obj]}'s policy cover more goals", f"{NAMES[obj]} + joint RND", NAMES[obj], "modes_covered")]
    return build_claims(table, specs, notebook=notebook, profile=profile)


#: Notebook 05's non-inferiority margin, fixed before any dense-reward run was read: GAFlowNet is
#: "still as good as" TB when its final L1 is below 1.10 × TB's (relative 10 %). Why 10 %: the
#: paper reads its L1 curves on log axes spanning decades, where 10 % is about the width of a
#: line, and the effects it calls improvements are factors of 2–10; a 10 % higher L1 is a
#: difference a reader of those figures would not call worse. Relative, because the L1's scale
#: changes with H and R0 (it is a mean over H² cells).
DENSE_MARGIN = 0.10


def dense_reward_specs(r0s: Iterable[float], margin: float = DENSE_MARGIN) -> list[ClaimSpec]:
    """Notebook 05's claims for each reward floor R0: the paper's "GAFlowNet is still as good as TB"
    as non-inferiority on both L1s within ``margin`` (relative), and our "its policy covers more
    modes" (superiority, an addition: the paper claims no gain here)."""
    specs = []
    for r0 in r0s:
        where = (("r0", float(r0)),)
        specs += [
            ClaimSpec(f"GAFlowNet is still as good as TB: L1 worse by less than {margin:.0%}", GAFN, TB, "l1",
                      kind=claims.NONINFERIORITY, where=where, margin=margin, relative=True),
            ClaimSpec("GAFlowNet's policy covers more modes than TB's (exact; our addition)", GAFN, TB, "modes_covered", where=where),
        ]
    return specs


def dense_reward_claims(table: pd.DataFrame, r0s: Iterable[float], *, margin: float = DENSE_MARGIN, notebook: str = "05",
                        profile: str | None = None) -> list[claims.ClaimResult]:
    """Notebook 05's claims table (:func:`dense_reward_specs`) on the runs of every R0 (``table``
    with an ``r0`` column)."""
    return build_claims(table, dense_reward_specs(r0s, margin), notebook=notebook, profile=profile)


def distinct_summary(results: Sequence[claims.ClaimResult]) -> str:
    """``"12 rows, 9 distinct comparisons: {'supported': 5, ...}"``: the verdicts of the distinct
    comparisons (duplicates counted once, :func:`gafn_lib.repro.claims.verdict_counts`)."""
    distinct = claims.distinct_results(results)
    return f"{len(results)} rows, {len(distinct)} distinct comparisons: {claims.verdict_counts(results, distinct=True)}"


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


# ----------------------------------------------------------------------- PPO at H >= 32 (notebook 01)
#: The PPO tuning sweep of notebook 01 (paper profile): every combination of these values at
#: :data:`PPO_TUNING_HEIGHT`, :data:`PPO_TUNING_SEEDS`, the paper's 20,000 steps. The release's PPO
#: (c_H = 0.1, lr = 1e-3, no RND) is one of them (01's own PPO runs, trained once).
PPO_TUNING = dict(entropy_coef=(0.01, 0.1), lr=(1e-4, 1e-3), intrinsic=("none", "rnd"))
PPO_TUNING_HEIGHT = 32
PPO_TUNING_SEEDS = (0, 1)


def ppo_tuning_label(entropy_coef: float, lr: float, intrinsic: str) -> str:
    """``"PPO + RND, c_H=0.01, lr=0.0001"``: the label of a PPO tuning run."""
    method = PPO_RND if intrinsic == "rnd" else PPO
    return f"{method}, c_H={entropy_coef:g}, lr={lr:g}"


def ppo_tuning_runs(height: int = PPO_TUNING_HEIGHT, seeds: Sequence[int] = PPO_TUNING_SEEDS, n_steps: int | None = None,
                    grid: Mapping[str, Sequence[Any]] | None = None) -> list[tuple[str, Any]]:
    """Notebook 01's PPO tuning sweep (paper profile): entropy coefficient × learning rate × with
    or without RND (:data:`PPO_TUNING`, 8 configs) at H = 32, 2 seeds, the paper's 20,000 steps:
    16 runs, 14 new (the release's settings are 01's PPO runs). Nothing here trains them:
    ``python -m gafn_lib.repro.experiments ppo-tuning`` does (docs/paper_profile.md gives the cost).

    Raises:
        ValueError: naming ``grid`` if it has a key other than ``entropy_coef``, ``lr``, ``intrinsic``.
    """
    grid = dict(PPO_TUNING if grid is None else grid)
    if set(grid) != set(PPO_TUNING):
        raise ValueError(f"grid must have exactly the keys {sorted(PPO_TUNING)}, got {sorted(grid)}")
    n_steps = N_STEPS["paper"] if n_steps is None else n_steps
    runs = []
    for intrinsic in grid["intrinsic"]:
        for entropy_coef in grid["entropy_coef"]:
            for lr in grid["lr"]:
                method = PPO_RND if intrinsic == "rnd" else PPO
                label = ppo_tuning_label(entropy_coef, lr, intrinsic)
                runs += [(label, method_config(method, height=height, seed=s, n_steps=n_steps, log_every=log_every_for(n_steps),
                                               entropy_coef=float(entropy_coef), lr=float(lr))) for s in seeds]
    return runs


def load_complete(runs: Sequence[tuple[str, Any]], results_dir: str | Path, experiment: str = GRID_STORE) -> tuple[pd.DataFrame | None, list[str]]:
    """The tidy table (with ``method``, ``seed``, ``height``) of the runs of ``runs`` already in the
    store, **without training anything**, and the run ids still missing. ``(None, ids)`` when none
    is there."""
    from gafn_lib.runner import ExperimentStore, load_results, run_id

    store = ExperimentStore.open(experiment, results_dir)
    done = [(label, c) for label, c in runs if store.is_complete(run_id(c))]
    missing = sorted({run_id(c) for _, c in runs} - {run_id(c) for _, c in done})
    if not done:
        return None, missing
    table = load_results(experiment, results_dir, configs=[c for _, c in done])
    frames = []
    for label, config in done:
        part = table[table["run"] == run_id(config)].copy()
        part["method"], part["seed"], part["height"] = label, config.seed, getattr(config, "height", None)
        frames.append(part)
    return pd.concat(frames, ignore_index=True), missing


def ppo_tuning_summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per PPO tuning config: its settings, the seeds run, the goals each seed ever reached
    (the most ``modes_found`` of any logged row), the final mean trajectory length (moves, mean over
    seeds) and the longest mean length logged."""
    rows = []
    for label, part in table.groupby("method", sort=False):
        per_seed = part.sort_values("step").groupby("seed")
        final = per_seed.tail(1)
        rows.append({
            "config": label, "intrinsic": part["intrinsic"].iloc[0], "entropy_coef": float(part["entropy_coef"].iloc[0]),
            "lr": float(part["lr"].iloc[0]), "seeds": ", ".join(str(s) for s in sorted(part["seed"].unique())),
            "steps": int(final["step"].max()),
            "goals ever reached (per seed)": ", ".join(str(int(v)) for v in per_seed["modes_found"].max().fillna(0)),
            "final mean length (moves)": float(final["mean_length"].mean()),
            "longest logged mean length": float(part["mean_length"].max()),
        })
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class UniformReach:
    """What a policy uniform over the allowed actions reaches on the hypergrid, exactly (dynamic
    programming over the grid with :meth:`gafn_lib.envs.Hypergrid.exact_terminal_distribution`).

    Attributes:
        height, ndim: the grid. n_actions_interior: allowed actions at an interior state (``ndim``
            increments and stop), so the uniform policy stops there with probability
            ``1/n_actions_interior``.
        mean_moves: expected moves before the trajectory ends (stop, or the edge rule).
        far_goal_moves: the moves to the farthest goal, ``ndim·(H−2)``.
        p_at_least_far: exact probability of at least ``far_goal_moves`` moves.
        p_at_least_far_approx: ``(ndim/(ndim+1))^{far_goal_moves}``, the same without the edge rule.
        p_goal: exact probability that one trajectory ends on each goal (goal order of
            ``env.mode_indices()``); p_any_goal: their sum.
        trajectories: the budget considered (default: the paper's 20,000 steps × 16).
        expected_goal_hits: ``trajectories × p_any_goal``; p_any_hit: ``1 − (1 − p_any_goal)^trajectories``.
    """

    height: int
    ndim: int
    n_actions_interior: int
    mean_moves: float
    far_goal_moves: int
    p_at_least_far: float
    p_at_least_far_approx: float
    p_goal: tuple[float, ...]
    p_any_goal: float
    trajectories: int
    expected_goal_hits: float
    p_any_hit: float

    def describe(self) -> str:
        """The analytic reason in one paragraph, with this grid's numbers."""
        n = self.n_actions_interior
        return (
            f"A policy uniform over the allowed actions stops with probability 1/{n} at every interior state, so it makes "
            f"{self.mean_moves:.2f} moves on average. At H = {self.height} the farthest goal needs {self.far_goal_moves} moves: "
            f"P(>= {self.far_goal_moves} moves) = {self.p_at_least_far:.2g} exactly (({n - 1}/{n})^{self.far_goal_moves} = "
            f"{self.p_at_least_far_approx:.2g} without the edge rule), and a trajectory ends on any goal with probability "
            f"{self.p_any_goal:.2g}: {self.expected_goal_hits:.2g} goal visits expected in {self.trajectories:,} trajectories. "
            "PPO's reward is R(x), zero off the goals, so until a goal is visited nothing rewards longer trajectories and the "
            "entropy bonus keeps the policy near uniform; PPO + RND's novelty bonus on every move is the one signal that could."
        )

    def row(self) -> dict[str, float]:
        """The numbers as one table row."""
        return {
            "H": self.height, "mean moves": self.mean_moves, "moves to the far goal": self.far_goal_moves,
            "P(>= that many moves)": self.p_at_least_far, f"({self.ndim}/{self.ndim + 1})^moves": self.p_at_least_far_approx,
            "P(a trajectory ends on a goal)": self.p_any_goal, "trajectories": self.trajectories,
            "expected goal hits": self.expected_goal_hits, "P(any goal hit in the budget)": self.p_any_hit,
        }


def uniform_policy_reach(height: int, ndim: int = 2, trajectories: int | None = None) -> UniformReach:
    """How likely a policy that is uniform over the allowed actions (every increment and stop) is to
    reach the sparse grid's goals: why PPO, whose policy stays near uniform until it is rewarded,
    never reaches one from H = 32 on. Exact, by dynamic programming (no sampling).

    Raises:
        ValueError: naming ``height``, ``ndim`` or ``trajectories`` when out of range.
    """
    import torch

    from gafn_lib.envs import Hypergrid, HypergridConfig

    if int(height) != height or height < 4:
        raise ValueError(f"height must be an integer >= 4, got {height!r}")
    if int(ndim) != ndim or ndim < 1:
        raise ValueError(f"ndim must be an integer >= 1, got {ndim!r}")
    trajectories = N_STEPS["paper"] * 16 if trajectories is None else trajectories
    if int(trajectories) != trajectories or trajectories < 1:
        raise ValueError(f"trajectories must be an integer >= 1, got {trajectories!r}")
    env = Hypergrid(HypergridConfig(ndim=ndim, height=height))
    states = env.all_states()
    mask = env.forward_mask(states).double()
    allowed = mask.sum(dim=1, keepdim=True)
    probs = torch.where(allowed > 0, mask / allowed.clamp(min=1), torch.zeros_like(mask))
    terminal = env.exact_terminal_distribution(probs)
    moves = states.sum(dim=1).double()  # every move increments one coordinate: moves = sum of coordinates
    far = ndim * (height - 2)
    goals = env.mode_indices()
    p_goal = tuple(float(terminal[g]) for g in goals)
    p_any = float(sum(p_goal))
    return UniformReach(
        height=int(height), ndim=int(ndim), n_actions_interior=ndim + 1,
        mean_moves=float((terminal * moves).sum()), far_goal_moves=far,
        p_at_least_far=float(terminal[moves >= far].sum()), p_at_least_far_approx=(ndim / (ndim + 1)) ** far,
        p_goal=p_goal, p_any_goal=p_any, trajectories=int(trajectories),
        expected_goal_hits=trajectories * p_any, p_any_hit=-math.expm1(trajectories * math.log1p(-p_any)) if p_any < 1 else 1.0,
    )


def uniform_reach_table(heights: Iterable[int], ndim: int = 2, trajectories: int | None = None) -> pd.DataFrame:
    """:func:`uniform_policy_reach` for each height, one row each."""
    return pd.DataFrame([uniform_policy_reach(h, ndim, trajectories).row() for h in heights])


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gafn_lib.repro.experiments ppo-tuning [--workers N] [--status]``: train notebook
    01's PPO tuning sweep (:func:`ppo_tuning_runs`) into the run store that ``make figures
    PROFILE=paper`` reads (checkpointed every 1,000 steps: a killed sweep resumes)."""
    from gafn_lib.repro import paths
    from gafn_lib.runner import run_sweep

    parser = argparse.ArgumentParser(prog="python -m gafn_lib.repro.experiments", description=" ".join(main.__doc__.split()))
    parser.add_argument("sweep", choices=["ppo-tuning"])
    parser.add_argument("--workers", type=int, default=1, help="parallel runs (default 1)")
    parser.add_argument("--results-dir", default=None, help="default: the folder make figures PROFILE=paper reads")
    parser.add_argument("--status", action="store_true", help="print which runs are finished or missing; train nothing")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be >= 1, got {args.workers}")
    results = Path(args.results_dir) if args.results_dir else paths.pipeline_output_root(paths.project_root(), "paper") / "data" / "results"
    runs = ppo_tuning_runs()
    if args.status:
        from gafn_lib.runner import run_id

        _, missing = load_complete(runs, results)
        total = len({run_id(c) for _, c in runs})
        print(f"PPO tuning: {total - len(missing)} of {total} runs finished in {results}"
              + (f"; missing: {', '.join(missing)}" if missing else ""))
        return 0
    from gafn_lib.repro.grid_cost import seconds_per_step

    run_sweep(GRID_STORE, [c for _, c in runs], results_dir=results, workers=args.workers, checkpoint_every=1_000, progress=True,
              step_seconds=seconds_per_step)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
