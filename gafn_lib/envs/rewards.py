"""Extrinsic rewards of the hypergrid. Each reward states its formula and knows its modes."""

from __future__ import annotations

import itertools
import dataclasses
from typing import Any, Callable, Protocol

import torch

#: Built-in reward names; :func:`register_grid_reward` adds more (``GRID_REWARDS`` lists the built-ins).
GRID_REWARDS = ("sparse", "dense")


class GridRewardFields(Protocol):
    """What a reward is built from: the fields of a :class:`gafn_lib.envs.hypergrid.HypergridConfig`
    (stated here so that this module does not import the grid that imports it)."""

    ndim: int
    height: int
    reward: Any
    r0: float
    r1: float
    r2: float


_REGISTERED: dict[str, Callable[[GridRewardFields], "GridReward"]] = {}


class GridReward(Protocol):
    def __call__(self, states: torch.Tensor) -> torch.Tensor: ...

    def mode_states(self) -> torch.Tensor: ...


class SparseGridReward:
    """The paper's sparse reward (GAFN release, generalised to ``ndim`` dimensions).

    ``R(x) = 1`` if ``x ∈ {1, H−2}^ndim`` and ``x ≠ (1, …, 1)``, else ``0``.

    In 2-D these are the three goals ``(H−2, H−2)``, ``(H−2, 1)`` and ``(1, H−2)``; in ``ndim``
    dimensions there are ``2^ndim − 1`` goals. The modes are exactly the goals.
    """

    def __init__(self, ndim: int, height: int):
        self.ndim, self.height = ndim, height

    def __call__(self, states: torch.Tensor) -> torch.Tensor:
        lo, hi = 1, self.height - 2
        on_goal_lattice = ((states == lo) | (states == hi)).all(dim=1)
        all_ones_corner = (states == lo).all(dim=1)
        return (on_goal_lattice & ~all_ones_corner).float()

    def mode_states(self) -> torch.Tensor:
        lo, hi = 1, self.height - 2
        points = [p for p in itertools.product((lo, hi), repeat=self.ndim) if any(c == hi for c in p)]
        return torch.tensor(sorted(set(points)), dtype=torch.long)


