"""Baselines on the hypergrid (paper §3): Metropolis–Hastings MCMC and PPO (optionally + RND).

Both follow the trainer protocol of :class:`gafn_lib.core.trainer.GridTrainer` (see
:mod:`gafn_lib.registry`) and log the same metric rows through
:class:`gafn_lib.core.tracking.MetricsTracker`, on the same budget: 16 terminal states per step.

- :mod:`gafn_lib.baselines.mcmc` — ``MCMCConfig`` / ``MCMCTrainer``
- :mod:`gafn_lib.baselines.ppo` — ``PPOConfig`` / ``PPOTrainer``
- :mod:`gafn_lib.baselines.ppo_ensemble` — ``PPOEnsembleTrainer`` (``K`` PPO runs as one batched
  model; ``PPOTrainer`` is its ``K = 1``)

Molecule baselines (paper §4), on the GFlowNet's fragment MDP, network and metrics:

- :mod:`gafn_lib.baselines.mol_ppo` — ``MolPPOConfig`` / ``MolPPOTrainer``
- :mod:`gafn_lib.baselines.mars` — ``MARSConfig`` / ``MARSTrainer`` (MARS, Xie et al. 2021)

This package module also holds :func:`baseline_config_from_args` for the command line (the
training loop and RNG snapshot come from :mod:`gafn_lib.core.loop`, shared with every trainer).
The submodules are imported lazily, so ``import gafn_lib.baselines`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

BASELINE_ALGOS = ("mcmc", "ppo", "ppo_rnd")

_LAZY = {
    "MCMCConfig": "gafn_lib.baselines.mcmc",
    "MCMCTrainer": "gafn_lib.baselines.mcmc",
    "mcmc_transition_matrix": "gafn_lib.baselines.mcmc",
    "PPOConfig": "gafn_lib.baselines.ppo",
    "PPOTrainer": "gafn_lib.baselines.ppo_ensemble",
    "PPOEnsembleTrainer": "gafn_lib.baselines.ppo_ensemble",
    "MolPPOConfig": "gafn_lib.baselines.mol_ppo",
    "MolPPOTrainer": "gafn_lib.baselines.mol_ppo",
    "MARSConfig": "gafn_lib.baselines.mars",
    "MARSTrainer": "gafn_lib.baselines.mars",
}

__all__ = ["BASELINE_ALGOS", "baseline_config_from_args", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------------- command line
def baseline_config_from_args(args, common: dict):
    """The config of ``--algo mcmc | ppo | ppo_rnd`` from parsed CLI arguments.

    ``common`` holds the grid and run fields shared by every algorithm (ndim, height, reward,
    termination, n_steps, batch_size, log_every, seed, device, threads). ``batch_size`` is the number
    of MCMC chains, or of PPO trajectories per step. Flags that an algorithm does not use are
    rejected when they differ from their defaults (``--epsilon``; ``--intrinsic``/``--eta`` for
    MCMC), so a silently ignored option cannot masquerade as an experiment. Optional
    algorithm-specific attributes, read with defaults when the parser does not define them:
    ``mcmc_floor`` (MCMC relative reward floor), ``ppo_epochs``, ``ppo_clip``, ``ppo_entropy``.
    """
    algo = args.algo
    if algo not in BASELINE_ALGOS:
        raise ValueError(f"algo must be one of {BASELINE_ALGOS}, got {algo!r}")
    if getattr(args, "epsilon", 0.0) not in (0, 0.0, None):
        raise ValueError(f"--epsilon is not used by --algo {algo} (got {args.epsilon}); leave it at 0")
    intrinsic = getattr(args, "intrinsic", None)
    eta = getattr(args, "eta", None)
    common = dict(common)

    if algo == "mcmc":
        from gafn_lib.baselines.mcmc import MCMCConfig

        if intrinsic not in (None, "none") or eta is not None:
            raise ValueError("--intrinsic and --eta are not used by --algo mcmc")
        extra = {}
        if getattr(args, "mcmc_floor", None) is not None:
            extra["reward_floor"] = args.mcmc_floor
        return MCMCConfig(n_chains=common.pop("batch_size"), **common, **extra)

    from gafn_lib.baselines.ppo import PPOConfig

    if algo == "ppo_rnd":
        if intrinsic not in (None, "rnd"):
            raise ValueError(f"--algo ppo_rnd uses the RND bonus; got --intrinsic {intrinsic}")
        intrinsic = "rnd"
    else:
        if intrinsic not in (None, "none"):
            raise ValueError(f"--algo ppo has no intrinsic reward (got --intrinsic {intrinsic}); use --algo ppo_rnd")
        if eta is not None:
            raise ValueError("--eta is only used by --algo ppo_rnd")
        intrinsic = "none"
    extra = {}
    for flag, field in (("ppo_epochs", "epochs"), ("ppo_clip", "clip"), ("ppo_entropy", "entropy_coef")):
        if getattr(args, flag, None) is not None:
            extra[field] = getattr(args, flag)
    return PPOConfig(intrinsic=intrinsic, eta=eta, lr=getattr(args, "lr", 1e-3), **common, **extra)

