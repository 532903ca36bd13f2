"""Plot helpers shared by the notebooks: curves on log axes and heat maps on a log colour scale."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import LogNorm

from gafn_lib.repro import plotting


def _runs(values_by_seed: dict[int, list[float]], method: str = "GAFlowNet") -> pd.DataFrame:
    rows = [{"method": method, "seed": s, "trajectories": 16 * (i + 1), "l1": v} for s, vs in values_by_seed.items() for i, v in enumerate(vs)]
    return pd.DataFrame(rows)


def _band(ax: plt.Axes, i: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper edge of the i-th band (fill_between) of ``ax``, point by point."""
    vertices = ax.collections[i].get_paths()[0].vertices
    xs = np.unique(vertices[:, 0])
    return (np.array([vertices[vertices[:, 0] == x, 1].min() for x in xs]), np.array([vertices[vertices[:, 0] == x, 1].max() for x in xs]))


def test_log_band_stays_within_the_seeds_where_mean_minus_std_would_go_below_them():
    """Issue 24: mean ± std on a log axis dipped decades below every seed (quick 01, H = 8)."""
    fig, ax = plt.subplots()
    values = {0: [1e-3, 2e-3, 4e-3], 1: [1e-5, 3e-5, 1e-4], 2: [2e-5, 1e-5, 2e-4]}  # std > mean at every point
    df = _runs(values)
    stats = plotting.plot_curves(df, "l1", ax, logy=True)
    low, high = _band(ax)
    per_point = np.array(list(values.values()))
    assert (low > 0).all()
    assert np.allclose(low, per_point.min(0)) and np.allclose(high, per_point.max(0))
    assert np.allclose(stats["centre"], np.exp(np.log(per_point).mean(0)))  # the geometric mean
    assert ((stats["centre"] >= stats["low"]) & (stats["centre"] <= stats["high"])).all()
    plt.close(fig)


@pytest.mark.parametrize("band", plotting.BANDS)
@pytest.mark.parametrize("log", [True, False])
def test_every_band_lies_within_the_seeds(band, log):
    rng = np.random.default_rng(0)
    for _ in range(200):
        v = np.exp(rng.normal(0, 3, size=rng.integers(1, 7)))
        centre, low, high = plotting.seed_band(v, log=log, band=band)
        assert v.min() <= low <= centre <= high <= v.max()
    log_std = plotting.seed_band([1.0, 100.0, 10.0], log=True, band="std")
    assert np.isclose(log_std[0], 10.0) and np.isclose(log_std[1], 10 ** (1 - 1.0)) and np.isclose(log_std[2], 100.0)  # ± one std of the logs


def test_log_band_ignores_values_a_log_axis_cannot_show():
    assert plotting.seed_band([0.0, 1e-3, 1e-1, float("nan")], log=True) == pytest.approx((1e-2, 1e-3, 1e-1))
    assert all(np.isnan(plotting.seed_band([0.0, -1.0], log=True)))
    with pytest.raises(ValueError, match="band must be one of"):
        plotting.seed_band([1.0], band="sem")


def test_modes_band_stays_within_zero_and_the_number_of_modes():
    """Issue 24: bands of 4.5 modes of 4 and below 0 (mean ± std of counts)."""
    n_modes = 4
    fig, (a, b) = plt.subplots(1, 2)
    df = _runs({0: [0, 4, 4, 4], 1: [0, 0, 4, 4], 2: [1, 4, 0, 4], 3: [0, 4, 4, 3]}).rename(columns={"l1": "modes_covered"})
    plotting.plot_curves(df, "modes_covered", a)
    low, high = _band(a)
    assert (low >= 0).all() and (high <= n_modes).all()
    assert list(low) == [0, 0, 0, 3] and list(high) == [1, 4, 4, 4]  # the seeds' range
    mean = df.groupby("trajectories")["modes_covered"].mean().to_numpy()
    std = df.groupby("trajectories")["modes_covered"].std().to_numpy()
    assert (mean + std > n_modes).any() and (mean - std < 0).any()  # what mean ± std would have drawn
    plotting.plot_curves(df, "modes_covered", b, band="std", bounds=(0, n_modes))
    low, high = _band(b)
    assert (low >= 0).all() and (high <= n_modes).all()
    plt.close(fig)


