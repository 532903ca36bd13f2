"""Run configs on the paper's GridWorld: the hypergrid's fields plus the algorithm's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gafn_lib.core.config import DEFAULT_COUNT_ETA, DEFAULT_RND_ETA, TrainConfig
from gafn_lib.core.intrinsic import PAPER_RND_ETA
from gafn_lib.envs.hypergrid import Hypergrid, HypergridConfig

__all__ = ["DEFAULT_COUNT_ETA", "DEFAULT_RND_ETA", "GridFields", "GridTrainConfig"]


@dataclass(frozen=True)
class GridFields:
    """The hypergrid fields every grid run config starts with (see :class:`HypergridConfig`):
    ``ndim``, ``height``, ``reward`` (a name or a named reward object), ``termination`` and the
    dense reward's ``r0``, ``r1``, ``r2``."""

    ndim: int = 2
    height: int = 8
    reward: Any = "sparse"
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

    def make_env(self, device) -> Hypergrid:
        """The hypergrid of this run on ``device``."""
        return Hypergrid(self.grid_config(), device=device)


@dataclass(frozen=True)
class GridTrainConfig(TrainConfig, GridFields):
    """A GFlowNet / GAFlowNet run on the hypergrid. Defaults are the paper's (GridWorld, §5.1).

    Attributes:
        ndim, height, reward, termination, r0, r1, r2: the grid (see :class:`HypergridConfig`).
        eta: ``None`` gives the paper's RND value for ``height`` (8: 0.005, 16: 0.005, 32: 0.001,
            64: 0.005, 128: 0.001; 0.005 otherwise), 0.01 for counts.
        (the algorithm's fields: see :class:`gafn_lib.core.config.TrainConfig`)
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        self.grid_config()  # validates ndim, height, reward, termination and the reward constants

    make_env = GridFields.make_env  # the hypergrid (TrainConfig's own refuses: it names no environment)

    def default_eta(self) -> float:
        if self.intrinsic == "rnd":
            return PAPER_RND_ETA.get(self.height, DEFAULT_RND_ETA)
        return super().default_eta()
