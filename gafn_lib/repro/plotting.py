"""Figure style and the few plot types the notebooks share.

Every curve figure follows the same conventions, stated in its legend's title (:data:`BAND_NOTE`):

- **line**: the mean over seeds; on a logarithmic axis the *geometric* mean (the arithmetic mean of
  a quantity spread over decades sits near its worst seed);
- **band**: the range of the seeds (min–max), so it never leaves the values the seeds reached: it
  cannot dip below every seed on a log axis, nor go above the number of goals or below 0 on a modes
  axis (:func:`seed_band`);
- lines that coincide are drawn with different dash patterns and markers, and a note in a free
  corner of the panel says which ones overlap (:func:`plot_curves`);
- the figure's title carries a second line with the grid size H, the number of seeds and the
  training steps (:func:`scope_line`, :func:`finish_figure`), and the legend sits below the panels,
  outside the data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

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
#: Colours for labels without one in :data:`METHOD_COLORS` (ablation variants), in order: none of
#: them is GAFlowNet's red or TB's blue, which keep their meaning in every figure.
EXTRA_COLORS = ("#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
#: (dash pattern, marker) of the i-th line of a panel: lines that coincide stay distinguishable.
LINE_STYLES = (("-", "o"), ((0, (5, 2)), "s"), ((0, (6, 2, 1, 2)), "^"), ((0, (1.5, 1.5)), "D"), ((0, (4, 1, 1, 1, 1, 1)), "v"), ((0, (8, 3)), "P"))
#: The two band kinds of :func:`seed_band`.
BANDS = ("minmax", "std")
#: What the lines and bands of :func:`plot_curves` show (its default ``band="minmax"``): the title
#: of the legend :func:`finish_figure` adds.
BAND_NOTE = "line: mean over seeds (geometric mean on log axes) · band: min–max over seeds"


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


# --------------------------------------------------------------------------- titles and legends


def thousands(x: float, _pos: Any = None) -> str:
    """Axis tick label: ``320000 → "320k"``, ``2500 → "2.5k"``, ``0 → "0"`` (long tick labels such
    as ``300000`` run into each other on narrow panels)."""
    return f"{x / 1000:g}k" if abs(x) >= 1000 else f"{x:g}"


def seeds_text(seeds: int | Sequence[int]) -> str:
    """``[0, 1, 2] → "n = 3 seeds (0–2)"``, ``[0, 4] → "n = 2 seeds (0, 4)"``, ``[3] → "n = 1 seed
    (3)"``, ``5 → "n = 5 seeds"``."""
    if isinstance(seeds, (int, np.integer)):
        n, which = int(seeds), ""
    else:
        values = sorted(int(s) for s in seeds)
        n = len(values)
        if n == 0:
            raise ValueError("no seeds")
        contiguous = n > 2 and values == list(range(values[0], values[-1] + 1))
        which = f" ({values[0]}–{values[-1]})" if contiguous else f" ({', '.join(map(str, values))})"
    return f"n = {n} seed{'s' if n != 1 else ''}{which}"


def scope_line(seeds: int | Sequence[int], steps: int | str, *, height: int | Sequence[int] | None = None, space: str | None = None) -> str:
    """The line every figure's title carries: grid size, seeds and training steps, e.g. ``"H = 32 ·
    n = 3 seeds (0–2) · 20,000 steps"``.

    Args:
        seeds: the seeds behind the figure (or their number).
        steps: training steps per run (``int``, printed with thousands separators), or a text for
            other budgets (``"30,000 steps (120,000 molecules per run)"``).
        height: the grid size H, or several (``[8, 16, 32]`` → ``"H = 8, 16, 32"``).
        space: what replaces H outside the grid (``"bit strings, L = 6"``); with ``height`` both show.

    Raises:
        ValueError: when neither ``height`` nor ``space`` says where the runs were.
    """
    parts = []
    if height is not None:
        heights = [height] if isinstance(height, (int, np.integer)) else list(height)
        parts.append("H = " + ", ".join(str(int(h)) for h in heights))
    if space:
        parts.append(space)
    if not parts:
        raise ValueError("scope_line needs the grid size (height=) or a description of the space (space=)")
    parts.append(seeds_text(seeds))
    parts.append(f"{int(steps):,} steps" if isinstance(steps, (int, np.integer)) else str(steps))
    return " · ".join(parts)


