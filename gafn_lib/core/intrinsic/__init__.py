"""Intrinsic rewards behind one small interface (:class:`IntrinsicReward`), in one registry.

:data:`INTRINSIC` is the one list of intrinsic-reward names in the library. Each name records a
factory ``(env, eta) -> IntrinsicReward`` and which trainers support it (``supported_by``, a
subset of :data:`SUPPORTERS`):

=========  ==========================================================  =====================
name       what                                                        supported by
=========  ==========================================================  =====================
``rnd``    random network distillation ``η·‖f̂(s) − f(s)‖₂`` (paper)    gflownet, stacked,
                                                                       molecules, ppo
``count``  ``η/√N(s)`` on an enumerable environment                    gflownet, stacked
``none``   ``r ≡ 0`` (the plain GFlowNet / PPO)                        gflownet, stacked,
                                                                       molecules, ppo
=========  ==========================================================  =====================

Query it with :func:`intrinsic_names` (``intrinsic_names(supported_by="molecules")``) and validate
a config field with :func:`check_intrinsic`. Add your own with :func:`register_intrinsic`; a config
then names it (``TrainConfig(intrinsic="simhash")``), so the run's history and run id record it.
A registered reward runs in the GFlowNet engine (``supported_by={"gflownet"}``), member by member::

    register_intrinsic("simhash", lambda env, eta: SimHashBonus(env.obs_dim, eta))
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from gafn_lib.core.components import Registry
from gafn_lib.core.intrinsic.base import IntrinsicReward, ZeroIntrinsic
from gafn_lib.core.intrinsic.counts import CountBonus
from gafn_lib.core.intrinsic.rnd import RND

#: The ``supported_by`` vocabulary: who can run an intrinsic reward of a given name.
SUPPORTERS: dict[str, str] = {
    "gflownet": "the GFlowNet engine on any environment (TrainConfig, GridTrainConfig, EnvTrainConfig)",
    "stacked": "the GFlowNet engine has a batched implementation (others run member by member)",
    "molecules": "the molecule GFlowNet (MolTrainConfig)",
    "ppo": "PPO on the hypergrid (PPOConfig)",
}
#: What a name added with :func:`register_intrinsic` supports.
REGISTERED_SUPPORT = frozenset({"gflownet"})


def _check_supporters(supported_by: Iterable[str]) -> frozenset[str]:
    supported = frozenset(supported_by)
    unknown = supported - set(SUPPORTERS)
    if unknown or not supported:
        raise ValueError(f"supported_by must be a non-empty subset of {tuple(SUPPORTERS)}, got {sorted(supported)}")
    return supported


class IntrinsicRegistry(Registry[IntrinsicReward]):
    """``name -> (factory, supported_by)``: the library's one registry of intrinsic rewards."""

    def __init__(self, builtins: dict[str, tuple[Callable[..., IntrinsicReward], Iterable[str]]]):
        super().__init__("intrinsic reward", {name: factory for name, (factory, _) in builtins.items()})
        self._supported_by = {name: _check_supporters(supported) for name, (_, supported) in builtins.items()}

    def register(self, name: str, factory: Callable[..., IntrinsicReward], overwrite: bool = False,
                 supported_by: Iterable[str] = REGISTERED_SUPPORT) -> None:
        supported = _check_supporters(supported_by)
        super().register(name, factory, overwrite=overwrite)
        self._supported_by[name] = supported

    def supported_by(self, name: str) -> frozenset[str]:
        """The trainers that support ``name`` (see :data:`SUPPORTERS`)."""
        self.check("intrinsic", name)
        return self._supported_by[name]

    def names(self, supported_by: str | None = None) -> tuple[str, ...]:
        """Every registered name (built-ins first), or those that ``supported_by`` supports."""
        if supported_by is None:
            return tuple(self._factories)
        if supported_by not in SUPPORTERS:
            raise ValueError(f"supported_by must be one of {tuple(SUPPORTERS)}, got {supported_by!r}")
        return tuple(name for name in self._factories if supported_by in self._supported_by[name])

    def check(self, parameter: str, name: Any, supported_by: str | None = None) -> None:
        """Raise ``ValueError`` naming ``parameter`` and the allowed values unless ``name`` is
        registered (and supported by ``supported_by``, when given)."""
        allowed = self.names(supported_by)
        if isinstance(name, str) and name in allowed:
            return
        if supported_by is None or supported_by in REGISTERED_SUPPORT:
            raise ValueError(f"{parameter} must be one of {allowed} (or a name added with register_intrinsic), got {name!r}")
        raise ValueError(f"{parameter} must be one of {allowed} for {SUPPORTERS[supported_by]}, got {name!r}")


