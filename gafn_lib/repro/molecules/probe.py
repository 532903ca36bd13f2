"""Short molecule runs that explain a choice or a failure.

- :func:`option_probe` (notebook 06's last section): short GAFlowNet runs with each of the public
  release's options, to choose the GFlowNets' defaults.
- :func:`collapse_probe` (``python -m gafn_lib.repro.molecules.probe collapse``): the release
  GFlowNet collapses onto 2-block molecules in the decisive run; these runs switch its loss
  options one at a time to find which one does it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gafn_lib.registry import method_config

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


def option_probe(variants: dict[str, dict[str, Any]] = OPTION_PROBES, n_steps: int = 600, seed: int = 0,
                 threshold: float = 6.0, score_cut: float = 6.0) -> pd.DataFrame:
    """Short runs of GAFlowNet (FM, joint RND; the plain GFlowNet for a variant with ``augment="none"``),
    built by :func:`gafn_lib.registry.method_config`, with each option set, same budget and seed: the share
    of unique molecules scoring above ``score_cut``, the top-10 reward, the mean length of the last
    200 steps' molecules and the mean intrinsic reward at the end (minutes per variant on one core)."""
    from gafn_lib.envs.fragments import FragmentMDP
    from gafn_lib.envs.sehproxy import SEHProxy
    from gafn_lib.molecules.trainer import MolTrainer

    proxy, mdp = SEHProxy.load(), FragmentMDP()
    rows = []
    for name, fields in variants.items():
        method = "gflownet" if fields.get("augment") == "none" else "gaflownet"
        config = method_config(method, "molecules", n_steps=n_steps, log_every=n_steps, seed=seed, reward_threshold=threshold, **fields)
        trainer = MolTrainer(config, proxy, mdp)  # one proxy and MDP for every variant
        lengths = [trainer.step()["mean_length"] for _ in range(n_steps)]
        row = trainer.evaluate()
        above = sum(1 for score, _ in trainer.tracker.molecules.values() if score > score_cut)
        rows.append({"variant": name, "seed": seed, "steps": n_steps, "share_above_cut": above / row["unique_molecules"],
                     "unique_above_cut": above, "unique": row["unique_molecules"], "top10_reward": row["top10_reward"],
                     "mean_length_last200": float(np.mean(lengths[-200:])), "mean_intrinsic": row["mean_intrinsic"]})
    return pd.DataFrame(rows)


#: The release GFlowNet's collapse onto 2-block molecules (the decisive run), switched option by
#: option: the release preset with ``augment="none"`` and these fields changed.
COLLAPSE_PROBES: dict[str, dict[str, Any]] = {
    "release GFlowNet (log_reg_c 2.5e-5, leaf_coef 10)": {},
    "log_reg_c 0": {"log_reg_c": 0.0},
    "leaf_coef 1": {"leaf_coef": 1.0},
    "log_reg_c 0, leaf_coef 1": {"log_reg_c": 0.0, "leaf_coef": 1.0},
}
#: A run has collapsed when its molecules of the last quarter of the probe average fewer blocks.
COLLAPSED_BELOW_BLOCKS = 2.5


def collapse_probe(variants: dict[str, dict[str, Any]] = COLLAPSE_PROBES, n_steps: int = 1500, seeds=(0, 1),
                   progress: bool = True) -> pd.DataFrame:
    """Short runs of the release GFlowNet (``MolTrainConfig.preset("release", augment="none")``,
    paper reward) with each variant's fields changed, every seed: which option makes it collapse
    onto the shortest molecules.

    One row per variant × seed: ``blocks_first_quarter`` / ``blocks_last_quarter`` (mean blocks per
    molecule of the first and last quarter of the steps), ``unique_fraction`` (unique molecules /
    molecules), ``top10_score`` and ``collapsed`` (``blocks_last_quarter`` <
    :data:`COLLAPSED_BELOW_BLOCKS`; the molecules have 2 to 8 blocks). About 2 minutes per run of
    1,500 steps on one core."""
    from tqdm.auto import tqdm

    from gafn_lib.envs.fragments import FragmentMDP
    from gafn_lib.envs.sehproxy import SEHProxy
    from gafn_lib.molecules.config import MolTrainConfig
    from gafn_lib.molecules.trainer import MolTrainer

    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 4:
        raise ValueError(f"n_steps must be an integer >= 4, got {n_steps!r}")
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    proxy, mdp = SEHProxy.load(), FragmentMDP()
    rows = []
    jobs = [(name, fields, seed) for name, fields in variants.items() for seed in seeds]
    for name, fields, seed in tqdm(jobs, disable=not progress, desc="collapse probe"):
        config = MolTrainConfig.preset("release", seed=seed, augment="none", n_steps=n_steps, log_every=n_steps, **fields)
        trainer = MolTrainer(config, proxy, mdp)
        lengths = [trainer.step()["mean_length"] for _ in range(n_steps)]
        row = trainer.evaluate()
        quarter = n_steps // 4
        last = float(np.mean(lengths[-quarter:]))
        rows.append({"variant": name, "seed": seed, "steps": n_steps, "molecules": row["molecules_generated"],
                     "log_reg_c": config.log_reg_c, "leaf_coef": config.leaf_coef,
                     "blocks_first_quarter": float(np.mean(lengths[:quarter])), "blocks_last_quarter": last,
                     "unique_fraction": row["unique_molecules"] / row["molecules_generated"], "top10_score": row["top10_score"],
                     "collapsed": last < COLLAPSED_BELOW_BLOCKS})
    return pd.DataFrame(rows)


