"""The paper's molecule experiment (§4, notebook 06) as labelled run configs, panels and claims.

Four methods on the fragment MDP with the sEH proxy, compared at the same budget of *molecules
generated* (the x-axis of every panel):

- **GAFlowNet**: flow matching with joint RND augmentation (:class:`gafn_lib.molecules.trainer.MolTrainConfig`
  defaults: η = 0.1, ε = 0.05, lr 5e-4, 4 trajectories per step);
- **GFlowNet**: the same without augmentation (``augment="none"``);
- **PPO**: :mod:`gafn_lib.baselines.mol_ppo` (16 molecules per iteration);
- **MARS**: :mod:`gafn_lib.baselines.mars` (16 chains, one proposal each per step).

Runs go through :func:`gafn_lib.repro.experiments.run_labelled` into the shared store ``molecules``
(cached: a run already stored is not recomputed).

Rewards. ``PAPER_REWARD`` is the paper's sparse transform ``(score/8)^10`` if ``score > 7`` else
1e-9. At a few thousand molecules almost every molecule gets the floor under it and every method
looks like random search, so the quick profile uses ``REDUCED_REWARD``: the same transform with the
threshold lowered to 6. Measured on 3 000 molecules built by uniformly random actions (5.7 blocks on
average), about 0.9 % score above 6 and 0.1 % above 7 (0.03 % above 7.5): a 6 000-molecule run of a
random sampler sees about 50 rewarded molecules with threshold 6 but about 6 with threshold 7, too
few to fill a top-10. The reduced reward keeps the sparse structure the paper's argument is about (a
flat floor, then a steep reward) at a scale where a few thousand molecules see it.
:func:`reward_label` names the reward in figure titles and claims.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

from gafn_lib.repro import experiments as ex

#: Result store shared by the molecule runs.
MOL_STORE = "molecules"

GAFN = "GAFlowNet"
GFN = "GFlowNet"
PPO = "PPO"
MARS = "MARS"
MOL_METHODS = (GAFN, GFN, PPO, MARS)

#: The three panels of the paper's molecule figure: (column, axis label).
PANELS = (
    ("top10_reward", "top-10 mean reward"),
    ("n_modes", "modes (score > 7.5)"),
    ("top10_tanimoto", "top-10 Tanimoto similarity"),
)

REWARD_FIELDS = ("reward", "reward_threshold", "reward_normaliser", "reward_exponent", "reward_floor")
PAPER_REWARD = {"reward": "sparse", "reward_threshold": 7.0, "reward_normaliser": 8.0, "reward_exponent": 10.0, "reward_floor": 1e-9}
REDUCED_REWARD = {**PAPER_REWARD, "reward_threshold": 6.0}


def reward_label(reward: dict[str, Any]) -> str:
    """A short description of a reward setting, marking anything that is not the paper's."""
    r = {**PAPER_REWARD, **reward}
    if r == PAPER_REWARD:
        return "paper reward: (score/8)^10 if score > 7, else 1e-9"
    if r["reward"] == "sparse":
        text = f"(score/{r['reward_normaliser']:g})^{r['reward_exponent']:g} if score > {r['reward_threshold']:g}, else {r['reward_floor']:g}"
    else:
        text = f"dense: max((score/{r['reward_normaliser']:g})^{r['reward_exponent']:g}, {r['reward_floor']:g})"
    return f"REDUCED-SCALE reward: {text} (paper: threshold 7)"


def scale_note(profile: str, molecules: int, n_seeds: int, reward: dict[str, Any]) -> str:
    """What a run of notebook 06 at this scale can and cannot show (printed by the notebook)."""
    head = f"{profile} profile: {molecules:,} molecules per run (paper: 1,000,000 = 250,000 steps x 4), {n_seeds} seed(s); {reward_label(reward)}."
    if profile == "paper":
        return head + " These are the paper's settings: days of CPU per run, meant for a cluster (docs/distributed.md)."
    if profile == "smoke":
        return head + " Smoke test only: the numbers mean nothing."
    return head + (
        " CAN show: how fast each method reaches high-scoring molecules early in training, and how similar its best"
        " molecules are, under a sparse reward with a lower threshold (about 1 % of random molecules clear 6, 0.1 %"
        " clear the paper's 7, too few for a top-10 in this budget). CANNOT show: the paper's numbers or its"
        f" long-run ranking ({100 * molecules / 1_000_000:.2g} % of its budget; GAFlowNet's exploration bonus is meant to pay off over 250k steps),"
        " and mode counts (score > 7.5) are small and noisy at this scale."
    )