def figure_legend(fig: plt.Figure, title: str | None = BAND_NOTE, ncol: int | None = None, fontsize: float = 9) -> Any:
    """One legend for the whole figure, below the panels (outside every axes, so it hides no data):
    the labelled artists of all axes, each label once, in drawing order. Axes legends are removed.
    Returns the legend (``None`` when nothing is labelled)."""
    handles, labels = [], []
    for ax in fig.axes:
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    if not labels:
        return None
    ncol = ncol or min(len(labels), 6)
    return fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=ncol, frameon=False, fontsize=fontsize,
                      title=title, title_fontsize=fontsize)


def finish_figure(
    fig: plt.Figure,
    title: str,
    seeds: int | Sequence[int],
    steps: int | str,
    *,
    height: int | Sequence[int] | None = None,
    space: str | None = None,
    legend: bool = True,
    legend_title: str | None = BAND_NOTE,
    ncol: int | None = None,
) -> None:
    """Title (``title`` over :func:`scope_line`), layout and the figure legend (:func:`figure_legend`,
    below the panels, titled ``legend_title``), in that order. A figure with a layout engine
    (``layout="constrained"``) keeps it; others get ``tight_layout``."""
    fig.suptitle(f"{title}\n{scope_line(seeds, steps, height=height, space=space)}", fontsize=11)
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    if legend:
        figure_legend(fig, title=legend_title, ncol=ncol)


# --------------------------------------------------------------------------- seed bands


def seed_band(
    values: Iterable[float], *, log: bool = False, band: str = "minmax", bounds: tuple[float | None, float | None] | None = None
) -> tuple[float, float, float]:
    """``(centre, low, high)`` of one point of a curve over seeds.

    The centre is the mean, or on a log axis (``log``) the geometric mean ``exp(mean(log v))`` (a
    log axis cannot show values ``≤ 0``: they are left out there). The band is the seeds' range
    (``band="minmax"``) or one standard deviation around the centre (``band="std"``, in log space
    when ``log``), never wider than the seeds' range: a band does not claim values no seed reached
    (below every seed on a log axis, above the number of goals on a modes axis). ``bounds=(lo, hi)``
    clips all three further (either may be ``None``). NaN (no finite value) when nothing is left.
    """
    if band not in BANDS:
        raise ValueError(f"band must be one of {BANDS}, got {band!r}")
    v = np.asarray(list(values), dtype=float)
    v = v[np.isfinite(v)]
    if log:
        v = v[v > 0]
    if v.size == 0:
        return (np.nan, np.nan, np.nan)
    lowest, highest = float(v.min()), float(v.max())
    if log:
        logs = np.log(v)
        centre = float(np.exp(logs.mean()))
        spread = float(logs.std(ddof=1)) if v.size > 1 else 0.0
        low, high = float(np.exp(logs.mean() - spread)), float(np.exp(logs.mean() + spread))
    else:
        centre = float(v.mean())
        spread = float(v.std(ddof=1)) if v.size > 1 else 0.0
        low, high = centre - spread, centre + spread
    if band == "minmax":
        low, high = lowest, highest
    low, high = max(low, lowest), min(high, highest)
    if bounds is not None:
        lo, hi = (-np.inf if bounds[0] is None else bounds[0]), (np.inf if bounds[1] is None else bounds[1])
        low, centre, high = (float(min(max(value, lo), hi)) for value in (low, centre, high))
    return centre, low, high


def band_stats(
    df: pd.DataFrame, x: str, y: str, by: Sequence[str], *, log: bool = False, band: str = "minmax", bounds: tuple[float | None, float | None] | None = None
) -> pd.DataFrame:
    """:func:`seed_band` of ``y`` per ``by`` groups and ``x``: columns ``*by, x, centre, low, high,
    n`` (``n``: the seeds with a value drawn at that point)."""
    rows = []
    for key, values in df.groupby([*by, x], sort=True)[y]:
        key = key if isinstance(key, tuple) else (key,)
        centre, low, high = seed_band(values, log=log, band=band, bounds=bounds)
        finite = values[np.isfinite(values.to_numpy(float))]
        n = int((finite > 0).sum()) if log else int(finite.size)
        rows.append((*key, centre, low, high, n))
    return pd.DataFrame(rows, columns=[*by, x, "centre", "low", "high", "n"])


# --------------------------------------------------------------------------- curves