#: The collapse probe's table, beside the decisive run's report (``<results>/long/06_molecule_generation/``).
COLLAPSE_TABLE = "collapse_probe.csv"
#: The command that writes it (from the project root).
COLLAPSE_COMMAND = ("python -m gafn_lib.repro.molecules.probe collapse --seeds 0 1 2 "
                    "--out data/results/long/06_molecule_generation/collapse_probe.csv")


def collapse_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per variant of a :func:`collapse_probe` table, in its order: ``seeds``, ``collapsed``
    (``k of n``), the mean over seeds of ``blocks_last_quarter``, ``unique_fraction`` and
    ``top10_score``, and the fields changed (``log_reg_c``, ``leaf_coef``)."""
    if table.empty:
        raise ValueError("the collapse probe table is empty")
    rows = []
    for variant, runs in table.groupby("variant", sort=False):
        rows.append({"variant": variant, "log_reg_c": runs["log_reg_c"].iloc[0], "leaf_coef": runs["leaf_coef"].iloc[0],
                     "seeds": ", ".join(str(s) for s in runs["seed"]), "collapsed": f"{int(runs['collapsed'].sum())} of {len(runs)}",
                     "blocks_last_quarter": runs["blocks_last_quarter"].mean(), "unique_fraction": runs["unique_fraction"].mean(),
                     "top10_score": runs["top10_score"].mean()})
    return pd.DataFrame(rows)


def read_collapse_probe(results_dir) -> pd.DataFrame | None:
    """The committed collapse probe table beside the decisive run's report under ``results_dir``
    (:func:`gafn_lib.repro.molecules.decisive.report_dir`), or ``None`` when it has not been
    written (:data:`COLLAPSE_COMMAND`)."""
    from gafn_lib.repro.molecules.decisive import report_dir

    path = report_dir(results_dir) / COLLAPSE_TABLE
    return pd.read_csv(path) if path.exists() else None


def main(argv=None) -> int:
    """``python -m gafn_lib.repro.molecules.probe collapse [--steps 1500] [--seeds 0 1] [--out CSV]``:
    run :func:`collapse_probe` and print (and write) its table."""
    import argparse
    from pathlib import Path

    from gafn_lib.core.runtime import configure_threads

    parser = argparse.ArgumentParser(prog="python -m gafn_lib.repro.molecules.probe", description="The release GFlowNet's collapse, option by option")
    parser.add_argument("probe", choices=["collapse"])
    parser.add_argument("--steps", type=int, default=1500, help="steps per run (4 molecules each; default 1500)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--out", default=None, help="CSV to write (default: print only)")
    args = parser.parse_args(argv)
    if args.steps < 4:
        parser.error(f"--steps must be >= 4, got {args.steps}")
    configure_threads(1)
    table = collapse_probe(COLLAPSE_PROBES, n_steps=args.steps, seeds=args.seeds)
    print(table.to_string(index=False))
    for row in collapse_summary(table).itertuples():
        print(f"{row.variant}: collapsed in {row.collapsed} seeds (blocks in the last quarter {row.blocks_last_quarter:.2f}, "
              f"unique fraction {row.unique_fraction:.2f})")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, index=False)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