def molecules_per_step(config: Any) -> int:
    """Molecules one training step generates: trajectories (GFlowNets, PPO) or chains (MARS)."""
    return int(getattr(config, "n_chains", None) or config.batch_size)


def method_config(method: str, *, seed: int, molecules: int, n_logs: int = 20, reward: dict[str, Any] | None = None, **common: Any):
    """The config of one method for a budget of ``molecules`` generated molecules.

    ``n_steps = ceil(molecules / molecules_per_step)``, a metrics row every ``n_steps // n_logs``
    steps. ``reward`` holds reward fields (default: the paper's); ``common`` any other field the
    configs share (``hidden``, ``n_rounds``, ``min_blocks``, ``max_blocks``, ``top_k``, ``device``...).
    """
    from gafn_lib.molecules.trainer import MolTrainConfig

    if not isinstance(molecules, int) or molecules < 1:
        raise ValueError(f"molecules must be an integer >= 1, got {molecules!r}")
    if not isinstance(n_logs, int) or n_logs < 1:
        raise ValueError(f"n_logs must be an integer >= 1, got {n_logs!r}")
    reward = {**PAPER_REWARD, **(reward or {})}
    unknown = set(reward) - set(REWARD_FIELDS)
    if unknown:
        raise ValueError(f"reward has unknown fields {sorted(unknown)}; allowed: {REWARD_FIELDS}")
    fields = {**reward, **common, "seed": seed}
    if method in (GAFN, GFN):
        cls, extra = MolTrainConfig, ({"objective": "fm", "augment": "joint", "intrinsic": "rnd"} if method == GAFN else {"objective": "fm", "augment": "none"})
        per_step = fields.get("batch_size", MolTrainConfig.batch_size)
    elif method == PPO:
        from gafn_lib.baselines.mol_ppo import MolPPOConfig

        cls, extra, per_step = MolPPOConfig, {}, fields.get("batch_size", MolPPOConfig.batch_size)
    elif method == MARS:
        from gafn_lib.baselines.mars import MARSConfig

        cls, extra, per_step = MARSConfig, {}, fields.get("n_chains", MARSConfig.n_chains)
    else:
        raise ValueError(f"unknown method {method!r}; known: {MOL_METHODS}")
    n_steps = max(1, math.ceil(molecules / per_step))
    return cls(**extra, **fields, n_steps=n_steps, log_every=max(1, n_steps // n_logs))


def molecule_runs(
    seeds: Sequence[int], molecules: int, methods: Sequence[str] = MOL_METHODS, n_logs: int = 20,
    reward: dict[str, Any] | None = None, **common: Any,
) -> list[tuple[str, Any]]:
    """Every method × seed as ``(label, config)`` pairs at the same molecule budget."""
    return [(m, method_config(m, seed=s, molecules=molecules, n_logs=n_logs, reward=reward, **common)) for m in methods for s in seeds]


def run_molecules(runs: list[tuple[str, Any]], results_dir, workers: int | None = None, backend: str = "process", progress: bool = True) -> pd.DataFrame:
    """Run (cached) in the ``molecules`` store; the tidy table with ``method`` and ``seed`` columns."""
    return ex.run_labelled(runs, experiment=MOL_STORE, results_dir=results_dir, workers=workers, backend=backend, progress=progress)


# ----------------------------------------------------------------------------------- figures
def plot_panels(table: pd.DataFrame, axes, methods: Sequence[str] = MOL_METHODS) -> None:
    """The paper's three panels (mean ± std over seeds against molecules generated) on three axes."""
    from gafn_lib.repro import plotting

    for ax, (metric, label) in zip(axes, PANELS):
        plotting.plot_curves(table, metric, ax, x="molecules_generated", order=methods, ylabel=label)
        ax.set_xlabel("molecules generated")


def best_molecules(runs: list[tuple[str, Any]], results_dir, k: int = 8) -> tuple[pd.DataFrame, list[str]]:
    """The ``k`` best unique molecules of each method over its seeds, from the runs' stored arrays.

    Returns the table (``method``, ``rank``, ``smiles``, ``score``, ``reward``, ``seed``) and the
    methods whose runs stored no molecules (a trainer without ``artifacts()``).
    """
    from gafn_lib.runner import load_artifacts

    rows, missing = [], []
    for label, config in runs:
        try:
            arrays = load_artifacts(MOL_STORE, config, results_dir)
        except FileNotFoundError:
            if label not in missing:
                missing.append(label)
            continue
        for smi, score, reward in zip(arrays["top_smiles"], arrays["top_scores"], arrays["top_rewards"]):
            rows.append({"method": label, "smiles": str(smi), "score": float(score), "reward": float(reward), "seed": config.seed})
    columns = ["method", "rank", "smiles", "score", "reward", "seed"]
    if not rows:
        return pd.DataFrame(columns=columns), missing
    table = pd.DataFrame(rows).sort_values(["method", "reward", "score", "smiles"], ascending=[True, False, False, True])
    table = table.drop_duplicates(["method", "smiles"]).groupby("method", sort=False).head(k)
    table["rank"] = table.groupby("method").cumcount() + 1
    return table[columns].reset_index(drop=True), [m for m in missing if m not in set(table["method"])]


def draw_best_molecules(
    best: pd.DataFrame, methods: Sequence[str] = MOL_METHODS, per_row: int = 4, sub_size: tuple[int, int] = (260, 200), title: str | None = None
):
    """One row of RDKit drawings (``MolsToGridImage``) per method, legends with the proxy score."""
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
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.96 if title else 1))
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