class DenseGridReward:
    """The classic hypergrid reward of Bengio et al. (2021), with exact band tests.

    With ``a_d = |s_d / (H−1) − 1/2|``:

    ``R(x) = R0 + R1 · ∏_d 1[a_d > 0.25] + R2 · ∏_d 1[0.3 < a_d < 0.4]``.

    The bands are tested in integers: ``a_d = m_d / D`` with ``m_d = |2 s_d − (H−1)|`` and
    ``D = 2 (H−1)``, so ``a_d > 1/4 ⟺ 4 m_d > D`` and ``3/10 < a_d < 4/10 ⟺ 3 D < 10 m_d < 4 D``.
    The reward is therefore exactly symmetric, ``R(…, s_d, …) = R(…, H−1−s_d, …)``, at every ``H``.
    (In floating point, ``|12/15 − 0.5| = 0.30000000000000004`` passes ``a > 0.3`` while its mirror
    ``|3/15 − 0.5| = 0.3`` fails, which gives H=16 nine 2-D modes instead of four; the GAFN
    release and the 2021 code compute the bands in floats. ``arithmetic="float"`` reproduces that
    behaviour for comparison only.)

    The modes are the cells of maximal reward: the product over dimensions of the cells with
    ``0.3 < a_d < 0.4`` (reward ``R0 + R1 + R2``), or, when ``R2 = 0`` or ``H`` is too small for
    such cells to exist, of the cells with ``a_d > 0.25``.
    """

    ARITHMETIC = ("exact", "float")

    def __init__(self, ndim: int, height: int, r0: float, r1: float, r2: float, arithmetic: str = "exact"):
        if arithmetic not in self.ARITHMETIC:
            raise ValueError(f"arithmetic must be one of {self.ARITHMETIC}, got {arithmetic!r}")
        self.ndim, self.height = ndim, height
        self.r0, self.r1, self.r2 = r0, r1, r2
        self.arithmetic = arithmetic

    def _bands(self, coords: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(a > 1/4, 3/10 < a < 4/10)`` per coordinate, as bool tensors of ``coords``' shape."""
        if self.arithmetic == "float":  # the release's float comparisons
            a = (coords.double() / (self.height - 1) - 0.5).abs()
            return a > 0.25, (a > 0.3) & (a < 0.4)
        m = (2 * coords.long() - (self.height - 1)).abs()
        d = 2 * (self.height - 1)
        return 4 * m > d, (10 * m > 3 * d) & (10 * m < 4 * d)

    def __call__(self, states: torch.Tensor) -> torch.Tensor:
        outer, inner = self._bands(states)
        band1 = outer.all(dim=1).double()
        band2 = inner.all(dim=1).double()
        return (self.r0 + self.r1 * band1 + self.r2 * band2).float()

    def mode_states(self) -> torch.Tensor:
        coords_1d = torch.arange(self.height)
        outer, inner = self._bands(coords_1d)
        best = coords_1d[inner] if self.r2 > 0 else coords_1d[outer]
        if best.numel() == 0:
            best = coords_1d[outer]
        points = list(itertools.product(best.tolist(), repeat=self.ndim))
        return torch.tensor(points, dtype=torch.long).reshape(-1, self.ndim)


def register_grid_reward(name: str, factory: Callable[[GridRewardFields], GridReward]) -> None:
    """Make ``HypergridConfig(reward=name)`` build ``factory(config)`` (a callable
    ``states (B, ndim) -> R (B,)``, optionally with ``mode_states()``).

    Register in an importable module if runs go to a process pool or Ray (workers import the
    library afresh; a name registered only in a notebook is unknown there).
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"a reward name must be a non-empty string, got {name!r}")
    if name in GRID_REWARDS:
        raise ValueError(f"{name!r} is a built-in reward name; choose another")
    if not callable(factory):
        raise ValueError(f"factory must be callable (config -> reward), got {factory!r}")
    _REGISTERED[name] = factory


def grid_reward_names() -> tuple[str, ...]:
    """The built-in and registered reward names."""
    return GRID_REWARDS + tuple(_REGISTERED)


def reward_name(reward: Any) -> str:
    """The name under which a reward (a registered name or a reward object) is recorded."""
    if isinstance(reward, str):
        return reward
    name = getattr(reward, "name", None)
    if isinstance(name, str) and name:
        return name
    return type(reward).__name__


def make_grid_reward(config: GridRewardFields) -> GridReward:
    """Build the reward of ``config.reward`` (a name or a reward object; validates constants)."""
    if not isinstance(config.reward, str):
        reward = config.reward
        if not callable(reward):
            raise ValueError(
                f"reward must be a name {grid_reward_names()} or a callable reward object, got {type(reward).__name__}: {reward!r}"
            )
        if not (dataclasses.is_dataclass(reward) or isinstance(getattr(reward, "name", None), str)):
            raise ValueError(
                f"reward object {type(reward).__name__} needs a name: give it a `name` string attribute or make it a "
                "frozen dataclass (its fields then identify the run), or register it with register_grid_reward()"
            )
        return reward
    if config.reward in _REGISTERED:
        return _REGISTERED[config.reward](config)
    if config.reward == "sparse":
        return SparseGridReward(config.ndim, config.height)
    if config.reward == "dense":
        for name in ("r0", "r1", "r2"):
            if getattr(config, name) < 0:
                raise ValueError(f"{name} must be >= 0 for the dense reward, got {getattr(config, name)}")
        if config.r0 + config.r1 + config.r2 <= 0:
            raise ValueError("the dense reward needs r0 + r1 + r2 > 0")
        return DenseGridReward(config.ndim, config.height, config.r0, config.r1, config.r2)
    raise ValueError(f"reward must be one of {grid_reward_names()} or a reward object, got {config.reward!r}")