def _count_bonus(env, eta: float) -> CountBonus:
    if not hasattr(env, "n_states"):
        raise ValueError(f"intrinsic='count' needs an enumerable environment (n_states and index); {type(env).__name__} has none")
    return CountBonus(env.n_states, eta=eta)


#: The one registry: name -> factory ``(env, eta) -> IntrinsicReward`` and the trainers supporting it.
INTRINSIC = IntrinsicRegistry(
    {
        "rnd": (lambda env, eta: RND(env.obs_dim, eta=eta), ("gflownet", "stacked", "molecules", "ppo")),
        "count": (_count_bonus, ("gflownet", "stacked")),
        "none": (lambda env, eta: ZeroIntrinsic(), ("gflownet", "stacked", "molecules", "ppo")),
    }
)

#: The built-in names (derived from :data:`INTRINSIC`; :func:`intrinsic_names` adds registered ones).
INTRINSIC_REWARDS = INTRINSIC.names()
#: The names the GFlowNet engine computes batched over ensemble members (others run member by member).
STACKED_INTRINSIC = INTRINSIC.names(supported_by="stacked")

#: The paper's RND coefficient η for the 2-D sparse GridWorld, by grid height.
PAPER_RND_ETA = {8: 0.005, 16: 0.005, 32: 0.001, 64: 0.005, 128: 0.001}


def intrinsic_names(supported_by: str | None = None) -> tuple[str, ...]:
    """The registered intrinsic-reward names, or those supported by ``supported_by`` (one of
    :data:`SUPPORTERS`: ``"gflownet"``, ``"stacked"``, ``"molecules"``, ``"ppo"``).

    Example:
        >>> intrinsic_names(supported_by="molecules")
        ('rnd', 'none')
    """
    return INTRINSIC.names(supported_by)


def check_intrinsic(name: Any, supported_by: str | None = None, parameter: str = "intrinsic") -> None:
    """Raise ``ValueError`` naming ``parameter`` and the allowed values unless ``name`` is a
    registered intrinsic reward that ``supported_by`` supports."""
    INTRINSIC.check(parameter, name, supported_by)


def register_intrinsic(name: str, factory: Callable[..., IntrinsicReward], overwrite: bool = False) -> None:
    """Make ``intrinsic=name`` build ``factory(env, eta)`` (an :class:`IntrinsicReward`) in the
    GFlowNet engine (``supported_by={"gflownet"}``)."""
    INTRINSIC.register(name, factory, overwrite=overwrite)


def make_intrinsic(name: str, env, eta: float) -> IntrinsicReward:
    """Build the intrinsic reward registered as ``name`` for ``env`` with coefficient ``eta``."""
    intrinsic = INTRINSIC.make(name, env, eta)
    if not isinstance(intrinsic, IntrinsicReward):
        raise ValueError(f"the factory of intrinsic reward {name!r} must return an IntrinsicReward, got {type(intrinsic).__name__}")
    return intrinsic


__all__ = [
    "INTRINSIC",
    "INTRINSIC_REWARDS",
    "PAPER_RND_ETA",
    "RND",
    "STACKED_INTRINSIC",
    "SUPPORTERS",
    "CountBonus",
    "IntrinsicRegistry",
    "IntrinsicReward",
    "ZeroIntrinsic",
    "check_intrinsic",
    "intrinsic_names",
    "make_intrinsic",
    "register_intrinsic",
]
