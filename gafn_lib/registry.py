"""Which trainer runs which config: the one place the runner, the CLI and notebooks dispatch through.

Every trainer follows the same small protocol (see :class:`gafn_lib.core.trainer.GridTrainer`):

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
    "gafn_lib.grid.config.GridTrainConfig": "gafn_lib.core.trainer.GridTrainer",
    "gafn_lib.baselines.mcmc.MCMCConfig": "gafn_lib.baselines.mcmc.MCMCTrainer",
    "gafn_lib.baselines.ppo.PPOConfig": "gafn_lib.baselines.ppo.PPOTrainer",
    "gafn_lib.molecules.trainer.MolTrainConfig": "gafn_lib.molecules.trainer.MolTrainer",
    "gafn_lib.baselines.mol_ppo.MolPPOConfig": "gafn_lib.baselines.mol_ppo.MolPPOTrainer",
    "gafn_lib.baselines.mars.MARSConfig": "gafn_lib.baselines.mars.MARSTrainer",
    "gafn_lib.baselines.random_search.RandomSearchConfig": "gafn_lib.baselines.random_search.RandomSearchTrainer",
}


#: Where a config class lived before the library was laid out by domain. The run id hashes the
#: config's class key, so moved classes keep their old key and cached runs keep their ids.
_STABLE_KEYS: dict[str, str] = {
    "gafn_lib.grid.config.GridTrainConfig": "gafn_lib.config.GridTrainConfig",
    "gafn_lib.molecules.trainer.MolTrainConfig": "gafn_lib.mol_train.MolTrainConfig",
}
_CURRENT_PATHS = {old: new for new, old in _STABLE_KEYS.items()}


def _load(path: str):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def register(config_cls: type, trainer_path: str) -> None:
    """Register a trainer for a new config class (for extensions outside the library)."""
    _TRAINERS[f"{config_cls.__module__}.{config_cls.__qualname__}"] = trainer_path


def config_key(config: Any) -> str:
    """The stable key of ``type(config)`` (its import path; the old path for classes that moved)."""
    cls = type(config)
    path = f"{cls.__module__}.{cls.__qualname__}"
    return _STABLE_KEYS.get(path, path)


def config_class(key: str) -> type:
    """The config class registered under ``key`` (``"module.Class"``)."""
    key = _CURRENT_PATHS.get(key, key)
    if key not in _TRAINERS:
        raise ValueError(f"unknown config class {key!r}; registered: {sorted(_TRAINERS)}")
    return _load(key)


def trainer_class(config: Any) -> type:
    """The trainer class registered for ``type(config)`` (imported on first use)."""
    cls = type(config)
    key = f"{cls.__module__}.{cls.__qualname__}"
    if key not in _TRAINERS:
        raise ValueError(f"no trainer registered for config type {key}; registered: {sorted(_TRAINERS)}")
    return _load(_TRAINERS[key])


def make_trainer(config: Any):
    """Build the trainer registered for ``type(config)``."""
    return trainer_class(config)(config)


def run(config: Any, progress: bool = True):
    """Train the method described by ``config`` and return its History."""
    return make_trainer(config).train(progress=progress)