def method_color(label: str, fallback_index: int = 0) -> str:
    """The colour of ``label``: :data:`METHOD_COLORS`; a variant naming GAFlowNet or ending in
    ``(TB)`` gets GAFlowNet's red or TB's blue; anything else ``EXTRA_COLORS[fallback_index]``."""
    if label in METHOD_COLORS:
        return METHOD_COLORS[label]
    if "GAFlowNet" in label:
        return METHOD_COLORS["GAFlowNet"]
    if label.endswith("(TB)"):
        return METHOD_COLORS["GFlowNet (TB)"]
    return EXTRA_COLORS[fallback_index % len(EXTRA_COLORS)]


def label_colors(labels: Sequence[str], colors: Mapping[str, str] | None = None) -> dict[str, str]:
    """A colour per label: ``colors`` first, then :func:`method_color`, the labels it does not know
    taking :data:`EXTRA_COLORS` in turn (so two unknown labels never share a colour)."""
    out, n_extra = {}, 0
    for label in labels:
        if colors and label in colors:
            out[label] = colors[label]
            continue
        out[label] = method_color(label, n_extra)
        n_extra += method_color(label, 0) != method_color(label, 1)  # it took a fallback colour
    return out


def overlap_notes(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], rtol: float = 1e-9) -> list[str]:
    """Which of ``curves`` (``label → (x, y)``) hide each other: ``"all 3 methods identical"`` (two:
    ``"both methods identical"``);
    else ``"A = B (overlap)"`` for every group of identical curves, and ``"A = B from x ≥ 4.8k"``
    for two curves (or groups) that coincide over at least their second half but not before."""
    labels = list(curves)
    if len(labels) < 2:
        return []

    def same(a: str, b: str) -> np.ndarray | None:
        (xa, ya), (xb, yb) = curves[a], curves[b]
        if len(xa) != len(xb) or not np.array_equal(xa, xb):
            return None
        return np.isclose(ya, yb, rtol=rtol, atol=0) | (np.isnan(ya) & np.isnan(yb))

    def identical(a: str, b: str) -> bool:
        eq = same(a, b)
        return eq is not None and bool(eq.all())

    if all(identical(labels[0], other) for other in labels[1:]):
        return ["both methods identical" if len(labels) == 2 else f"all {len(labels)} methods identical"]
    notes, units, grouped = [], [], set()  # units: (name, a member) of each group of identical curves
    for i, a in enumerate(labels):
        if a in grouped:
            continue
        group = [a] + [b for b in labels[i + 1:] if b not in grouped and identical(a, b)]
        grouped.update(group)
        units.append((" = ".join(group), a))
        if len(group) > 1:
            notes.append(" = ".join(group) + " (overlap)")
    for i, (name_a, a) in enumerate(units):
        for name_b, b in units[i + 1:]:
            eq = same(a, b)
            if eq is None or not eq[-1]:
                continue
            start = len(eq) - int(np.argmin(eq[::-1]))  # where the final run of equal points begins
            if len(eq) - start >= len(eq) / 2:
                notes.append(f"{name_a} = {name_b} from x ≥ {thousands(curves[a][0][start])}")
    return notes


def _free_corner(ax: plt.Axes, bands: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], size: tuple[float, float] = (0.45, 0.22)) -> tuple[str, int]:
    """The corner of ``ax`` (``"upper left"``, ``"upper right"``, ``"lower left"``, ``"lower right"``)
    that the least data covers, and how much covers it (sampled points; 0: none). ``bands`` are
    ``(x, low, high)`` in data coordinates (a line is a band with ``low == high``), compared with
    each corner's box of ``size`` (axes fractions)."""
    ax.get_xlim(), ax.get_ylim()  # settle the autoscaled limits before using the transforms
    to_axes = ax.transData + ax.transAxes.inverted()
    grid = np.linspace(0, 1, 201)
    cover = {name: 0 for name in ("upper left", "upper right", "lower left", "lower right")}
    for x, low, high in bands:
        ok = np.isfinite(x) & np.isfinite(low) & np.isfinite(high)
        if ok.sum() == 0:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            lo = to_axes.transform(np.column_stack([x[ok], low[ok]]))
            hi = to_axes.transform(np.column_stack([x[ok], high[ok]]))
        order = np.argsort(lo[:, 0])
        ax_x, lo_y, hi_y = lo[order, 0], lo[order, 1], hi[order, 1]
        inside = (grid >= ax_x.min()) & (grid <= ax_x.max())
        y0, y1 = np.interp(grid, ax_x, np.minimum(lo_y, hi_y)), np.interp(grid, ax_x, np.maximum(lo_y, hi_y))
        for name in cover:
            bx = (grid <= size[0]) if "left" in name else (grid >= 1 - size[0])
            by0, by1 = (1 - size[1], 1.0) if "upper" in name else (0.0, size[1])
            cover[name] += int((inside & bx & (y1 >= by0) & (y0 <= by1)).sum())
    corner = min(cover, key=lambda name: (cover[name], list(cover).index(name)))
    return corner, cover[corner]