# ------------------------------------------------------------------------------------ claims
def molecule_claims(table: pd.DataFrame, scope: str = "") -> list[dict]:
    """The paper's qualitative molecule claims (§4) as claims-table rows, from the final metrics.

    ``scope`` (e.g. the reduced-reward label) is prefixed to every claim. Mode counts are compared
    strictly; when no run found a mode (score > 7.5), the mode claim is reported as not supported
    with that reason.
    """
    prefix = f"[{scope}] " if scope else ""
    reward, sim, modes = "top10_reward", "top10_tanimoto", "n_modes"

    def better(a: str, b: str, metric: str, higher: bool) -> dict:
        return ex.comparison_claim(table, "", a, b, metric, lower_is_better=not higher)

    others = [m for m in MOL_METHODS if m != GAFN]
    claims = [
        ex.all_of(f"{prefix}MARS does poorly under the sparse reward: lowest top-10 reward of the four methods",
                  [better(m, MARS, reward, True) for m in (GAFN, GFN, PPO)]),
        ex.all_of(f"{prefix}PPO finds better molecules than MARS (higher top-10 reward)", [better(PPO, MARS, reward, True)]),
        ex.all_of(f"{prefix}PPO and MARS produce highly similar molecules (top-10 Tanimoto above both GFlowNets')",
                  [better(a, b, sim, True) for a in (PPO, MARS) for b in (GFN, GAFN)]),
        ex.all_of(f"{prefix}GFlowNet is diverse (lower top-10 Tanimoto than PPO and MARS) but lower in quality than GAFlowNet (top-10 reward)",
                  [better(GFN, PPO, sim, False), better(GFN, MARS, sim, False), better(GAFN, GFN, reward, True)]),
        ex.all_of(f"{prefix}GAFlowNet finds the best molecules (highest top-10 reward)", [better(GAFN, m, reward, True) for m in others]),
        ex.all_of(f"{prefix}GAFlowNet's top molecules are the most diverse (lowest top-10 Tanimoto)", [better(GAFN, m, sim, False) for m in others]),
    ]
    final = ex.final_rows(table)
    mode_claim = ex.all_of(f"{prefix}GAFlowNet finds the most modes (score > 7.5)", [better(GAFN, m, modes, True) for m in others])
    if not (final[modes] > 0).any():
        mode_claim["measured"] = "no run found a molecule with score > 7.5 at this scale (every count is 0): not measurable"
        mode_claim["supported"] = False
    claims.append(mode_claim)
    return claims
