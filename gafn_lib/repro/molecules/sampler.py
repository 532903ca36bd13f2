"""What each molecule sampler produces *now*: notebook 06's tables from the per-window columns.

Every metric row of a molecule run carries the window since the previous row
(:data:`gafn_lib.molecules.tracking.WINDOW_COLUMNS`): ``hit_rate`` (share of the window's
molecules scoring above the reward threshold, 7 under the paper's reward, 6 under the quick
profile's reduced one), ``mean_score``, ``unique_fraction``, ``mean_length``, ``window_molecules``.
The cumulative columns (top-10, modes) say what a method has *found so far*, which random search
also accumulates; the window columns say whether the sampler has learned to put its molecules where
the reward is.

**Late-training hit rate** (:func:`tail_table`): per run, the hits and molecules of the windows in
the last :data:`TAIL` of its molecules (:func:`gafn_lib.repro.molecules.decisive.tail_hits`).

**Against random search**, two ways, both reported by notebook 06:

- *seed by seed* (:func:`hit_rate_vs_random`, as the decisive run does): for each seed, the
  learner's late hits against random search's of the same seed by the pooled two-proportion z test
  (:func:`gafn_lib.repro.molecules.decisive.two_proportion_z`, molecules as independent draws);
  "beats random" when z > 1.645 in every seed. This decides about *these runs* with thousands of
  molecules per seed, at any number of seeds; :func:`hit_rate_vs` does the same against any
  method, and :func:`gafn_vs_gflownets` GAFlowNet against each GFlowNet (notebook 06);
- *over seeds* (:func:`gafn_lib.repro.molecules.claims.molecule_claims`): one late hit rate per
  seed and the exact Mann–Whitney rule of :func:`gafn_lib.repro.claims.compare`, which needs 4
  seeds per method to decide (3 vs 3 is always "inconclusive (cannot decide)").
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from gafn_lib.repro.molecules.configs import GAFN, GFN, GFN_RELEASE_NO_C, KNOWN_METHODS, RANDOM, RELEASE_PROFILE_METHODS

#: The share of a run's molecules (its end) whose windows make the late-training hit rate.
TAIL = 1 / 3
#: The window columns the sampler tables need.
NEEDED = ("molecules_generated", "window_molecules", "hit_rate", "mean_score")
#: Final (cumulative) columns of the summary table: top-10 in both units, modes raw and separated.
FINAL_METRICS = ("top10_reward", "top10_score_norm", "top10_score", "n_modes", "n_modes_separated", "top10_tanimoto",
                 "unique_molecules", "molecules_generated")


def has_window_columns(table: pd.DataFrame) -> bool:
    """True when every run of ``table`` has the window columns (runs stored before they existed
    have none, or NaN in every row)."""
    if table.empty or any(c not in table.columns for c in NEEDED):
        return False
    return bool(table.groupby("run")["window_molecules"].apply(lambda w: (w.fillna(0) > 0).any()).all())


def tail_table(table: pd.DataFrame, tail: float = TAIL) -> pd.DataFrame:
    """Per method × seed: ``molecules``, ``hits``, ``hit_rate``, ``mean_score`` (and ``mean_length``,
    ``unique_fraction`` when the runs log them) over the windows in the last ``tail`` of the run's
    molecules (:func:`gafn_lib.repro.molecules.decisive.tail_hits`);
    ``ValueError`` naming the columns when the runs lack them."""
    from gafn_lib.repro.molecules import decisive

    missing = [c for c in NEEDED if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks the window columns {missing}: its runs were stored before the metrics had them; retrain them")
    optional = [c for c in decisive.TAIL_AVERAGED if c not in NEEDED and c in table.columns]
    return decisive.tail_hits(table[["method", "seed", *NEEDED, *optional]], tail)


def hit_rate_vs_random(table: pd.DataFrame, tail: float = TAIL, methods: Sequence[str] | None = None,
                       random_label: str = RANDOM) -> pd.DataFrame:
    """Each learner's late-training hit rate against random search's, seed by seed
    (:func:`hit_rate_vs` with random search as the reference): columns ``method``, ``seeds``,
    ``hit_rate`` / ``random_hit_rate`` (per seed, with hits/molecules), ``mean_score`` /
    ``random_mean_score``, ``z`` per seed, ``verdict`` (beats random / worse than random /
    inconclusive). Empty when random search has no finished run."""
    return hit_rate_vs(table, random_label, methods or KNOWN_METHODS, tail, name="random")


def hit_rate_vs(table: pd.DataFrame, reference: str, methods: Sequence[str], tail: float = TAIL,
                name: str | None = None) -> pd.DataFrame:
    """``methods``' late-training hit rates against ``reference``'s, seed by seed
    (:func:`gafn_lib.repro.molecules.decisive.against_reference`, the reference called ``name``,
    default its label, in the columns and verdicts; e.g. GAFlowNet against GFlowNet, the paper's
    comparison, decided in these runs whatever the number of seeds). Empty (with its columns) when
    ``reference`` or every one of ``methods`` has no finished run."""
    from gafn_lib.repro.molecules import decisive

    name = name or reference
    hits = tail_table(table, tail)
    present = set(hits["method"])
    learners = [m for m in methods if m != reference and m in present]
    if reference not in present or not learners:
        return pd.DataFrame(columns=["method", "seeds", "hit_rate", f"{name}_hit_rate", "mean_score", f"{name}_mean_score", "z", "verdict"])
    return decisive.against_reference(hits, reference, learners, name=name)


def gafn_vs_gflownets(table: pd.DataFrame, tail: float = TAIL, gflownets: Sequence[str] = (GFN, GFN_RELEASE_NO_C)) -> pd.DataFrame:
    """The paper's comparison, GAFlowNet's late-training hit rate against each GFlowNet's of
    ``gflownets`` that has finished runs, seed by seed (:func:`hit_rate_vs`, the GFlowNet called
    "GFlowNet" in the columns and verdicts), one block of rows per GFlowNet, named in the column
    ``reference``. In the long and paper profiles the release GFlowNet collapses (with
    ``log_reg_c``), so the row against :data:`GFN_RELEASE_NO_C` is the one where the GFlowNet can win.
    Empty (with its columns) when GAFlowNet or every GFlowNet has no finished run."""
    parts = [hit_rate_vs(table, g, [GAFN], tail, name="GFlowNet").assign(reference=g) for g in gflownets]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=["method", "reference", "seeds", "hit_rate", "GFlowNet_hit_rate", "mean_score",
                                     "GFlowNet_mean_score", "z", "verdict"])
    out = pd.concat(parts, ignore_index=True)
    return out[["method", "reference", *[c for c in out.columns if c not in ("method", "reference")]]]


def summary_table(table: pd.DataFrame, tail: float = TAIL, methods: Sequence[str] = RELEASE_PROFILE_METHODS) -> pd.DataFrame:
    """Per method, mean and std over seeds (``<metric>_mean``, ``<metric>_std``) of the final
    cumulative metrics (:data:`FINAL_METRICS` present in ``table``: top-10 reward and score/8,
    modes raw and separated, top-10 Tanimoto, ...) and, when the runs have window columns, of the
    late-training ``tail_hit_rate``, ``tail_mean_score``, ``tail_mean_length`` and
    ``tail_unique_fraction`` (:func:`tail_table`; the last two when the runs log them), with ``seeds``."""
    from gafn_lib.repro import experiments as ex

    metrics = [m for m in FINAL_METRICS if m in table.columns and table[m].notna().any()]
    if "wall_seconds" in table.columns:
        metrics.append("wall_seconds")
    summary = ex.summarise(table, metrics)
    seeds = table.groupby("method")["seed"].nunique().rename("seeds").reset_index()
    summary = seeds.merge(summary, on="method")
    if has_window_columns(table):
        from gafn_lib.repro.molecules.decisive import TAIL_AVERAGED

        tails = tail_table(table, tail)
        columns = [c for c in ("hit_rate", *TAIL_AVERAGED) if c in tails.columns]
        stats = tails.groupby("method")[columns].agg(["mean", "std"])
        stats.columns = [f"tail_{m}_{s}" for m, s in stats.columns]
        summary = summary.merge(stats.reset_index(), on="method", how="left")
    order = {m: i for i, m in enumerate(methods)}
    return summary.sort_values("method", key=lambda s: s.map(lambda m: order.get(m, len(order)))).reset_index(drop=True)


#: Columns of :func:`finished_runs`, in order (those the runs do not log are left out).
FINISHED_RUN_COLUMNS = ("method", "seed", "late_hit_rate", "late_hits", "late_mean_score", "late_unique_fraction",
                        "late_mean_length", "n_modes", "n_modes_separated", "top10_reward", "top10_score", "top10_tanimoto", "hours")


def finished_runs(table: pd.DataFrame, tail: float = TAIL, methods: Sequence[str] = RELEASE_PROFILE_METHODS) -> pd.DataFrame:
    """One row per run of ``table`` (finished runs' metric rows, with ``method`` and ``seed``): what a
    long sweep has found so far, run by run, before any claim over seeds can be made.

    ``late_*``: the last ``tail`` of the run's molecules (:func:`tail_table`: hit rate = hits /
    molecules, molecule-weighted mean score, unique fraction, blocks per molecule); the cumulative
    metrics of the run's last row (modes raw and separated, top-10 reward, score and Tanimoto); and
    ``hours``, its logged training time (``wall_seconds`` / 3600). Rows in ``methods`` order, then seed."""
    if table.empty:
        return pd.DataFrame(columns=list(FINISHED_RUN_COLUMNS))
    last = table.sort_values("molecules_generated").groupby(["method", "seed"], sort=False).tail(1)
    out = last[["method", "seed"]].copy()
    for column in ("n_modes", "n_modes_separated", "top10_reward", "top10_score", "top10_tanimoto"):
        if column in last.columns:
            out[column] = last[column].to_numpy()
    if "wall_seconds" in last.columns:
        out["hours"] = last["wall_seconds"].to_numpy(float) / 3600
    if has_window_columns(table):
        tails = tail_table(table, tail).rename(columns={"hit_rate": "late_hit_rate", "hits": "late_hits", "mean_score": "late_mean_score",
                                                        "unique_fraction": "late_unique_fraction", "mean_length": "late_mean_length"})
        out = out.merge(tails.drop(columns=["molecules"]), on=["method", "seed"], how="left")
    order = {m: i for i, m in enumerate(methods)}
    out = out.sort_values(["method", "seed"], key=lambda s: s.map(lambda m: order.get(m, len(order))) if s.name == "method" else s)
    return out[[c for c in FINISHED_RUN_COLUMNS if c in out.columns]].reset_index(drop=True)


def format_finished_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """:func:`finished_runs` for reading: the hit rate in per cent, 3 significant digits elsewhere."""
    shown = runs.copy()
    if "late_hit_rate" in shown:
        shown["late_hit_rate"] = shown["late_hit_rate"].map(lambda v: f"{100 * v:.3g} %")
    for column in ("late_mean_score", "late_unique_fraction", "late_mean_length", "top10_reward", "top10_score", "top10_tanimoto", "hours"):
        if column in shown:
            shown[column] = shown[column].map(lambda v: f"{v:.3g}")
    return shown


def window_curves(table: pd.DataFrame) -> pd.DataFrame:
    """The rows with a non-empty window, ``hit_rate_plot`` added: the hit rate with a window without
    a hit drawn at ``1 / window_molecules`` (the lowest rate the window could show), for a log axis."""
    part = table[table["window_molecules"].fillna(0) > 0].copy()
    part["hit_rate_plot"] = np.maximum(part["hit_rate"].to_numpy(float), 1.0 / part["window_molecules"].to_numpy(float))
    return part


def format_summary(summary: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """:func:`summary_table` for reading: ``method``, ``seeds`` and one ``"mean ± std"`` column per
    metric (``± std`` left out with one seed), ``digits`` significant digits."""
    if not isinstance(digits, int) or digits < 1:
        raise ValueError(f"digits must be an integer >= 1, got {digits!r}")
    metrics = [c[: -len("_mean")] for c in summary.columns if c.endswith("_mean")]
    out = summary[["method", "seeds"]].copy()
    for metric in metrics:
        means, stds = summary[f"{metric}_mean"], summary.get(f"{metric}_std", pd.Series(np.nan, index=summary.index))
        out[metric] = [f"{m:.{digits}g}" + ("" if pd.isna(s) else f" ± {s:.{digits}g}") for m, s in zip(means, stds)]
    return out