def note_in_free_corner(ax: plt.Axes, text: str, bands: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]] = ()) -> Any:
    """Write ``text`` (small, grey, on a white box) in a corner of ``ax`` that no data of ``bands``
    covers (:func:`_free_corner`, with the text's own size); when every corner holds data, or the
    text is wider than the panel, under the x axis label instead. Returns the text artist."""
    style = dict(fontsize=7.5, color="0.25", zorder=10, bbox=dict(boxstyle="round,pad=0.25", facecolor="white", edgecolor="0.8", alpha=0.85))
    probe = ax.text(0, 0, text, transform=ax.transAxes, **style)
    extent = probe.get_window_extent(ax.figure.canvas.get_renderer()).transformed(ax.transAxes.inverted())
    probe.remove()
    size = (extent.width + 0.04, extent.height + 0.05)
    corner, covered = _free_corner(ax, bands, size)
    if covered == 0 and size[0] <= 1:
        x, ha = (0.02, "left") if "left" in corner else (0.98, "right")
        y, va = (0.97, "top") if "upper" in corner else (0.03, "bottom")
        return ax.text(x, y, text, transform=ax.transAxes, ha=ha, va=va, **style)
    style.pop("bbox")
    return ax.annotate(text, xy=(0.5, 0), xycoords=ax.xaxis.label, xytext=(0, -3), textcoords="offset points", ha="center", va="top", **style)


