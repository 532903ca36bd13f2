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


def test_log_band_stays_positive_when_std_exceeds_mean():
    fig, ax = plt.subplots()
    df = _runs({0: [1e-3, 1e-3, 1e-3], 1: [1e-5, 1e-5, 1e-5], 2: [1e-5, 1e-5, 1e-5]})  # std > mean
    plotting.plot_curves(df, "l1", ax, logy=True)
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    mean, std = df["l1"].groupby(df["trajectories"]).mean().iloc[0], df["l1"].groupby(df["trajectories"]).std().iloc[0]
    assert mean - std < 0 and band.min() > 0
    assert np.isclose(band.min(), mean**2 / (mean + std)) and np.isclose(band.max(), mean + std)
    plt.close(fig)


def test_linear_band_is_mean_plus_minus_std():
    fig, ax = plt.subplots()
    df = _runs({0: [1.0, 2.0], 1: [3.0, 4.0]})
    plotting.plot_curves(df, "l1", ax)
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert np.isclose(band.min(), 2.0 - np.std([1.0, 3.0], ddof=1)) and np.isclose(band.max(), 3.0 + np.std([2.0, 4.0], ddof=1))
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
    assert [t.get_text() for t in a.texts] == ["all 2 methods identical"]
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