def test_linear_band_is_the_seed_range_or_mean_plus_minus_std_within_it():
    fig, (a, b) = plt.subplots(1, 2)
    df = _runs({0: [1.0, 2.0], 1: [3.0, 4.0], 2: [2.0, 3.0]})
    plotting.plot_curves(df, "l1", a)
    low, high = _band(a)
    assert list(low) == [1.0, 2.0] and list(high) == [3.0, 4.0]
    plotting.plot_curves(df, "l1", b, band="std")
    low, high = _band(b)
    assert np.allclose(low, [1.0, 2.0]) and np.allclose(high, [3.0, 4.0])  # ± 1 std = ± 1, the seed range here
    plt.close(fig)


def test_constant_values_on_log_axis_get_a_readable_range():
    fig, ax = plt.subplots()
    v = 2 / 4096  # every run stuck at the initial L1; float rounding differs in the last bit across runs
    df = pd.concat([_runs({0: [v, v, v]}), _runs({0: [v * (1 + 1e-15)] * 3}, method="PPO")])
    plotting.plot_curves(df, "l1", ax, logy=True)
    low, high = ax.get_ylim()
    assert np.isclose(low, v / 3) and np.isclose(high, v * 3 * (1 + 1e-15))
    plt.close(fig)


def test_heatmap_log_range():
    fig, (a, b) = plt.subplots(1, 2)
    p = np.zeros((8, 8))
    p[0, 0], p[7, 7], p[3, 4] = 0.5, 0.4999, 1e-4
    plotting.heatmap(p, a, "log", vmax=0.5, log_range=1e4)
    image = a.get_images()[0]
    assert isinstance(image.norm, LogNorm) and np.isclose(image.norm.vmin, 0.5e-4) and image.norm.vmax == 0.5
    shown = np.asarray(image.get_array())
    assert shown.min() == pytest.approx(0.5e-4)  # empty cells drawn in the lowest colour, not dropped
    assert shown[4, 3] == pytest.approx(1e-4)  # transposed: x to the right, origin bottom left
    plotting.heatmap(p, b, "linear", vmax=0.5)
    assert not isinstance(b.get_images()[0].norm, LogNorm)
    with pytest.raises(ValueError, match="log_range must be > 1"):
        plotting.heatmap(p, b, "bad", vmax=0.5, log_range=1)
    with pytest.raises(ValueError, match="positive vmax"):
        plotting.heatmap(np.zeros((2, 2)), b, "empty", log_range=10)
    plt.close(fig)


def test_molecule_panels_format_thousands_and_show_few_and_many_modes():
    from gafn_lib.repro import mol_experiments as mx

    assert [mx.thousands(x) for x in (0, 500, 2500, 120000)] == ["0", "500", "2.5k", "120k"]
    rows = [{"method": m, "seed": s, "molecules_generated": n, "top10_reward": 0.5, "n_modes": modes * n / 4000, "top10_tanimoto": 0.3}
            for m, modes in (("GAFlowNet", 8), ("MARS", 900)) for s in (0, 1) for n in (2000, 4000)]
    fig, axes = plt.subplots(1, 3)
    mx.plot_panels(pd.DataFrame(rows), axes, methods=("GAFlowNet", "MARS"))
    modes_ax = axes[[metric for metric, _ in mx.PANELS].index("n_modes")]
    assert modes_ax.get_yscale() == "symlog" and modes_ax.get_ylim()[0] == 0
    assert modes_ax.get_ylim()[1] >= 900
    assert axes[0].xaxis.get_major_formatter()(4000, 0) == "4k"
    plt.close(fig)


def test_seeds_label_says_when_methods_have_different_seeds():
    from gafn_lib.repro import mol_experiments as mx

    full = pd.DataFrame({"method": ["A", "A", "B", "B"], "seed": [0, 1, 1, 0]})
    assert mx.seeds_label(full) == "seeds [0, 1]"
    partial = pd.DataFrame({"method": ["A", "A", "B"], "seed": [0, 1, 0]})
    assert mx.seeds_label(partial) == "seeds per method: A 2, B 1"


