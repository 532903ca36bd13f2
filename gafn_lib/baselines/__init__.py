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

from gafn_lib.registry import method_config, method_names, method_spec, methods_of_algo

_GRID_METHODS = [method_spec(name, "grid") for name in method_names("grid")]
#: The grid command line's baseline ``--algo`` choices (from :data:`gafn_lib.registry.METHODS`).
BASELINE_ALGOS = tuple(dict.fromkeys(spec.algo for spec in _GRID_METHODS if spec.family == "baseline"))

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
    """The config of ``--algo mcmc | ppo | ppo_rnd`` from parsed CLI arguments, built from the
    method table (:data:`gafn_lib.registry.METHODS`: ``mcmc``, ``ppo``, ``ppo-rnd`` on the grid).

    ``common`` holds the grid and run fields shared by every algorithm (ndim, height, reward,
    termination, n_steps, batch_size, log_every, seed, device, threads). ``batch_size`` goes to the
    method's ``batch_field``: the number of MCMC chains, or of PPO trajectories per step. Flags
    that an algorithm does not use are rejected when they differ from their defaults
    (``--epsilon``; ``--intrinsic``/``--eta`` where the method fixes or has no intrinsic reward;
    another method's own flags), so a silently ignored option cannot masquerade as an experiment.
    A method's own flags (:attr:`~gafn_lib.registry.MethodSpec.flags`: ``mcmc_floor`` → the MCMC
    relative reward floor, ``ppo_epochs``, ``ppo_clip``, ``ppo_entropy``) are read with defaults
    when the parser does not define them.
    """
    algo = args.algo
    if algo not in BASELINE_ALGOS:
        raise ValueError(f"algo must be one of {BASELINE_ALGOS}, got {algo!r}")
    (spec,) = methods_of_algo(algo, "grid")
    if getattr(args, "epsilon", 0.0) not in (0, 0.0, None):
        raise ValueError(f"--epsilon is not used by --algo {algo} (got {args.epsilon}); leave it at 0")
    for other in _GRID_METHODS:
        for flag in set(other.flags) - set(spec.flags):
            if getattr(args, flag, None) is not None:
                raise ValueError(f"--{flag.replace('_', '-')} is not used by --algo {algo}")
    intrinsic = getattr(args, "intrinsic", None)
    eta = getattr(args, "eta", None)
    fields = dict(common)
    fields[spec.batch_field] = fields.pop("batch_size")
    fields.update({field: getattr(args, flag) for flag, field in spec.flags.items() if getattr(args, flag, None) is not None})

    if "intrinsic" not in spec.fields:  # a method without an intrinsic reward (MCMC)
        if intrinsic not in (None, "none") or eta is not None:
            raise ValueError(f"--intrinsic and --eta are not used by --algo {algo}")
        return method_config(spec.name, "grid", **fields)
    fixed = spec.fields["intrinsic"]
    if intrinsic not in (None, fixed):
        alternatives = [s.algo for s in _GRID_METHODS if s.config == spec.config and s.fields.get("intrinsic") == intrinsic]
        hint = f"; use --algo {alternatives[0]}" if alternatives else ""
        raise ValueError(f"--algo {algo} uses intrinsic={fixed!r} (got --intrinsic {intrinsic}){hint}")
    if fixed == "none" and eta is not None:
        raise ValueError(f"--eta is only used with an intrinsic reward, not by --algo {algo}")
    return method_config(spec.name, "grid", eta=eta, lr=getattr(args, "lr", 1e-3), **fields)
