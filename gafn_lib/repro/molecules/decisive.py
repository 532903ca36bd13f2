"""The decisive run (issue 23): does the public release's configuration make a plain GFlowNet beat
random search on the paper's sparse reward?

The runs are :func:`gafn_lib.repro.molecules.configs.decisive_runs`: per seed, a GFlowNet in the
release's configuration (``MOL_PRESETS["release"]``, ``augment="none"``), a GFlowNet with our
defaults and uniform random search, each generating the same number of molecules. Each metric row
carries the *window* since the previous row (:mod:`gafn_lib.molecules.tracking`), so the curves
show what each sampler produces at that point of training, not what it has found so far.

The statistic. A learner beats random search if its sampler clears the reward threshold more
often. In the last ``tail`` share of a run (default: the last third of its molecules), a run's
*hits* are the molecules with score above the threshold: ``h = Σ_w hit_rate_w · n_w`` over the
windows ``w`` of that tail, out of ``n = Σ_w n_w``. For each seed the learner's ``h₁/n₁`` is compared
with random search's ``h₀/n₀`` (same seed) by the pooled two-proportion z statistic

    z = (p̂₁ − p̂₀) / √(p̂ (1 − p̂) (1/n₁ + 1/n₀)),   p̂ = (h₁ + h₀) / (n₁ + n₀),

treating the molecules of a window as independent draws of the sampler of that time (within a
window the policy changes little; repeats of one molecule count as separate draws, as they would
for any user of the sampler). ``z > 1.645`` (one-sided 5 %) in every seed is "beats random"; ``z <
−1.645`` in every seed "worse than random"; anything else is "inconclusive". With 2 seeds the verdict
is about these runs, not a population of seeds: the table gives each seed's numbers.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

#: One-sided 5 % critical value of the standard normal.
Z_CRITICAL = 1.6448536269514722
#: The window columns the decisive run reads (:data:`gafn_lib.molecules.tracking.WINDOW_COLUMNS`).
CURVE_COLUMNS = ("molecules_generated", "window_molecules", "hit_rate", "mean_score", "unique_fraction", "mean_length", "top10_reward", "n_modes")


def decisive_curves(runs: list[tuple[str, Any]], results_dir) -> pd.DataFrame:
    """The finished decisive runs' metric rows: ``method``, ``seed`` and :data:`CURVE_COLUMNS`
    (runs not finished yet are left out; :func:`gafn_lib.repro.molecules.load.split_complete`)."""
    from gafn_lib.repro.molecules.load import load_molecules, split_complete

    done, _ = split_complete(runs, results_dir)
    table = load_molecules(done, results_dir)
    missing = [c for c in CURVE_COLUMNS if c not in table.columns]
    if done and missing:
        raise ValueError(f"the stored runs lack the window columns {missing}: they were trained before the metrics had them; retrain them")
    return table[["method", "seed", *CURVE_COLUMNS]] if done else pd.DataFrame(columns=["method", "seed", *CURVE_COLUMNS])


#: Window columns :func:`tail_hits` averages (molecule-weighted) over the tail when the curves have them.
TAIL_AVERAGED = ("mean_score", "mean_length", "unique_fraction")


def tail_hits(curves: pd.DataFrame, tail: float = 1 / 3) -> pd.DataFrame:
    """Per ``method`` × ``seed``: ``molecules`` and ``hits`` in the last ``tail`` share of the run's
    molecules (whole windows whose start lies in it; the last non-empty window when no window
    starts there, as in a run with a few long windows), ``hit_rate`` = hits / molecules, and the
    molecule-weighted means over the same windows, Σ_w n_w·v_w / Σ_w n_w, of ``mean_score`` and,
    when the curves have them, ``mean_length`` (blocks per molecule: a sampler collapsed onto the
    smallest molecules shows ≈ 2) and ``unique_fraction`` (distinct molecules within each window:
    below 1 when the sampler repeats itself)."""
    if not 0 < tail <= 1:
        raise ValueError(f"tail must be in (0, 1], got {tail!r}")
    averaged = [c for c in TAIL_AVERAGED if c in curves.columns]
    rows = []
    for (method, seed), run in curves.groupby(["method", "seed"], sort=False):
        run = run.sort_values("molecules_generated")
        end = float(run["molecules_generated"].max())
        start = run["molecules_generated"] - run["window_molecules"]
        part = run[(start >= (1 - tail) * end - 1e-9) & (run["window_molecules"] > 0)]
        if part.empty:
            part = run[run["window_molecules"] > 0].tail(1)
        n = float(part["window_molecules"].sum())
        hits = float((part["hit_rate"] * part["window_molecules"]).sum())
        row = {"method": method, "seed": int(seed), "molecules": int(round(n)), "hits": int(round(hits)),
               "hit_rate": hits / n if n else math.nan}
        for column in averaged:
            row[column] = float((part[column] * part["window_molecules"]).sum() / n) if n else math.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=["method", "seed", "molecules", "hits", "hit_rate", *averaged])


def two_proportion_z(h1: float, n1: float, h0: float, n0: float) -> float:
    """Pooled two-proportion z statistic of ``h1/n1`` against ``h0/n0`` (0 when both are 0 or 1)."""
    if min(n1, n0) <= 0:
        raise ValueError(f"both samples need molecules, got n1={n1}, n0={n0}")
    pooled = (h1 + h0) / (n1 + n0)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    return 0.0 if spread == 0 else (h1 / n1 - h0 / n0) / spread


def against_random(hits: pd.DataFrame, random_label: str, methods: Sequence[str] | None = None) -> pd.DataFrame:
    """Each learner against random search, seed by seed (:func:`against_reference` with
    ``random_label`` as the reference): verdict ``beats random``, ``worse than random`` or
    ``inconclusive``; columns ``method``, ``seeds``, ``hit_rate`` and ``random_hit_rate`` (``a; b``
    per seed), ``mean_score`` and ``random_mean_score``, ``z`` (per seed) and ``verdict``."""
    return against_reference(hits, random_label, methods, name="random")


def against_reference(hits: pd.DataFrame, reference: str, methods: Sequence[str] | None = None, name: str | None = None) -> pd.DataFrame:
    """Each method's late hit rate against ``reference``'s, seed by seed: the pooled two-proportion
    z (:func:`two_proportion_z`, molecules as independent draws) of seed ``s`` of the method
    against seed ``s`` of the reference, and a verdict over the seeds both have: ``beats <name>``
    (z > :data:`Z_CRITICAL`, one-sided 5 %, in *every* seed), ``worse than <name>`` (z <
    −:data:`Z_CRITICAL` in every seed) or ``inconclusive``. ``name`` defaults to ``reference``.

    Columns: ``method``, ``seeds``, ``hit_rate`` and ``<name>_hit_rate`` (``rate (hits/molecules)``
    per seed, ``;``-separated), ``mean_score`` and ``<name>_mean_score``, ``z`` and ``verdict``.
    ``ValueError`` when the reference has no finished run."""
    name = name or reference
    base = hits[hits["method"] == reference].set_index("seed")
    if base.empty:
        raise ValueError(f"no finished run of {reference!r} to compare with")
    rows = []
    for method in methods or [m for m in hits["method"].unique() if m != reference]:
        if method == reference:
            continue
        mine = hits[hits["method"] == method].set_index("seed")
        seeds = sorted(s for s in set(mine.index) & set(base.index) if mine.at[s, "molecules"] > 0 and base.at[s, "molecules"] > 0)
        if not seeds:
            continue
        zs = [two_proportion_z(mine.at[s, "hits"], mine.at[s, "molecules"], base.at[s, "hits"], base.at[s, "molecules"]) for s in seeds]
        verdict = (f"beats {name}" if all(z > Z_CRITICAL for z in zs) else
                   f"worse than {name}" if all(z < -Z_CRITICAL for z in zs) else "inconclusive")
        rows.append({
            "method": method, "seeds": ", ".join(map(str, seeds)),
            "hit_rate": "; ".join(f"{mine.at[s, 'hit_rate']:.4f} ({mine.at[s, 'hits']}/{mine.at[s, 'molecules']})" for s in seeds),
            f"{name}_hit_rate": "; ".join(f"{base.at[s, 'hit_rate']:.4f} ({base.at[s, 'hits']}/{base.at[s, 'molecules']})" for s in seeds),
            "mean_score": "; ".join(f"{mine.at[s, 'mean_score']:.2f}" for s in seeds),
            f"{name}_mean_score": "; ".join(f"{base.at[s, 'mean_score']:.2f}" for s in seeds),
            "z": "; ".join(f"{z:+.1f}" for z in zs), "verdict": verdict,
        })
    return pd.DataFrame(rows)


def plot_decisive(curves: pd.DataFrame, title: str):
    """Panels over molecules generated, one colour per method, one line style per seed:

    - the cumulative number of hits, Σ_windows hit_rate·window_molecules (molecules with score
      above the threshold, repeats included: its slope is the on-policy hit rate, so a learner that
      beats random search pulls away from it, while the per-window rate of a few hits is mostly noise);
    - the window's mean proxy score;
    - when the curves have ``n_modes``: the distinct molecules with score > 7.5 found so far (the
      paper's modes), where a sampler whose hits are mostly repeats does not pull away.

    Returns the figure."""
    import matplotlib.pyplot as plt

    modes = "n_modes" in curves.columns and curves["n_modes"].notna().any()
    fig, axes = plt.subplots(1, 3 if modes else 2, figsize=(16 if modes else 11, 4), constrained_layout=True)
    colours = dict(zip(curves["method"].unique(), plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    styles = ["-", "--", ":", "-."]
    seeds = sorted(curves["seed"].unique())
    for (method, seed), run in curves.groupby(["method", "seed"], sort=False):
        run = run.sort_values("molecules_generated")
        run = run[run["window_molecules"] > 0]
        style = dict(linestyle=styles[seeds.index(seed) % len(styles)], color=colours[method], label=f"{method}, seed {seed}")
        hits = (run["hit_rate"] * run["window_molecules"]).cumsum()
        axes[0].plot(run["molecules_generated"], hits, **style)
        axes[1].plot(run["molecules_generated"], run["mean_score"], **style)
        if modes:
            axes[2].plot(run["molecules_generated"], run["n_modes"], **style)
    axes[0].set_ylabel("molecules with score > threshold\n(cumulative, repeats included)")
    axes[1].set_ylabel("mean proxy score of the window")
    if modes:
        axes[2].set_ylabel("distinct molecules with score > 7.5\n(modes, cumulative)")
    for ax in axes:
        ax.set_xlabel("molecules generated")
        ax.grid(alpha=0.3)
    axes[-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(title, fontsize=10)
    return fig


#: The command that writes the decisive run's report (tables and figure) into the project.
REPORT_COMMAND = ("python -m gafn_lib.repro.mol_experiments decisive, then "
                  "GAFN_OUTPUT_DIR=$PWD python -m gafn_lib.repro.mol_experiments decisive --report (from the project root)")
#: The report's tables (:func:`gafn_lib.repro.mol_experiments.report_decisive`), by key.
REPORT_TABLES = {"curves": "decisive_curves.csv", "tail_hits": "decisive_tail_hits.csv", "verdicts": "decisive_verdicts.csv"}
#: Tables the report writes when their runs exist: the release GAFlowNets against the release
#: GFlowNets, one row per pair that ran (column ``reference``).
OPTIONAL_REPORT_TABLES = {"gafn_vs_gfn": "decisive_gafn_vs_gfn.csv"}
#: The report's figure (its stem; ``.png`` and ``.pdf`` in the long profile's figure folder).
REPORT_FIGURE = "molecules_decisive"


def report_dir(results_dir) -> Path:
    """Where the report's tables are: ``<results_dir>/long/06_molecule_generation`` (not created)."""
    return Path(results_dir) / "long" / "06_molecule_generation"


def read_report(results_dir) -> dict[str, pd.DataFrame] | None:
    """The decisive run's report tables under ``results_dir`` (:func:`report_dir`) as
    ``{"curves", "tail_hits", "verdicts"}`` → table (and ``"gafn_vs_gfn"`` when the report has it:
    :data:`OPTIONAL_REPORT_TABLES`), or ``None`` when any of the three is missing (the report has
    not been written yet: :data:`REPORT_COMMAND`)."""
    folder = report_dir(results_dir)
    paths = {key: folder / name for key, name in REPORT_TABLES.items()}
    if not all(path.exists() for path in paths.values()):
        return None
    report = {key: pd.read_csv(path) for key, path in paths.items()}
    for key, name in OPTIONAL_REPORT_TABLES.items():
        if (folder / name).exists():
            report[key] = pd.read_csv(folder / name)
    return report