def test_identical_curves_are_labelled_so_no_method_seems_missing():
    fig, (a, b) = plt.subplots(1, 2)
    same = pd.concat([_runs({0: [3.0, 3.0]}), _runs({0: [3.0, 3.0]}, method="PPO")])
    plotting.plot_curves(same, "l1", a)
    assert [t.get_text() for t in a.texts] == ["both methods identical"]
    differ = pd.concat([_runs({0: [3.0, 3.0]}), _runs({0: [3.0, 2.0]}, method="PPO")])
    plotting.plot_curves(differ, "l1", b)
    assert len(b.texts) == 0
    plt.close(fig)


def test_goal_mass_puts_each_seed_at_its_goal_and_ratio():
    rows = [{"method": m, "seed": s, "goal": g, "ratio": r}
            for m, ratios in (("GAFlowNet", (1.0, 0.9, 1.1)), ("GFlowNet (TB)", (3.0, 0.0, 0.0)))
            for s in (0, 1) for g, r in zip(("(1, 6)", "(6, 1)", "(6, 6)"), ratios)]
    fig, ax = plt.subplots()
    plotting.goal_mass(pd.DataFrame(rows), ax, methods=("GAFlowNet", "GFlowNet (TB)"))
    gafn, tb = ax.collections
    assert len(gafn.get_offsets()) == 6 and len(tb.get_offsets()) == 6
    tb_points = np.asarray(tb.get_offsets())
    assert set(np.round(tb_points[:, 1], 6)) == {3.0, 0.0}
    on_first_goal = tb_points[tb_points[:, 0] < 0.5]
    assert (on_first_goal[:, 1] == 3.0).all() and len(on_first_goal) == 2  # both seeds, goal 0
    assert [t.get_text() for t in ax.get_xticklabels()] == ["(1, 6)", "(6, 1)", "(6, 6)"]
    with pytest.raises(ValueError, match="no rows for method 'PPO'"):
        plotting.goal_mass(pd.DataFrame(rows), ax, methods=("PPO",))
    with pytest.raises(ValueError, match="lacks column"):
        plotting.goal_mass(pd.DataFrame(rows).drop(columns="ratio"), ax, methods=("GAFlowNet",))
    plt.close(fig)


def test_saving_the_same_figure_twice_writes_the_same_bytes(tmp_path):
    """No creation date in the PDF: re-running a notebook that draws the same figure leaves the
    committed files unchanged (``git status`` stays clean)."""
    import time

    import matplotlib.pyplot as plt

    from gafn_lib.repro.plotting import save_figure

    contents = []
    for _ in range(2):
        fig, ax = plt.subplots()
        ax.plot([1, 2, 3])
        contents.append([path.read_bytes() for path in save_figure(fig, "same", figures_dir=tmp_path)])
        plt.close(fig)
        time.sleep(1.1)  # a creation date would now differ
    assert contents[0] == contents[1]


def test_overlapping_curves_get_distinct_styles_and_a_note():
    """Issue 24: TB hidden under MCMC and PPO (quick 01, H = 8), edge under TB (paper 03)."""
    fig, ax = plt.subplots()
    df = pd.concat([_runs({0: [1, 2, 2, 2], 1: [1, 2, 3, 3]}, method="GAFlowNet"),
                    _runs({0: [3, 3, 3, 3], 1: [3, 3, 3, 3]}, method="GFlowNet (TB)"),
                    _runs({0: [3, 3, 3, 3], 1: [3, 3, 3, 3]}, method="MCMC"),
                    _runs({0: [1, 2, 3, 3], 1: [1, 3, 3, 3]}, method="PPO")])
    plotting.plot_curves(df, "l1", ax, order=["GAFlowNet", "GFlowNet (TB)", "MCMC", "PPO"])
    styles = [(line.get_linestyle(), line.get_marker()) for line in ax.get_lines()]
    assert len(set(styles)) == 4
    (note,) = ax.texts
    assert note.get_text().splitlines() == ["GFlowNet (TB) = MCMC (overlap)", "GFlowNet (TB) = MCMC = PPO from x ≥ 48"]
    plt.close(fig)


