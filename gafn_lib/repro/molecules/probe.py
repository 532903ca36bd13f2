"""The option probe of notebook 06's last section: short GAFlowNet runs with each of the public
release's options, to choose the GFlowNets' defaults."""

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
