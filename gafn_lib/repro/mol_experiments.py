"""The paper's molecule experiment (§4, notebook 06) as labelled run configs, panels and claims.

Five methods on the fragment MDP with the sEH proxy, compared at the same budget of *molecules
generated* (the x-axis of every panel):

- **GAFlowNet**: flow matching with joint RND augmentation (:class:`gafn_lib.molecules.trainer.MolTrainConfig`
  defaults: η = 0.1, ε = 0.05, lr 5e-4, 4 trajectories per step);
- **GFlowNet**: the same without augmentation (``augment="none"``);
- **PPO**: :mod:`gafn_lib.baselines.mol_ppo` (16 molecules per iteration);
- **MARS**: :mod:`gafn_lib.baselines.mars` (16 chains, one proposal each per step);
- **Random**: :mod:`gafn_lib.baselines.random_search` (uniform random valid actions, 4 molecules per
  step): the floor every learner must beat.

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
RANDOM = "Random"
#: Every method of the molecule figure; ``Random`` (uniform random actions) is the floor.
MOL_METHODS = (GAFN, GFN, PPO, MARS, RANDOM)

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
    if profile == "long":
        return head + (
            f" CAN show: whether the paper's ordering appears under the paper's reward at {100 * molecules / 1_000_000:.2g} % of its budget"
            " (the release's own comment puts convergence of the reward distribution at 30k steps), with an interval over 3 seeds."
            " CANNOT show: the paper's end point (250,000 steps); and only the runs finished so far are shown."
        )
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
    elif method == RANDOM:
        from gafn_lib.baselines.random_search import RandomSearchConfig

        cls, extra, per_step = RandomSearchConfig, {}, fields.get("batch_size", RandomSearchConfig.batch_size)
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


def run_molecules(
    runs: list[tuple[str, Any]], results_dir, workers: int | None = None, backend: str = "process", progress: bool = True,
    checkpoint_every: int | None = None,
) -> pd.DataFrame:
    """Run (cached; checkpointed every ``checkpoint_every`` steps if given) in the ``molecules`` store;
    the tidy table with ``method`` and ``seed`` columns."""
    from gafn_lib.runner import run_sweep

    run_sweep(MOL_STORE, [c for _, c in runs], results_dir=results_dir, workers=workers, backend=backend,
              checkpoint_every=checkpoint_every, progress=progress)
    return load_molecules(runs, results_dir)


def split_complete(runs: list[tuple[str, Any]], results_dir) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    """``(complete, missing)``: the runs the ``molecules`` store holds finished (with their arrays), and the others."""
    from gafn_lib.runner import ExperimentStore, run_id

    store = ExperimentStore.open(MOL_STORE, results_dir)
    done = [(label, c) for label, c in runs if store.is_complete(run_id(c)) and store.artifacts_path(run_id(c)).exists()]
    return done, [r for r in runs if r not in done]


def load_molecules(runs: list[tuple[str, Any]], results_dir) -> pd.DataFrame:
    """The stored tables of ``runs`` (all must be complete) with ``method`` and ``seed`` columns."""
    from gafn_lib.runner import load_results, run_id

    if not runs:
        return pd.DataFrame(columns=["method", "seed", "run", "step", "molecules_generated"])
    table = load_results(MOL_STORE, results_dir, configs=[c for _, c in runs])
    frames = []
    for label, config in runs:
        part = table[table["run"] == run_id(config)].copy()
        part["method"], part["seed"] = label, config.seed
        frames.append(part)
    return pd.concat(frames, ignore_index=True)


def progress_of(runs: list[tuple[str, Any]], results_dir) -> pd.DataFrame:
    """Per run: method, seed, steps planned, and the step of its last checkpoint (``done`` if complete)."""
    from gafn_lib.runner import ExperimentStore, run_id
    from gafn_lib.runner.status import checkpoint_step

    store = ExperimentStore.open(MOL_STORE, results_dir)
    rows = []
    for label, config in runs:
        rid = run_id(config)
        if store.is_complete(rid):
            status, step = "done", config.n_steps
        elif store.checkpoint_path(rid).exists():
            step = checkpoint_step(store, rid)
            status, step = "checkpointed", -1 if step is None else step
        else:
            status, step = "not started", 0
        rows.append({"method": label, "seed": config.seed, "run": rid, "steps_planned": config.n_steps, "steps_done": step, "status": status})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------- figures
#: Below this many modes the modes panel's axis is linear, above it logarithmic (``symlog``): methods
#: that find ~10 modes and methods that find ~1,000 are both readable on one panel.
MODES_LINEAR_UP_TO = 10


def thousands(x: float, _pos: Any = None) -> str:
    """Axis tick label: ``120000 → "120k"``, ``2500 → "2.5k"``, ``0 → "0"``."""
    return f"{x / 1000:g}k" if abs(x) >= 1000 else f"{x:g}"


def seeds_label(table: pd.DataFrame) -> str:
    """The seeds behind a figure: ``"seeds [0, 1, 2]"`` when every method has the same ones, else
    each method's count (``"seeds per method: GAFlowNet 2, PPO 1"``), so a partial sweep says so."""
    per_method = table.groupby("method", sort=False)["seed"].unique()
    seed_sets = {tuple(sorted(int(s) for s in v)) for v in per_method}
    if len(seed_sets) == 1:
        return f"seeds {list(seed_sets.pop())}"
    return "seeds per method: " + ", ".join(f"{m} {len(v)}" for m, v in per_method.items())


