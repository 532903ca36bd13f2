"""The algorithm's config, apart from any environment's.

:class:`TrainConfig` holds what the GFlowNet algorithm needs (objective, augmentation, intrinsic
reward, η, networks, optimiser, batch, steps, seed, device); the environment is passed to the
trainer as an object (``GFlowNetTrainer(TrainConfig(...), env=my_env)``) or named by the config:

- :class:`gafn_lib.grid.config.GridTrainConfig` adds the hypergrid's fields (the paper's GridWorld);
- :class:`EnvTrainConfig` adds ``env``: a name registered in :data:`ENVIRONMENTS` (with
  ``env_kwargs``) or an environment spec, a frozen dataclass with a ``make(device)`` method
  (e.g. :class:`gafn_lib.envs.BitSequencesConfig`). Its fields go into the run id.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from gafn_lib.core.augment import AUGMENT_MODES
from gafn_lib.core.components import Registry
from gafn_lib.core.intrinsic import check_intrinsic
from gafn_lib.core.objectives import OBJECTIVES
from gafn_lib.core.validation import check_choice, check_counts, check_positive, check_threads, check_unit_interval
from gafn_lib.registry import added_field

#: η used where the paper gives no value (RND).
DEFAULT_RND_ETA = 0.005
#: Default η of the count-based bonus η/√N(s): chosen so that a never-seen state gets a bonus of the
#: same order as a fresh RND error times the paper's η (see docs/method.md).
DEFAULT_COUNT_ETA = 0.01

#: What :meth:`TrainConfig.quick` changes from the paper's defaults: a run of seconds on a small
#: environment (300 steps, a 2 × 64 network, a history row every 50 steps), for trying things out.
QUICK_PRESET = MappingProxyType({"n_steps": 300, "hidden": 64, "log_every": 50})

#: How a run samples its trajectories (:attr:`TrainConfig.sampling`).
SAMPLING_MODES = ("auto", "tables", "per_move")

#: name -> factory ``(device, **env_kwargs) -> environment`` (see :class:`EnvTrainConfig`).
ENVIRONMENTS: Registry[Any] = Registry("environment", {})


def register_environment(name: str, factory, overwrite: bool = False) -> None:
    """Make ``EnvTrainConfig(env=name, env_kwargs={...})`` build ``factory(device, **env_kwargs)``."""
    ENVIRONMENTS.register(name, factory, overwrite=overwrite)


@dataclass(frozen=True)
class TrainConfig:
    """A GFlowNet / GAFlowNet run's algorithm. Defaults are the paper's (GridWorld, §5.1).

    Attributes:
        objective: ``"tb"`` (paper), ``"db"``, ``"subtb"`` or ``"fm"``.
        augment: ``"joint"`` (GAFlowNet), ``"edge"``, ``"node"`` or ``"none"`` (plain GFlowNet).
        intrinsic: ``"rnd"`` (paper), ``"count"`` (η/√N(s)), ``"none"`` or a name added with
            :func:`gafn_lib.core.intrinsic.register_intrinsic`. ``None`` picks ``"rnd"`` when
            ``augment != "none"`` and ``"none"`` otherwise.
        eta: intrinsic coefficient η. ``None``: :meth:`default_eta` (0.005 for RND, 0.01 for
            counts; the grid config uses the paper's value per height).
        subtb_lambda: λ of SubTB(λ).
        hidden, n_layers: policy MLP (paper: 2 × 256, LeakyReLU).
        uniform_pb: fix P_B to uniform over valid parents (paper: learned).
        lr, lr_logz: Adam learning rates of the networks (1e-3) and of log Z (0.1).
        batch_size: trajectories per step (16). n_steps: training steps (20 000).
        epsilon: ε-uniform exploration (paper: 0). temperature: sampling temperature (1).
        log_every: evaluate and log metrics every this many steps (and at the last step).
        seed: random seed. device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        threads: torch intra-op threads (``None``: ``$GAFN_NUM_THREADS``, default 1).
        sampling: how trajectories are sampled: the same distribution, a different cost (on this
            project's CPU the same numbers bit for bit, measured at H = 32–128, where the loss
            evaluates the visited states either way; on a grid of ≤ 512 states ``"per_move"`` also
            moves the loss from the table of every state to the visited states).
            ``"auto"``: the cheaper way for one run
            (:func:`gafn_lib.core.ensemble.trainer.evaluation_modes`); ``"tables"``: from the
            policy evaluated on every state once per step (an environment that lists its states);
            ``"per_move"``: one network call per move, on the batch's current states. In an
            ensemble the per-move calls are shared by the members and the tables are not, so large
            ensembles on large grids gain from ``"per_move"`` (2-D, H = 128, 10 members: 1.54× a
            step). A field of the run, not of its ensemble, so that a member samples alike alone or
            with partners.
    """

    objective: str = "tb"
    augment: str = "joint"
    intrinsic: str | None = None
    eta: float | None = None
    subtb_lambda: float = 0.9
    hidden: int = 256
    n_layers: int = 2
    uniform_pb: bool = False
    lr: float = 1e-3
    lr_logz: float = 0.1
    batch_size: int = 16
    n_steps: int = 20_000
    epsilon: float = 0.0
    temperature: float = 1.0
    log_every: int = 100
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    sampling: str = added_field("auto")

    def __post_init__(self) -> None:
        check_choice("objective", self.objective, OBJECTIVES)
        check_choice("sampling", self.sampling, SAMPLING_MODES)
        check_choice("augment", self.augment, AUGMENT_MODES)
        if self.intrinsic is None:
            object.__setattr__(self, "intrinsic", "rnd" if self.augment != "none" else "none")
        check_intrinsic(self.intrinsic, supported_by="gflownet")
        if self.augment != "none" and self.intrinsic == "none":
            raise ValueError(f"augment={self.augment!r} needs an intrinsic reward: set intrinsic='rnd' or 'count', or augment='none'")
        if self.augment == "none" and self.intrinsic != "none":
            raise ValueError(f"intrinsic={self.intrinsic!r} has no effect with augment='none': choose an augment mode or intrinsic='none'")
        if self.eta is None:
            object.__setattr__(self, "eta", self.default_eta())
        check_positive("eta", self.eta, strict=False)
        check_positive("subtb_lambda", self.subtb_lambda)
        check_counts(self, ("hidden", "n_layers", "batch_size", "n_steps", "log_every"))
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        check_positive("lr", self.lr)
        check_positive("lr_logz", self.lr_logz)
        check_positive("temperature", self.temperature)
        check_unit_interval("epsilon", self.epsilon)
        check_threads(self.threads)

    def default_eta(self) -> float:
        """η when the config leaves it ``None``: 0.005 for RND, 0.01 for counts, 0.005 for a
        registered intrinsic reward, 0 without one."""
        if self.intrinsic == "count":
            return DEFAULT_COUNT_ETA
        return 0.0 if self.intrinsic == "none" else DEFAULT_RND_ETA

    def make_env(self, device):
        """The environment this config names. A bare :class:`TrainConfig` names none."""
        raise ValueError(
            "TrainConfig holds only the algorithm: pass the environment to the trainer "
            "(GFlowNetTrainer(config, env=...)), or use GridTrainConfig / EnvTrainConfig, which name one"
        )

    @classmethod
    def quick(cls, **overrides: Any):
        """A small config for quick tries: :data:`QUICK_PRESET` (300 steps, hidden 64, a row every
        50 steps) over the defaults, then ``overrides``. Works on every subclass:
        ``TrainConfig.quick(objective="db")``, ``GridTrainConfig.quick(height=16)``,
        ``EnvTrainConfig.quick(env="bitseq")``. (The plain constructor gives the paper's 20,000
        steps of a 2 × 256 network.)"""
        return cls(**{**QUICK_PRESET, **overrides})

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


@dataclass(frozen=True)
class EnvTrainConfig(TrainConfig):
    """A run on any environment, named in the config so the runner can rebuild it.

    Attributes:
        env: a name registered with :func:`register_environment`, or an environment spec: a frozen
            dataclass with a ``make(device)`` method returning the environment.
        env_kwargs: keyword arguments of a registered environment's factory (a dict; ignored for specs).
        (every other field: see :class:`TrainConfig`)
    """

    env: Any = None
    env_kwargs: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.env, str):
            ENVIRONMENTS.check("env", self.env)
        elif not (dataclasses.is_dataclass(self.env) and callable(getattr(self.env, "make", None))):
            raise ValueError(
                f"env must be a registered environment name {ENVIRONMENTS.names()} or a frozen dataclass spec "
                f"with a make(device) method, got {self.env!r}"
            )
        if not isinstance(self.env_kwargs, dict):
            raise ValueError(f"env_kwargs must be a dict, got {self.env_kwargs!r}")

    def make_env(self, device):
        if isinstance(self.env, str):
            return ENVIRONMENTS.make(self.env, device, **self.env_kwargs)
        return self.env.make(device)
