"""Typed run configurations with the paper's defaults, validated at construction."""

from __future__ import annotations

from dataclasses import dataclass, fields

from gafn_lib.core.augment import AUGMENT_MODES
from gafn_lib.envs.hypergrid import HypergridConfig
from gafn_lib.core.intrinsic import INTRINSIC_REWARDS, PAPER_RND_ETA
from gafn_lib.core.objectives import OBJECTIVES
from gafn_lib.core.validation import check_choice, check_counts, check_positive, check_threads, check_unit_interval

#: η used for grid heights the paper does not list.
DEFAULT_RND_ETA = 0.005
#: Default η of the count-based bonus η/√N(s): chosen so that a never-seen state gets a bonus of the
#: same order as a fresh RND error times the paper's η (see docs/method.md).
DEFAULT_COUNT_ETA = 0.01


@dataclass(frozen=True)
class GridFields:
    """The hypergrid fields every grid run config starts with (see :class:`HypergridConfig`):
    ``ndim``, ``height``, ``reward``, ``termination`` and the dense reward's ``r0``, ``r1``, ``r2``."""

    ndim: int = 2
    height: int = 8
    reward: str = "sparse"
    termination: str = "edge"
    r0: float = 0.1
    r1: float = 0.5
    r2: float = 2.0

    def grid_config(self) -> HypergridConfig:
        """The :class:`HypergridConfig` of this run; constructing it validates the grid fields."""
        return HypergridConfig(
            ndim=self.ndim, height=self.height, reward=self.reward, termination=self.termination,
            r0=self.r0, r1=self.r1, r2=self.r2,
        )


@dataclass(frozen=True)
class GridTrainConfig(GridFields):
    """A GFlowNet / GAFlowNet run on the hypergrid. Defaults are the paper's (GridWorld, §5.1).

    Attributes:
        ndim, height, reward, termination, r0, r1, r2: the grid (see :class:`HypergridConfig`).
        objective: ``"tb"`` (paper), ``"db"``, ``"subtb"`` or ``"fm"``.
        augment: ``"joint"`` (GAFlowNet), ``"edge"``, ``"node"`` or ``"none"`` (plain GFlowNet).
        intrinsic: ``"rnd"`` (paper), ``"count"`` (η/√N(s)) or ``"none"``. ``None`` picks ``"rnd"``
            when ``augment != "none"`` and ``"none"`` otherwise.
        eta: intrinsic coefficient η. ``None``: the paper's value for ``height`` with RND
            (8: 0.005, 16: 0.005, 32: 0.001, 64: 0.005, 128: 0.001; 0.005 otherwise), 0.01 for counts.
        subtb_lambda: λ of SubTB(λ).
        hidden, n_layers: policy MLP (paper: 2 × 256, LeakyReLU).
        uniform_pb: fix P_B to uniform over valid parents (paper: learned).
        lr, lr_logz: Adam learning rates of the networks (1e-3) and of log Z (0.1).
        batch_size: trajectories per step (16). n_steps: training steps (20 000).
        epsilon: ε-uniform exploration (paper: 0). temperature: sampling temperature (1).
        log_every: evaluate and log metrics every this many steps (and at the last step).
        seed: random seed. device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        threads: torch intra-op threads (``None``: ``$GAFN_NUM_THREADS``, default 1).
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

    def __post_init__(self) -> None:
        check_choice("objective", self.objective, OBJECTIVES)
        check_choice("augment", self.augment, AUGMENT_MODES)
        if self.intrinsic is None:
            object.__setattr__(self, "intrinsic", "rnd" if self.augment != "none" else "none")
        check_choice("intrinsic", self.intrinsic, INTRINSIC_REWARDS)
        if self.augment != "none" and self.intrinsic == "none":
            raise ValueError(f"augment={self.augment!r} needs an intrinsic reward: set intrinsic='rnd' or 'count', or augment='none'")
        if self.augment == "none" and self.intrinsic != "none":
            raise ValueError(f"intrinsic={self.intrinsic!r} has no effect with augment='none': choose an augment mode or intrinsic='none'")
        if self.eta is None:
            if self.intrinsic == "rnd":
                object.__setattr__(self, "eta", PAPER_RND_ETA.get(self.height, DEFAULT_RND_ETA))
            elif self.intrinsic == "count":
                object.__setattr__(self, "eta", DEFAULT_COUNT_ETA)
            else:
                object.__setattr__(self, "eta", 0.0)
        check_positive("eta", self.eta, strict=False)
        check_positive("subtb_lambda", self.subtb_lambda)
        check_counts(self, ("hidden", "n_layers", "batch_size", "n_steps", "log_every"))
        check_positive("lr", self.lr)
        check_positive("lr_logz", self.lr_logz)
        check_positive("temperature", self.temperature)
        check_unit_interval("epsilon", self.epsilon)
        check_threads(self.threads)
        self.grid_config()  # validates ndim, height, reward, termination and the reward constants

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]