def plot_panels(table: pd.DataFrame, axes, methods: Sequence[str] = MOL_METHODS) -> None:
    """The paper's three panels (mean ± std over seeds against molecules generated) on three axes.

    The x axis counts molecules in thousands ("120k"). The modes panel is linear up to
    :data:`MODES_LINEAR_UP_TO` and logarithmic above (``symlog``), so a method with a handful of
    modes is not flattened against one with hundreds; its axis starts at 0.
    """
    from matplotlib.ticker import FuncFormatter

    from gafn_lib.repro import plotting

    for ax, (metric, label) in zip(axes, PANELS):
        plotting.plot_curves(table, metric, ax, x="molecules_generated", order=methods, ylabel=label)
        ax.set_xlabel("molecules generated")
        ax.xaxis.set_major_formatter(FuncFormatter(thousands))
        if metric == "n_modes":
            ax.set_yscale("symlog", linthresh=MODES_LINEAR_UP_TO)
            ax.set_ylim(bottom=0)
            ax.set_ylabel(f"{label}, log above {MODES_LINEAR_UP_TO}")


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
#: The molecule figure's metrics: (column, which direction is better, the metric's bounds).
_REWARD = ("top10_reward", "higher", (0.0, None))  # (score/8)^10 exceeds 1 above score 8
_SIMILARITY = ("top10_tanimoto", "lower", (0.0, 1.0))
_MODES = ("n_modes", "higher", (0.0, None))


def molecule_claims(table: pd.DataFrame, scope: str = "", methods: Sequence[str] = MOL_METHODS) -> list:
    """The paper's molecule claims (§4) as pairwise tests with statistics over seeds.

    Each row is :func:`gafn_lib.repro.claims.compare` on the final metrics (one value per seed):
    the effect ``A − B``, Welch's 95 % interval over seeds and a verdict supported / inconclusive /
    contradicted. A claim about several methods ("MARS is the worst of the four") is one row per
    pair. Random search (uniform random actions) is the floor: one row per learner. Methods not in
    ``table`` (or not in ``methods``) are skipped. ``scope`` (e.g. the reduced-reward label) is
    carried into the metric column.
    """
    from gafn_lib.repro import claims as cl

    final = ex.final_rows(table)
    present = [m for m in methods if m in set(final["method"])]

    def values(method: str, metric: str) -> list[float]:
        return final.loc[final["method"] == method, metric].astype(float).tolist()

    def pair(claim: str, a: str, b: str, spec) -> "cl.ClaimResult | None":
        metric, better, bounds = spec
        if a not in present or b not in present:
            return None
        return cl.compare(claim, values(a, metric), values(b, metric), metric=metric, better=better,
                          label_a=a, label_b=b, scope=scope, bounds=bounds)

    learners = [GAFN, GFN, PPO, MARS]
    rows = []
    rows += [pair(f"{m} beats random search (top-10 reward)", m, RANDOM, _REWARD) for m in learners]
    rows += [pair("MARS does poorly under the sparse reward (lower top-10 reward than every other learner)", m, MARS, _REWARD) for m in (GAFN, GFN, PPO)]
    rows += [pair("PPO finds better molecules than MARS (top-10 reward)", PPO, MARS, _REWARD)]
    rows += [pair("PPO and MARS produce highly similar molecules (higher top-10 Tanimoto than both GFlowNets)", a, b, (_SIMILARITY[0], "higher", _SIMILARITY[2]))
             for a in (PPO, MARS) for b in (GFN, GAFN)]
    rows += [pair("GFlowNet is diverse (lower top-10 Tanimoto than PPO and MARS)", GFN, b, _SIMILARITY) for b in (PPO, MARS)]
    rows += [pair("GFlowNet is lower in quality than GAFlowNet (top-10 reward)", GAFN, GFN, _REWARD)]
    rows += [pair("GAFlowNet finds the best molecules (highest top-10 reward)", GAFN, b, _REWARD) for b in (GFN, PPO, MARS, RANDOM)]
    rows += [pair("GAFlowNet's top molecules are the most diverse (lowest top-10 Tanimoto)", GAFN, b, _SIMILARITY) for b in (GFN, PPO, MARS, RANDOM)]
    rows += [pair("GAFlowNet finds the most modes (score > 7.5)", GAFN, b, _MODES) for b in (GFN, PPO, MARS, RANDOM)]
    return [r for r in rows if r is not None]


