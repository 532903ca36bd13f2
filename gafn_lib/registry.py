"""Which trainer runs which config, and which config each method is: the one place the runner,
the command lines and the notebooks dispatch through.

- :data:`METHODS` — every method of the paper by ``(domain, name)``: its config class and the field
  values that define it (:class:`MethodSpec`); :func:`method_config` builds a method's config.
- the trainer table — config class → trainer class (:func:`make_trainer`, :func:`run`), and the
  stable class keys that run ids hash (:func:`config_key`).

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
from dataclasses import MISSING, dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

# config class path → trainer class path (imported lazily: molecules need RDKit, baselines are optional)
_TRAINERS: dict[str, str] = {
    "gafn_lib.grid.config.GridTrainConfig": "gafn_lib.core.trainer.GridTrainer",
    "gafn_lib.baselines.mcmc.MCMCConfig": "gafn_lib.baselines.mcmc.MCMCTrainer",
    "gafn_lib.baselines.ppo.PPOConfig": "gafn_lib.baselines.ppo.PPOTrainer",
    "gafn_lib.molecules.config.MolTrainConfig": "gafn_lib.molecules.trainer.MolTrainer",
    "gafn_lib.baselines.mol_ppo.MolPPOConfig": "gafn_lib.baselines.mol_ppo.MolPPOTrainer",
    "gafn_lib.baselines.mars.MARSConfig": "gafn_lib.baselines.mars.MARSTrainer",
    "gafn_lib.baselines.random_search.RandomSearchConfig": "gafn_lib.baselines.random_search.RandomSearchTrainer",
}


#: Where a config class lived before the library was laid out by domain. The run id hashes the
#: config's class key, so moved classes keep their old key and cached runs keep their ids.
_STABLE_KEYS: dict[str, str] = {
    "gafn_lib.grid.config.GridTrainConfig": "gafn_lib.config.GridTrainConfig",
    "gafn_lib.molecules.config.MolTrainConfig": "gafn_lib.mol_train.MolTrainConfig",
}
_CURRENT_PATHS = {old: new for new, old in _STABLE_KEYS.items()}

#: Field metadata key of a config field added after runs of its class were stored (:func:`added_field`).
ADDED_FIELD_KEY = "gafn_implicit_before"


def added_field(default: Any, *, implicit: Any = MISSING) -> Any:
    """A dataclass field added to a config class after runs of that class were stored.

    ``implicit`` (default: ``default``) is the value every run stored before the field existed had
    without naming it. :func:`gafn_lib.runner.store.run_id` leaves the field out of the hash while it
    holds that value, so those runs keep their ids (as :data:`_STABLE_KEYS` does for moved classes);
    any other value enters the id like an ordinary field. The field is an ordinary field everywhere
    else (tables, metadata, ``History.config``). Changing the default later does not change
    ``implicit``: pass it explicitly then.

    Example: ``network: str = added_field("compact")``.
    """
    return field(default=default, metadata={ADDED_FIELD_KEY: default if implicit is MISSING else implicit})


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


# ------------------------------------------------------------------------------------ methods
#: The domains a method runs in: the paper's GridWorld (hypergrid) and fragment-based molecules.
DOMAINS = ("grid", "molecules")


@dataclass(frozen=True)
class MethodSpec:
    """One method in one domain: which config class runs it and which field values define it.

    Attributes:
        name: the method's name in :data:`METHODS` (``"gaflownet"``, ``"gflownet"``, ``"mcmc"``,
            ``"ppo"``, ``"ppo-rnd"``, ``"mars"``, ``"random"``).
        domain: ``"grid"`` or ``"molecules"`` (:data:`DOMAINS`).
        config: import path of the config class (imported on first use).
        fields: the field values that make a config this method (e.g. GAFlowNet on the grid:
            ``objective="tb", augment="joint", intrinsic="rnd"``); every other field keeps the
            config class's default unless :func:`method_config` overrides it.
        label: how notebooks, tables and figures name the method (``"GAFlowNet"``, ``"PPO + RND"``).
        algo: the method's ``--algo`` on its command line (``python -m gafn_lib grid`` / ``mols``).
        family: ``"gflownet"`` (a GFlowNet config: objective, augment, intrinsic, η...) or ``"baseline"``.
        batch_field: the field counting what one step generates (trajectories; chains for MCMC, MARS).
        flags: command-line option (argparse dest) → config field, for the method's own options.
    """

    name: str
    domain: str
    config: str
    fields: Mapping[str, Any]
    label: str
    algo: str
    family: str = "baseline"
    batch_field: str = "batch_size"
    flags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))
        object.__setattr__(self, "flags", MappingProxyType(dict(self.flags)))

    def config_class(self) -> type:
        """The config class (imported now)."""
        return _load(self.config)


_PPO_FLAGS = {"ppo_epochs": "epochs", "ppo_clip": "clip", "ppo_entropy": "entropy_coef"}
_GRID_GFN = "gafn_lib.grid.config.GridTrainConfig"
_MOL_GFN = "gafn_lib.molecules.config.MolTrainConfig"

#: ``(domain, name) → MethodSpec``: every method the command lines and the notebooks build.
METHODS: dict[tuple[str, str], MethodSpec] = {
    (spec.domain, spec.name): spec
    for spec in (
        # GridWorld (paper §5.1; notebooks 01-05, python -m gafn_lib grid)
        MethodSpec("gaflownet", "grid", _GRID_GFN, {"objective": "tb", "augment": "joint", "intrinsic": "rnd"}, "GAFlowNet", "gfn", "gflownet"),
        MethodSpec("gflownet", "grid", _GRID_GFN, {"objective": "tb", "augment": "none", "intrinsic": "none"}, "GFlowNet (TB)", "gfn", "gflownet"),
        MethodSpec("mcmc", "grid", "gafn_lib.baselines.mcmc.MCMCConfig", {}, "MCMC", "mcmc",
                   batch_field="n_chains", flags={"mcmc_floor": "reward_floor"}),
        MethodSpec("ppo", "grid", "gafn_lib.baselines.ppo.PPOConfig", {"intrinsic": "none"}, "PPO", "ppo", flags=_PPO_FLAGS),
        MethodSpec("ppo-rnd", "grid", "gafn_lib.baselines.ppo.PPOConfig", {"intrinsic": "rnd"}, "PPO + RND", "ppo_rnd", flags=_PPO_FLAGS),
        # Molecules (paper §5.2; notebook 06, python -m gafn_lib mols)
        MethodSpec("gaflownet", "molecules", _MOL_GFN, {"objective": "fm", "augment": "joint", "intrinsic": "rnd"}, "GAFlowNet", "gafn", "gflownet"),
        MethodSpec("gflownet", "molecules", _MOL_GFN, {"objective": "fm", "augment": "none", "intrinsic": "none"}, "GFlowNet", "gfn", "gflownet"),
        MethodSpec("ppo", "molecules", "gafn_lib.baselines.mol_ppo.MolPPOConfig", {}, "PPO", "ppo", flags=_PPO_FLAGS),
        MethodSpec("mars", "molecules", "gafn_lib.baselines.mars.MARSConfig", {}, "MARS", "mars", batch_field="n_chains",
                   flags={"mars_temperature_init": "temperature_init", "mars_temperature_final": "temperature_final"}),
        MethodSpec("random", "molecules", "gafn_lib.baselines.random_search.RandomSearchConfig", {}, "Random", "random"),
    )
}


def _check_domain(domain: str) -> None:
    if domain not in DOMAINS:
        raise ValueError(f"domain must be one of {DOMAINS}, got {domain!r}")


def method_names(domain: str) -> tuple[str, ...]:
    """The methods of ``domain`` (``"grid"`` or ``"molecules"``), in :data:`METHODS` order."""
    _check_domain(domain)
    return tuple(name for d, name in METHODS if d == domain)


def method_spec(name: str, domain: str) -> MethodSpec:
    """The :class:`MethodSpec` of method ``name`` in ``domain``; raises ``ValueError`` naming the
    allowed values."""
    _check_domain(domain)
    if (domain, name) not in METHODS:
        raise ValueError(f"method must be one of {method_names(domain)} for domain {domain!r}, got {name!r}")
    return METHODS[(domain, name)]


def method_by_label(label: str, domain: str) -> MethodSpec:
    """The method of ``domain`` that notebooks label ``label`` (e.g. ``"GFlowNet (TB)"``)."""
    _check_domain(domain)
    for (d, _), spec in METHODS.items():
        if d == domain and spec.label == label:
            return spec
    raise ValueError(f"unknown method {label!r}; known: {tuple(s.label for (d, _), s in METHODS.items() if d == domain)}")


def method_algos(domain: str) -> tuple[str, ...]:
    """The ``--algo`` choices of ``domain``'s command line (each once, in :data:`METHODS` order)."""
    return tuple(dict.fromkeys(method_spec(name, domain).algo for name in method_names(domain)))


def methods_of_algo(algo: str, domain: str) -> tuple[MethodSpec, ...]:
    """The methods ``--algo algo`` can build (the grid's ``gfn`` is GAFlowNet or the plain GFlowNet)."""
    specs = tuple(method_spec(name, domain) for name in method_names(domain) if METHODS[(domain, name)].algo == algo)
    if not specs:
        raise ValueError(f"algo must be one of {method_algos(domain)}, got {algo!r}")
    return specs


def method_config(name: str, domain: str, **overrides: Any):
    """The config of method ``name`` in ``domain``: the method's defining fields, then ``overrides``
    (any field of its config class), every other field at the class's default.

    Example:
        >>> config = method_config("gaflownet", "grid", height=32, seed=0, n_steps=2000)
        >>> config.objective, config.augment, config.intrinsic, config.eta
        ('tb', 'joint', 'rnd', 0.001)
    """
    spec = method_spec(name, domain)
    return spec.config_class()(**{**spec.fields, **overrides})
