"""Figure style and the few plot types the notebooks share."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from gafn_lib.repro import paths as output_paths

#: One colour per method, stable across every figure.
METHOD_COLORS = {
    "GAFlowNet": "#d62728",
    "GFlowNet (TB)": "#1f77b4",
    "MCMC": "#2ca02c",
    "PPO": "#9467bd",
    "PPO + RND": "#8c564b",
    "GFlowNet": "#1f77b4",
    "MARS": "#2ca02c",
    "Random": "#7f7f7f",
}


def set_style() -> None:
    """A clean, paper-like style (seaborn's ticks theme, readable font sizes)."""
    import seaborn as sns

    sns.set_theme(style="ticks", context="notebook", font_scale=0.95)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "axes.spines.top": False, "axes.spines.right": False})


def save_figure(fig: plt.Figure, name: str | Path, figures_dir: str | Path | None = None) -> list[Path]:
    """Save ``fig`` as ``<figures_dir>/<name>.png`` and ``.pdf``, creating the folder the files go
    to; returns the two paths. ``figures_dir`` defaults to :func:`gafn_lib.repro.paths.figures_dir`
    (``build/figures`` outside ``make figures``, never the current folder). ``name`` may hold
    subfolders, or be a full path (then ``figures_dir`` is not used)."""
    out = Path(figures_dir) if figures_dir is not None else output_paths.figures_dir()
    files = [out / f"{name}.png", out / f"{name}.pdf"]
    files[0].parent.mkdir(parents=True, exist_ok=True)
    for path in files:
        # no creation date in the PDF, so a re-run that draws the same figure writes the same bytes
        metadata = {"CreationDate": None} if path.suffix == ".pdf" else None
        fig.savefig(path, bbox_inches="tight", metadata=metadata)
    return files


def mean_std(df: pd.DataFrame, x: str, y: str, by: Sequence[str]) -> pd.DataFrame:
    """Mean and standard deviation of ``y`` over seeds, per ``by`` groups and ``x``."""
    grouped = df.groupby([*by, x])[y].agg(["mean", "std", "count"]).reset_index()
    grouped["std"] = grouped["std"].fillna(0.0)
    return grouped


def plot_curves(
    df: pd.DataFrame,
    y: str,
    ax: plt.Axes,
    x: str = "trajectories",
    hue: str = "method",
    logy: bool = False,
    order: Iterable[str] | None = None,
    ylabel: str | None = None,
) -> None:
    """Mean ± std (shaded) of ``y`` against ``x`` over seeds, one line per ``hue`` value.

    On a log axis (``logy``) a band edge at or below 0 cannot be drawn: where ``mean − std ≤ 0`` the
    lower edge is ``mean² / (mean + std)``, the mirror image of the upper edge on the log scale. A log
    axis whose values are all equal (e.g. every run stuck at the same initial L1) gets the range
    [value / 3, value × 3] instead of matplotlib's zoom into float rounding.
    """
    stats = mean_std(df, x, y, [hue])
    labels = list(order) if order is not None else sorted(stats[hue].unique())
    curves = []  # (x, mean) per drawn label, to spot curves that hide each other
    for label in labels:
        part = stats[stats[hue] == label].sort_values(x)
        if part.empty:
            continue
        curves.append(part[[x, "mean"]].to_numpy(float))
        mean, std = part["mean"].to_numpy(float), part["std"].to_numpy(float)
        lower = mean - std
        if logy:
            with np.errstate(divide="ignore", invalid="ignore"):
                lower = np.where(lower > 0, lower, mean**2 / (mean + std))
        (line,) = ax.plot(part[x], mean, label=label, color=METHOD_COLORS.get(label), lw=1.8)
        ax.fill_between(part[x], lower, mean + std, color=line.get_color(), alpha=0.2, lw=0)
    if len(curves) > 1 and all(np.array_equal(c, curves[0]) for c in curves[1:]):
        # identical curves hide each other: only the last colour would show
        ax.text(0.5, 0.75, f"all {len(curves)} methods identical", transform=ax.transAxes, ha="center", va="bottom", fontsize=9, color="0.35")
    if logy:
        ax.set_yscale("log")
        values = stats["mean"].to_numpy(float)
        values = values[np.isfinite(values) & (values > 0)]
        if values.size and np.isclose(values.min(), values.max(), rtol=1e-6, atol=0):
            ax.set_ylim(values.min() / 3, values.max() * 3)
    ax.set_xlabel("visited states" if x == "trajectories" else x)
    ax.set_ylabel(ylabel or y)