def test_overlap_note_goes_to_the_emptiest_corner():
    fig, ax = plt.subplots()
    rising = pd.concat([_runs({0: list(range(10))}), _runs({0: list(range(10))}, method="PPO")])
    rising = pd.concat([rising, _runs({0: [0] * 10}, method="MCMC")])
    plotting.plot_curves(rising, "l1", ax)  # GAFlowNet = PPO from bottom left to top right, MCMC along the bottom
    (note,) = ax.texts
    assert note.get_position() == (0.02, 0.97) and note.get_ha() == "left" and note.get_va() == "top"  # upper left is free
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(3, 2.5))
    crowded = pd.concat([_runs({0: [0.0] * 10, 1: [12.0] * 10}), _runs({0: [5.0] * 10}, method="PPO"), _runs({0: [5.0] * 10}, method="MCMC")])
    plotting.plot_curves(crowded, "l1", ax)  # GAFlowNet's band fills the panel: no free corner
    (note,) = ax.texts
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    assert note.get_text() == "MCMC = PPO (overlap)"  # sorted labels (no order given)
    assert note.get_window_extent(renderer).y1 <= ax.xaxis.label.get_window_extent(renderer).y0 + 1  # under the x label, over no data
    plt.close(fig)


def test_unknown_labels_never_take_gaflownet_or_tb_colours():
    colors = plotting.label_colors(["joint (GAFlowNet)", "edge", "node", "none (TB)"])
    assert colors["joint (GAFlowNet)"] == plotting.METHOD_COLORS["GAFlowNet"] and colors["none (TB)"] == plotting.METHOD_COLORS["GFlowNet (TB)"]
    assert colors["edge"] != colors["node"] and {colors["edge"], colors["node"]}.isdisjoint({colors["joint (GAFlowNet)"], colors["none (TB)"]})
    assert plotting.label_colors(["a"], {"a": "#000000"}) == {"a": "#000000"}


def test_visited_state_ticks_are_short():
    fig, ax = plt.subplots(figsize=(3, 2))
    plotting.plot_curves(_runs({0: [1.0, 2.0, 3.0]}).assign(trajectories=[100_000, 200_000, 320_000]), "l1", ax)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels and all(label.endswith("k") and len(label) <= 5 for label in labels)
    plt.close(fig)


def test_scope_line_states_height_seeds_and_steps():
    assert plotting.scope_line([0, 1, 2], 20_000, height=32) == "H = 32 · n = 3 seeds (0–2) · 20,000 steps"
    assert plotting.scope_line([0, 4], 2_000, height=[8, 16, 32]) == "H = 8, 16, 32 · n = 2 seeds (0, 4) · 2,000 steps"
    assert plotting.scope_line([3], 1_500, space="bit strings, L = 6") == "bit strings, L = 6 · n = 1 seed (3) · 1,500 steps"
    assert plotting.scope_line(5, "30,000 steps (120,000 molecules per run)", space="molecules") == "molecules · n = 5 seeds · 30,000 steps (120,000 molecules per run)"
    with pytest.raises(ValueError, match="grid size"):
        plotting.scope_line([0], 10)


def test_finished_figure_has_title_with_scope_and_legend_below_the_panels():
    fig, axes = plt.subplots(1, 2)
    df = pd.concat([_runs({0: [1.0, 2.0], 1: [2.0, 3.0]}), _runs({0: [3.0, 1.0], 1: [2.0, 2.0]}, method="PPO")])
    for ax in axes:
        plotting.plot_curves(df, "l1", ax)
    axes[0].legend()
    plotting.finish_figure(fig, "A comparison", [0, 1], 2_000, height=16)
    title = fig._suptitle.get_text()
    assert title.startswith("A comparison\n") and "H = 16" in title and "n = 2 seeds" in title and "2,000 steps" in title
    assert axes[0].get_legend() is None and len(fig.legends) == 1
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == ["GAFlowNet", "PPO"] and legend.get_title().get_text() == plotting.BAND_NOTE
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    assert legend.get_window_extent(renderer).y1 <= min(ax.get_window_extent(renderer).y0 for ax in axes)  # below every panel
    plt.close(fig)