# ------------------------------------------------------------------------------ option probes
#: The release options probed to choose the GFlowNets' defaults (notebook 06, last section).
OPTION_PROBES: dict[str, dict[str, Any]] = {
    "paper equations (no release option)": {"early_stop_reg": 0.0},
    "+ release loss form (log_reg_c 2.5e-5, leaf_coef 10)": {"early_stop_reg": 0.0, "log_reg_c": 2.5e-5, "leaf_coef": 10.0},
    "+ early-stop regulariser 0.1": {"early_stop_reg": 0.1},
    "+ block-graph RND (rnd_features='graph')": {"early_stop_reg": 0.0, "rnd_features": "graph"},
    "all release options (loss form, early stop, graph RND, release terminal)": {
        "log_reg_c": 2.5e-5, "leaf_coef": 10.0, "early_stop_reg": 0.1, "rnd_features": "graph", "terminal": "release"},
    "GFlowNet, paper equations": {"early_stop_reg": 0.0, "augment": "none"},
}


def notebook_settings(profile: str, seeds: Sequence[int] | None = None, n_steps: int | None = None) -> dict[str, Any]:
    """Notebook 06's run settings for ``profile`` (its ``seeds`` / ``n_steps`` parameters override):
    ``seeds``, ``n_steps`` (GFlowNet steps), ``molecules`` (4 per GFlowNet step: every method gets the
    same budget), ``reward``, ``network`` (extra config fields) and ``n_logs``. The notebook and
    the pipeline's prefetch (:mod:`gafn_lib.repro.prefetch`) both read them, so they train the same runs."""
    from gafn_lib.repro.profiles import profile_value

    seeds = list(seeds or profile_value(profile, quick=[0, 1, 2], paper=[0, 1, 2], long=list(LONG_SEEDS), smoke=[0]))
    n_steps = n_steps or profile_value(profile, quick=1_500, paper=250_000, long=LONG_STEPS, smoke=4)
    return {
        "seeds": seeds,
        "n_steps": n_steps,
        "molecules": 4 * n_steps,
        "reward": profile_value(profile, quick=REDUCED_REWARD, paper=PAPER_REWARD, long=PAPER_REWARD, smoke=REDUCED_REWARD),
        "network": profile_value(profile, quick={}, paper={}, smoke=dict(hidden=16, n_rounds=1, max_blocks=4)),
        "n_logs": profile_value(profile, quick=20, paper=50, long=LONG_LOGS, smoke=2),
    }


def notebook_runs(profile: str, seeds: Sequence[int] | None = None, n_steps: int | None = None) -> list[tuple[str, Any]]:
    """Notebook 06's ``(label, config)`` runs for ``profile``: every method × seed (:func:`notebook_settings`)."""
    s = notebook_settings(profile, seeds, n_steps)
    return molecule_runs(s["seeds"], s["molecules"], reward=s["reward"], n_logs=s["n_logs"], **s["network"])