def heatmap(p: np.ndarray, ax: plt.Axes, title: str, vmax: float | None = None, log_range: float | None = None) -> None:
    """A 2-D distribution over the grid (``p[i, j]`` for cell ``(i, j)``), origin at the bottom left.

    Linear colours from 0 to ``vmax`` by default. ``log_range=1e4`` draws a logarithmic colour scale
    from ``vmax / log_range`` to ``vmax`` instead (cells below it, and empty cells, in the lowest
    colour): on large grids the goals are a few pixels, and only a log scale shows where the rest of
    the mass goes.
    """
    from matplotlib.colors import LogNorm

    data = np.asarray(p, dtype=float).T
    top = float(vmax) if vmax is not None else float(data.max())
    if log_range is not None:
        if not log_range > 1:
            raise ValueError(f"log_range must be > 1, got {log_range!r}")
        if not top > 0:
            raise ValueError("heatmap with log_range needs a positive vmax (or a positive value in p)")
        floor = top / log_range
        im = ax.imshow(np.clip(data, floor, None), origin="lower", cmap="viridis", norm=LogNorm(vmin=floor, vmax=top), interpolation="nearest")
    else:
        im = ax.imshow(data, origin="lower", cmap="viridis", vmin=0, vmax=vmax, interpolation="nearest")
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    plt.colorbar(im, ax=ax, fraction=0.046, pad=0.04)


def goal_mass(
    table: pd.DataFrame,
    ax: plt.Axes,
    methods: Sequence[str],
    covered_at: float = 0.5,
    title: str | None = None,
) -> None:
    """Mass the final policy puts on each goal, relative to the target: one marker per seed.

    ``table`` has one row per (method, seed, goal) with columns ``method``, ``seed``, ``goal`` and
    ``ratio = π(goal) / (R(goal)/Z)`` (the exact terminal probability over the target's). A ratio
    of 1 is the target; a policy stuck on one of three goals shows ≈ 3 on it and ≈ 0 on the others.
    The dashed line at ``covered_at`` is the threshold of the ``modes_covered`` metric (a goal counts
    as covered when the policy gives it at least half its target mass).
    """
    missing = {"method", "seed", "goal", "ratio"} - set(table.columns)
    if missing:
        raise ValueError(f"goal_mass table lacks column(s) {sorted(missing)}")
    goals = list(dict.fromkeys(table["goal"]))
    width = 0.8 / max(len(methods), 1)
    for m, method in enumerate(methods):
        part = table[table["method"] == method]
        if part.empty:
            raise ValueError(f"goal_mass: no rows for method {method!r} (have {sorted(table['method'].unique())})")
        x = np.array([goals.index(g) for g in part["goal"]], float) - 0.4 + width * (m + 0.5)
        seeds = sorted(part["seed"].unique())
        jitter = np.array([seeds.index(s) for s in part["seed"]], float)
        jitter = (jitter - (len(seeds) - 1) / 2) * width / (len(seeds) + 1)
        ax.scatter(x + jitter, part["ratio"], color=METHOD_COLORS.get(method), label=method, s=28, zorder=3, edgecolor="white", linewidth=0.5)
    ax.axhline(1.0, color="0.3", lw=1, label="target")
    ax.axhline(covered_at, color="0.5", lw=1, ls="--", label=f"covered ({covered_at:g} × target)")
    ax.set_xticks(range(len(goals)), [str(g) for g in goals])
    ax.set_xlabel("goal (cell)")
    ax.set_ylabel("policy mass / target mass")
    ax.set_ylim(bottom=0)
    if title:
        ax.set_title(title)
