"""Notebook 06's figures: the paper's three panels against molecules generated, the sampler's
panels (window hit rate and mean score, separated modes, top-10 score/8), and drawings of each
method's best molecules."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from gafn_lib.repro.molecules.configs import RELEASE_PROFILE_METHODS

#: The three panels of the paper's molecule figure: (column, axis label).
PANELS = (
    ("top10_reward", "top-10 mean reward"),
    ("n_modes", "modes (score > 7.5)"),
    ("top10_tanimoto", "top-10 Tanimoto similarity"),
)

#: Below this many modes the modes panel's axis is linear, above it logarithmic (``symlog``): methods
#: that find ~10 modes and methods that find ~1,000 are both readable on one panel.
MODES_LINEAR_UP_TO = 10


def thousands(x: float, _pos: Any = None) -> str:
    """Axis tick label: ``120000 → "120k"``, ``2500 → "2.5k"``, ``0 → "0"`` (:func:`gafn_lib.repro.plotting.thousands`)."""
    from gafn_lib.repro import plotting

    return plotting.thousands(x, _pos)


def seeds_label(table: pd.DataFrame) -> str:
    """The seeds behind a figure: ``"seeds [0, 1, 2]"`` when every method has the same ones, else
    each method's count (``"seeds per method: GAFlowNet 2, PPO 1"``), so a partial sweep says so."""
    per_method = table.groupby("method", sort=False)["seed"].unique()
    seed_sets = {tuple(sorted(int(s) for s in v)) for v in per_method}
    if len(seed_sets) == 1:
        return f"seeds {list(seed_sets.pop())}"
    return "seeds per method: " + ", ".join(f"{m} {len(v)}" for m, v in per_method.items())


def plot_panels(table: pd.DataFrame, axes, methods: Sequence[str] = RELEASE_PROFILE_METHODS) -> None:
    """The paper's three panels against molecules generated, on three axes: per method the mean over
    seeds and the seeds' min–max band (:func:`gafn_lib.repro.plotting.plot_curves`).

    The x axis counts molecules in thousands ("120k"). The modes panel is linear up to
    :data:`MODES_LINEAR_UP_TO` and logarithmic above (``symlog``), so a method with a handful of
    modes is not flattened against one with hundreds; its axis starts at 0 and its band never goes
    below 0 (a min–max band stays within the seeds). Put the legend outside the panels with
    :func:`gafn_lib.repro.plotting.finish_figure`.
    """
    from gafn_lib.repro import plotting

    for ax, (metric, label) in zip(axes, PANELS):
        if metric == "n_modes":
            # the scale first: plot_curves places its overlap note where this scale leaves room
            ax.set_yscale("symlog", linthresh=MODES_LINEAR_UP_TO)
            label = f"{label}\n(log above {MODES_LINEAR_UP_TO})"
        plotting.plot_curves(table, metric, ax, x="molecules_generated", order=methods, ylabel=label)
        ax.set_xlabel("molecules generated")
        if metric == "n_modes":
            ax.set_ylim(bottom=0)


#: The sampler's panels (what each sampler produces now, and the cumulative metrics in their other
#: units): (column, axis label). ``hit_rate`` and ``mean_score`` are per window
#: (:mod:`gafn_lib.molecules.tracking`); the threshold of ``hit_rate`` is filled in by
#: :func:`plot_sampler_panels`.
SAMPLER_PANELS = (
    ("hit_rate", "hit rate of the window\n(share with score > {threshold:g})"),
    ("mean_score", "mean proxy score of the window"),
    ("n_modes_separated", "separated modes\n(score > 7.5, Tanimoto < 0.7)"),
    ("top10_score_norm", "top-10 mean score / 8"),
)