def option_probe(variants: dict[str, dict[str, Any]] = OPTION_PROBES, n_steps: int = 600, seed: int = 0,
                 threshold: float = 6.0, score_cut: float = 6.0) -> pd.DataFrame:
    """Short runs of GAFlowNet (FM, joint RND) with each option set, same budget and seed: the share
    of unique molecules scoring above ``score_cut``, the top-10 reward, the mean length of the last
    200 steps' molecules and the mean intrinsic reward at the end (minutes per variant on one core)."""
    from gafn_lib.envs.fragments import FragmentMDP
    from gafn_lib.envs.sehproxy import SEHProxy
    from gafn_lib.molecules.trainer import MolTrainConfig, MolTrainer

    proxy, mdp = SEHProxy.load(), FragmentMDP()
    rows = []
    for name, fields in variants.items():
        trainer = MolTrainer(MolTrainConfig(n_steps=n_steps, log_every=n_steps, seed=seed, reward_threshold=threshold, **fields), proxy, mdp)
        lengths = [trainer.step()["mean_length"] for _ in range(n_steps)]
        row = trainer.evaluate()
        above = sum(1 for score, _ in trainer.tracker.molecules.values() if score > score_cut)
        rows.append({"variant": name, "seed": seed, "steps": n_steps, "share_above_cut": above / row["unique_molecules"],
                     "unique_above_cut": above, "unique": row["unique_molecules"], "top10_reward": row["top10_reward"],
                     "mean_length_last200": float(np.mean(lengths[-200:])), "mean_intrinsic": row["mean_intrinsic"]})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------ long profile
#: The ``long`` profile: the paper's reward, 30 000 GFlowNet steps (120 000 molecules: the release's
#: own comment puts convergence at 30k iterations), 3 seeds, 50 metric rows per run.
LONG_STEPS = 30_000
LONG_SEEDS = (0, 1, 2)
LONG_LOGS = 50
#: Checkpoint period (steps) of the long runs: a killed sweep resumes from the last one.
LONG_CHECKPOINT_EVERY = 600


def long_runs(methods: Sequence[str] = MOL_METHODS, seeds: Sequence[int] = LONG_SEEDS) -> list[tuple[str, Any]]:
    """The long profile's runs, seed-major (every method of seed 0 first), as notebook 06 builds them."""
    return [run for s in seeds for run in molecule_runs([s], 4 * LONG_STEPS, methods, n_logs=LONG_LOGS, reward=PAPER_REWARD)]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gafn_lib.repro.mol_experiments long [--methods ...] [--seeds ...] [--workers N] [--status]``:
    run the long profile's runs into the project's run store (``data/results/molecules``, which
    notebook 06 reads with ``profile="long"``), checkpointed; rerun the same command to resume.

    ``--workers 1`` (default) trains one run after the other in this process; ``--workers N`` trains
    ``N`` at a time in a process pool (one core and one torch thread each), in the same seed-major
    order. Each finished run is stored as soon as it finishes either way. ``--status`` trains nothing
    and prints each run's progress (done, checkpointed at which step, not started).
    Do not start two of these commands on the same runs at once: both would train them.
    """
    import argparse

    from gafn_lib.core.runtime import configure_threads
    from gafn_lib.repro import paths
    from gafn_lib.runner import RunsInProgressError, SweepError

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("profile", choices=["long"])
    parser.add_argument("--methods", nargs="+", default=list(MOL_METHODS), choices=list(MOL_METHODS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(LONG_SEEDS))
    parser.add_argument("--results-dir", default=None, help="default: <project root>/data/results")
    parser.add_argument("--workers", type=int, default=1, help="runs trained at a time, one core each (default 1)")
    parser.add_argument("--status", action="store_true", help="print each run's progress and exit (trains nothing)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be >= 1, got {args.workers}")
    configure_threads(1)
    results = args.results_dir or paths.project_root() / "data" / "results"
    runs = long_runs(args.methods, args.seeds)
    if args.status:
        progress = progress_of(runs, results)
        print(progress.to_string(index=False))
        print(f"{int((progress['status'] == 'done').sum())} of {len(progress)} runs done")
        return 0
    try:
        if args.workers == 1:
            for label, config in runs:  # one at a time: each finished run is stored at once
                print(f"{label} seed {config.seed}: {config.n_steps} steps", flush=True)
                run_molecules([(label, config)], results, workers=1, backend="serial", progress=False, checkpoint_every=LONG_CHECKPOINT_EVERY)
        else:
            print(f"{len(runs)} runs, {args.workers} at a time (finished ones are skipped)", flush=True)
            run_molecules(runs, results, workers=args.workers, backend="process", progress=True, checkpoint_every=LONG_CHECKPOINT_EVERY)
    except (SweepError, RunsInProgressError) as err:
        print(f"error: {err}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