def plot_curves(
    df: pd.DataFrame,
    y: str,
    ax: plt.Axes,
    x: str = "trajectories",
    hue: str = "method",
    logy: bool = False,
    order: Iterable[str] | None = None,
    ylabel: str | None = None,
    band: str = "minmax",
    bounds: tuple[float | None, float | None] | None = None,
    colors: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One line per ``hue`` value: ``y`` against ``x`` over seeds (:func:`seed_band`: the mean, the
    geometric mean on a log axis, and the seeds' min–max band, or ``band="std"``, clipped to
    ``bounds``). Returns the drawn statistics (:func:`band_stats`).

    The i-th line gets the i-th dash pattern and marker of :data:`LINE_STYLES` (markers staggered
    along x), so lines that coincide remain visible; curves that coincide entirely, or over their
    second half, are named in a note in the panel's emptiest corner (:func:`overlap_notes`). Colours:
    ``colors``, else :func:`method_color`. The x axis gets :func:`thousands` ticks. A log axis
    whose values are all equal (e.g. every run stuck at the same initial L1) gets the range
    [value / 3, value × 3] instead of matplotlib's zoom into float rounding.
    """
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    stats = band_stats(df, x, y, [hue], log=logy, band=band, bounds=bounds)
    labels = list(order) if order is not None else sorted(stats[hue].unique())
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    bands = []
    palette = label_colors(labels, colors)
    for i, label in enumerate(labels):
        part = stats[stats[hue] == label].sort_values(x)
        part = part[np.isfinite(part["centre"].to_numpy(float))]
        if part.empty:
            continue
        xs, centre = part[x].to_numpy(float), part["centre"].to_numpy(float)
        low, high = part["low"].to_numpy(float), part["high"].to_numpy(float)
        curves[label] = (xs, centre)
        bands += [(xs, low, high), (xs, centre, centre)]
        color = palette[label]
        dashes, marker = LINE_STYLES[i % len(LINE_STYLES)]
        step = max(1, len(xs) // 5)
        ax.plot(xs, centre, label=label, color=color, lw=1.7, ls=dashes, marker=marker, ms=4, markevery=(i % step, step), zorder=3)
        ax.fill_between(xs, low, high, color=color, alpha=0.15, lw=0, zorder=1)
    if logy:
        ax.set_yscale("log")
        values = stats["centre"].to_numpy(float)
        values = values[np.isfinite(values) & (values > 0)]
        if values.size and np.isclose(values.min(), values.max(), rtol=1e-6, atol=0):
            ax.set_ylim(values.min() / 3, values.max() * 3)
    ax.set_xlabel("visited states" if x == "trajectories" else x)
    ax.set_ylabel(ylabel or y)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.xaxis.set_major_formatter(FuncFormatter(thousands))
    notes = overlap_notes(curves)
    if notes:
        note_in_free_corner(ax, "\n".join(notes), bands)
    return stats


def sweep_plot(
    table: pd.DataFrame, x: str, y: str, ax: plt.Axes, *, logx: bool = True, logy: bool = True, label: str = "GAFlowNet", color: str | None = None
) -> pd.DataFrame:
    """Final values against a swept parameter ``x`` (e.g. η): one dot per seed, the (geometric, on a
    log axis) mean as a marker and line, and the seeds' min–max as an error bar (:func:`seed_band`).
    A log x axis (``logx``) labels its major ticks only (labels of minor ticks run together on a
    short range). Returns the statistics drawn."""
    from matplotlib.ticker import NullFormatter

    color = color or method_color(label)
    stats = band_stats(table.assign(_label=label), x, y, ["_label"], log=logy).sort_values(x)
    centre = stats["centre"].to_numpy(float)
    err = np.vstack([centre - stats["low"].to_numpy(float), stats["high"].to_numpy(float) - centre])
    ax.errorbar(stats[x], centre, yerr=err, marker="o", color=color, label=label, capsize=3, zorder=3)
    ax.scatter(table[x], table[y], s=10, color=color, alpha=0.45, zorder=2, label=f"{label}: seeds")
    if logy:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(x)
    return stats


def reference_band(ax: plt.Axes, values: Iterable[float], *, logy: bool = True, label: str = "GFlowNet (TB)", color: str | None = None) -> tuple[float, float, float]:
    """A horizontal reference across ``ax``: the (geometric) mean of ``values`` as a dashed line and
    their min–max as a light band (:func:`seed_band`). Returns ``(centre, low, high)``."""
    color = color or method_color(label)
    centre, low, high = seed_band(values, log=logy)
    ax.axhline(centre, color=color, ls="--", label=label, zorder=2)
    ax.axhspan(low, high, color=color, alpha=0.12, lw=0, zorder=1)
    return centre, low, high


# --------------------------------------------------------------------------- heat maps


#: What the goal markers of :func:`mark_cells` mean, for a figure's note.
GOAL_MARKER_NOTE = "rings: the goal cells; a cell too small to see\nis shown inside its ring, in its own colour"


def mark_cells(ax: plt.Axes, cells: Iterable[Sequence[int]], n_cells: int, image: Any = None, label: str | None = "goal") -> None:
    """Ring ``cells`` (``(i, j)``, drawn at x = i, y = j as in :func:`heatmap`) on a heat map of
    ``n_cells`` cells per side: a white ring over a black one, visible on every colour, at least
    ~10 points across however small a cell is (a goal on a 128 × 128 grid is under one pixel).
    With the heat map's ``image`` (what ``imshow`` returned), a cell smaller than its ring's
    interior is magnified: the interior is filled with the cell's colour, so the mass on each goal
    stays readable at any H (:data:`GOAL_MARKER_NOTE`)."""
    cells = np.asarray(list(cells), dtype=float).reshape(-1, 2)
    if cells.size == 0:
        return
    fig = ax.figure
    cell_points = ax.get_position().width * fig.get_figwidth() * 72 / max(n_cells, 1)
    diameter = max(10.0, 1.6 * cell_points)  # a ring around the whole cell (its diagonal is 1.41 cells)
    if image is not None and cell_points < 0.6 * diameter:
        shown = np.asarray(image.get_array(), dtype=float)
        colours = image.cmap(image.norm(shown[cells[:, 1].astype(int), cells[:, 0].astype(int)]))
        ax.scatter(cells[:, 0], cells[:, 1], s=(0.75 * diameter) ** 2, c=colours, marker="o", linewidths=0, zorder=3, clip_on=False)
    ax.scatter(cells[:, 0], cells[:, 1], s=diameter**2, facecolors="none", edgecolors="black", linewidths=2.4, zorder=4, clip_on=False)
    ax.scatter(cells[:, 0], cells[:, 1], s=diameter**2, facecolors="none", edgecolors="white", linewidths=1.1, zorder=5, clip_on=False, label=label)


def heatmap(
    p: np.ndarray,
    ax: plt.Axes,
    title: str,
    vmax: float | None = None,
    log_range: float | None = None,
    goals: Iterable[Sequence[int]] | None = None,
    colorbar: bool = True,
) -> Any:
    """A 2-D distribution over the grid (``p[i, j]`` for cell ``(i, j)``), origin at the bottom left.

    Linear colours from 0 to ``vmax`` by default. ``log_range=1e4`` draws a logarithmic colour scale
    from ``vmax / log_range`` to ``vmax`` instead (cells below it, and empty cells, in the lowest
    colour): on large grids the goals are a few pixels, and only a log scale shows where the rest of
    the mass goes. ``goals`` are ringed, and magnified where a cell is too small to see
    (:func:`mark_cells`). Returns the image (for a shared
    colour bar: ``colorbar=False``).
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
    if goals is not None:
        mark_cells(ax, goals, max(data.shape), image=im)
    if colorbar:
        plt.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return im


def distribution_grid(
    target: np.ndarray,
    rows: Sequence[tuple[str, Sequence[np.ndarray]]],
    column_titles: Sequence[str],
    *,
    vmax: float | None = None,
    log_range: float | None = None,
    goals: Iterable[Sequence[int]] | None = None,
    panel_size: float = 2.6,
) -> plt.Figure:
    """Heat maps of the target and of each run's distribution: the target once, top left (it is the
    same for every seed); then one row per ``rows`` entry (``(row label, [distribution per
    column])``, e.g. one row per seed) under ``column_titles``, the row label on the left of each
    row. One colour bar for all panels (they share the scale), goals ringed in every panel
    (:func:`mark_cells`, explained under the target)."""
    goals = [tuple(g) for g in goals] if goals is not None else None
    n_rows, n_cols = len(rows), len(column_titles) + 1
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(panel_size * n_cols + 0.8, panel_size * n_rows + 0.3), squeeze=False, layout="constrained")
    fig.get_layout_engine().set(wspace=0.06, hspace=0.06)  # room between panels for the rings of corner goals
    target = np.asarray(target, dtype=float)
    top = vmax if vmax is not None else float(target.max() / target.sum())
    im = heatmap(target / target.sum(), axes[0, 0], "target R(x)/Z\n(same for every seed)", vmax=top, log_range=log_range, goals=goals, colorbar=False)
    for ax in axes[1:, 0]:
        ax.axis("off")
    if goals is not None:  # what the rings mean: under the target, or in its title on a single row
        if n_rows > 1:
            axes[1, 0].text(0.5, 0.95, GOAL_MARKER_NOTE, transform=axes[1, 0].transAxes, ha="center", va="top", fontsize=9, color="0.25")
        else:
            axes[0, 0].set_xlabel(GOAL_MARKER_NOTE, fontsize=8)
    for r, (row_label, panels) in enumerate(rows):
        if len(panels) != len(column_titles):
            raise ValueError(f"row {row_label!r} has {len(panels)} panels for {len(column_titles)} columns")
        for c, data in enumerate(panels, start=1):
            data = np.asarray(data, dtype=float)
            heatmap(data / data.sum(), axes[r, c], column_titles[c - 1] if r == 0 else "", vmax=top, log_range=log_range, goals=goals, colorbar=False)
        axes[r, 1].set_ylabel(row_label, fontsize=11)
    scale = f"log scale, {log_range:g}× range" if log_range else "linear scale"
    fig.colorbar(im, ax=axes[:, 1:].ravel().tolist(), shrink=min(0.9, 1.8 / n_rows), label=f"probability ({scale})")
    return fig


# --------------------------------------------------------------------------- goal mass


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
    as covered when the policy gives it at least half its target mass). Markers at 0 are drawn whole
    (not cut by the axis).
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
        ax.scatter(x + jitter, part["ratio"], color=method_color(method), label=method, s=28, zorder=3, edgecolor="white", linewidth=0.5,
                   marker=LINE_STYLES[m % len(LINE_STYLES)][1], clip_on=False)
    ax.axhline(1.0, color="0.3", lw=1, label="target")
    ax.axhline(covered_at, color="0.5", lw=1, ls="--", label=f"covered ({covered_at:g} × target)")
    ax.set_xticks(range(len(goals)), [str(g) for g in goals])
    ax.set_xlabel("goal (cell)")
    ax.set_ylabel("policy mass / target mass")
    ax.set_ylim(bottom=0)
    if title:
        ax.set_title(title)