def plot_sampler_panels(table: pd.DataFrame, axes, threshold: float, methods: Sequence[str] = RELEASE_PROFILE_METHODS) -> None:
    """The four :data:`SAMPLER_PANELS` on four axes against molecules generated, per method the
    mean over seeds and the seeds' min–max band (:func:`gafn_lib.repro.plotting.plot_curves`).

    The window hit rate is on a log axis (geometric mean over seeds): learners that exploit reach
    tens of percent while random search stays near 0.1 % under the paper's threshold of 7; a
    window without a hit is drawn at ``1 / window_molecules`` (its label says so). Empty windows
    (a row logged before any molecule) are left out. The separated-modes panel has the modes
    panel's scale (linear up to :data:`MODES_LINEAR_UP_TO`, log above). ``threshold``: the reward
    threshold the hit rate counts (the config's ``reward_threshold``)."""
    from gafn_lib.repro import plotting
    from gafn_lib.repro.molecules.sampler import window_curves

    windows = window_curves(table)
    for ax, (metric, label) in zip(axes, SAMPLER_PANELS):
        label = label.format(threshold=threshold)
        if metric == "hit_rate":
            plotting.plot_curves(windows, "hit_rate_plot", ax, x="molecules_generated", order=methods, logy=True,
                                 ylabel=label + "\nno hit: drawn at 1/window", bounds=(0.0, 1.0))
        elif metric == "mean_score":
            plotting.plot_curves(windows, metric, ax, x="molecules_generated", order=methods, ylabel=label)
        else:
            if metric == "n_modes_separated":
                ax.set_yscale("symlog", linthresh=MODES_LINEAR_UP_TO)
                label = f"{label}\n(log above {MODES_LINEAR_UP_TO})"
            plotting.plot_curves(table, metric, ax, x="molecules_generated", order=methods, ylabel=label)
            if metric == "n_modes_separated":
                ax.set_ylim(bottom=0)
        ax.set_xlabel("molecules generated")


def draw_best_molecules(
    best: pd.DataFrame, methods: Sequence[str] = RELEASE_PROFILE_METHODS, per_row: int = 4, sub_size: tuple[int, int] = (260, 200), title: str | None = None
):
    """One row of RDKit drawings (``MolsToGridImage``) per method, the proxy score written under each
    molecule; ``title`` above (say there what the numbers are: the figure has no legend)."""
    import matplotlib.pyplot as plt
    from rdkit import Chem

    from gafn_lib.repro import plotting
    from rdkit.Chem import Draw

    present = [m for m in methods if m in set(best["method"])]
    if not present:
        raise ValueError("no stored molecules to draw")
    fig, axes = plt.subplots(len(present), 1, figsize=(per_row * sub_size[0] / 100, len(present) * (sub_size[1] / 100 + 0.4)), squeeze=False)
    for ax, method in zip(axes[:, 0], present):
        part = best[best["method"] == method].head(per_row)
        mols = [Chem.MolFromSmiles(s) for s in part["smiles"]]
        legends = [f"score {s:.2f}" for s in part["score"]]
        image = Draw.MolsToGridImage(mols, molsPerRow=per_row, subImgSize=sub_size, legends=legends)
        ax.imshow(_as_array(image))
        ax.set_title(method, loc="left", fontsize=11, color=plotting.METHOD_COLORS.get(method, "black"))
        ax.axis("off")
    top = 1.0
    if title:
        fig.suptitle(title, fontsize=10)
        top = 1 - (0.2 * (title.count("\n") + 1) + 0.15) / fig.get_figheight()  # room for every line of the title
    fig.tight_layout(rect=(0, 0, 1, top))
    return fig


def _as_array(image) -> np.ndarray:
    """Pixels of what ``MolsToGridImage`` returned: a PIL image, or PNG data (an IPython ``Image``
    or bytes) when RDKit's notebook integration is active."""
    import io

    from PIL import Image

    data = getattr(image, "data", image)
    if isinstance(data, (bytes, bytearray)):
        image = Image.open(io.BytesIO(data))
    return np.asarray(image)