def test_heatmap_circles_goals_and_the_grid_shows_the_target_once():
    fig, (ax, small) = plt.subplots(1, 2)
    p = np.full((128, 128), 1e-6)
    goals = [(1, 126), (126, 1), (126, 126)]
    p[1, 126], p[126, 1] = 0.3, 0.01
    image = plotting.heatmap(p, ax, "H = 128", vmax=0.3, log_range=1e4, goals=goals)
    fill, *rings = ax.collections
    assert len(rings) == 2 and all(sorted(map(tuple, r.get_offsets().tolist())) == sorted(goals) for r in [fill, *rings])
    assert all(np.sqrt(r.get_sizes()[0]) >= 10 for r in rings)  # at least ~10 points across although a cell is < 1 point
    # the magnified goal cells have the colours of the cells themselves
    assert np.allclose(fill.get_facecolors(), image.cmap(image.norm(np.array([0.3, 0.01, 0.3e-4]))))
    q = np.zeros((4, 4))
    plotting.heatmap(q, small, "H = 4", vmax=1.0, goals=[(1, 2)])
    assert len(small.collections) == 2  # cells large enough to see: rings only
    plt.close(fig)

    target = np.zeros((6, 6))
    target[1, 4] = target[4, 1] = target[4, 4] = 1.0
    rows = [(f"seed {s}", [target + 0.01, target + 0.02]) for s in (0, 1, 2)]
    fig = plotting.distribution_grid(target, rows, ["A", "B"], goals=[(1, 4), (4, 1), (4, 4)])
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert sum("target" in t for t in titles) == 1 and titles.count("A") == 1 and titles.count("B") == 1
    assert [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel().startswith("seed")] == ["seed 0", "seed 1", "seed 2"]
    assert [t.get_text() for ax in fig.axes for t in ax.texts] == [plotting.GOAL_MARKER_NOTE]  # the rings explained once
    with pytest.raises(ValueError, match="2 columns"):
        plotting.distribution_grid(target, [("seed 0", [target])], ["A", "B"])
    plt.close(fig)


def test_sweep_plot_bars_stay_within_the_seeds():
    fig, ax = plt.subplots()
    table = pd.DataFrame({"eta": [1e-3] * 3 + [1e-2] * 3, "l1": [1e-4, 1e-3, 1.2e-4, 5e-4, 6e-4, 4e-4]})
    stats = plotting.sweep_plot(table, "eta", "l1", ax)
    assert np.allclose(stats["low"], [1e-4, 4e-4]) and np.allclose(stats["high"], [1e-3, 6e-4])
    centre, low, high = plotting.reference_band(ax, [1e-3, 1e-1])
    assert np.isclose(centre, 1e-2) and (low, high) == (1e-3, 1e-1)
    plt.close(fig)


def test_every_notebook_figure_states_its_scope():
    """Issue 24: every figure names H (or what replaces it), the seeds and the steps in its title —
    the notebooks build those titles with :func:`plotting.finish_figure` or :func:`plotting.scope_line`
    — and no curve figure puts a legend over its data (``finish_figure`` puts it below the panels)."""
    import json
    from pathlib import Path

    notebooks = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    figure_cells = 0
    for path in notebooks:
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] != "code" or "save_figure(" not in source:
                continue
            figure_cells += 1
            assert "finish_figure(" in source or "scope_line(" in source, f"{path.name}: a figure without H, seeds and steps:\n{source}"
            if "plot_curves(" in source or "plot_panels(" in source:
                assert ".legend(" not in source, f"{path.name}: an axes legend over the curves:\n{source}"
    assert figure_cells >= 12


def test_overlap_notes_name_identical_curves_in_words():
    from gafn_lib.repro.plotting import overlap_notes

    x = np.arange(4.0)
    same = {"A": (x, x), "B": (x, x.copy())}
    assert overlap_notes(same) == ["both methods identical"]
    assert overlap_notes({**same, "C": (x, x + 0.0)}) == ["all 3 methods identical"]
    late = np.array([0.0, 1.0, 3.0, 3.0])
    assert overlap_notes({"A": (x, x), "B": (x, late), "C": (x, x + 1)}) == []
    assert overlap_notes({"A": (x, np.array([5.0, 1.0, 2.0, 3.0])), "B": (x, x)}) == ["A = B from x ≥ 1"]
