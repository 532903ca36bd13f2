"""Which trainer runs which config: the one place the runner, the CLI and notebooks dispatch through.

Every trainer follows the same small protocol (see :class:`gafn_lib.train.GridTrainer`):

- ``Trainer(config)`` builds everything from a frozen dataclass config (seeded);
- ``trainer.train(n_steps=None, progress=True, on_log=None) -> History`` runs to ``n_steps``
  (default ``config.n_steps``), logging a row every ``config.log_every`` steps and calling
  ``on_log(trainer)`` after each row;
- ``trainer.step_count``, ``trainer.history``;
- ``trainer.state_dict()`` / ``trainer.load_state_dict(state)`` hold tensors and plain containers
  only (loadable with ``torch.load(..., weights_only=True)``) and resume bit-for-bit on CPU.
"""

from __future__ import annotations

import importlib
from typing import Any

# config class path → trainer class path (imported lazily: molecules need RDKit, baselines are optional)
_TRAINERS: dict[str, str] = {
    "gafn_lib.config.GridTrainConfig": "gafn_lib.train.GridTrainer",
    "gafn_lib.baselines.mcmc.MCMCConfig": "gafn_lib.baselines.mcmc.MCMCTrainer",
    "gafn_lib.baselines.ppo.PPOConfig": "gafn_lib.baselines.ppo.PPOTrainer",
    "gafn_lib.mol_train.MolTrainConfig": "gafn_lib.mol_train.MolTrainer",
    "gafn_lib.baselines.mol_ppo.MolPPOConfig": "gafn_lib.baselines.mol_ppo.MolPPOTrainer",
    "gafn_lib.baselines.mars.MARSConfig": "gafn_lib.baselines.mars.MARSTrainer",
}


def _load(path: str):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def register(config_cls: type, trainer_path: str) -> None:
    """Register a trainer for a new config class (for extensions outside the library)."""
    _TRAINERS[f"{config_cls.__module__}.{config_cls.__qualname__}"] = trainer_path


def config_key(config: Any) -> str:
    cls = type(config)
    return f"{cls.__module__}.{cls.__qualname__}"


def config_class(key: str) -> type:
    """The config class registered under ``key`` (``"module.Class"``)."""
    if key not in _TRAINERS:
        raise ValueError(f"unknown config class {key!r}; registered: {sorted(_TRAINERS)}")
    return _load(key)


def trainer_class(config: Any) -> type:
    """The trainer class registered for ``type(config)`` (imported on first use)."""
    key = config_key(config)
    if key not in _TRAINERS:
        raise ValueError(f"no trainer registered for config type {key}; registered: {sorted(_TRAINERS)}")
    return _load(_TRAINERS[key])


def make_trainer(config: Any):
    """Build the trainer registered for ``type(config)``."""
    return trainer_class(config)(config)


def run(config: Any, progress: bool = True):
    """Train the method described by ``config`` and return its History."""
    return make_trainer(config).train(progress=progress)
