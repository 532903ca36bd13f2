"""Intrinsic rewards behind one small interface (:class:`IntrinsicReward`), built by name.

``INTRINSIC`` maps a name to a factory ``(env, eta) -> IntrinsicReward``. Add your own with
:func:`register_intrinsic`; a config then names it (``TrainConfig(intrinsic="simhash")``), so the
run's history and run id record it::

    register_intrinsic("simhash", lambda env, eta: SimHashBonus(env.obs_dim, eta))
"""

from typing import Callable

from gafn_lib.core.components import Registry
from gafn_lib.core.intrinsic.base import IntrinsicReward, ZeroIntrinsic
from gafn_lib.core.intrinsic.counts import CountBonus
from gafn_lib.core.intrinsic.rnd import RND


def _count_bonus(env, eta: float) -> CountBonus:
    if not hasattr(env, "n_states"):
        raise ValueError(f"intrinsic='count' needs an enumerable environment (n_states and index); {type(env).__name__} has none")
    return CountBonus(env.n_states, eta=eta)


#: name -> factory ``(env, eta) -> IntrinsicReward``.
INTRINSIC: Registry[IntrinsicReward] = Registry(
    "intrinsic reward",
    {
        "rnd": lambda env, eta: RND(env.obs_dim, eta=eta),
        "count": _count_bonus,
        "none": lambda env, eta: ZeroIntrinsic(),
    },
)

#: The built-in names (kept for command-line choices).
INTRINSIC_REWARDS = ("rnd", "count", "none")

#: The paper's RND coefficient η for the 2-D sparse GridWorld, by grid height.
PAPER_RND_ETA = {8: 0.005, 16: 0.005, 32: 0.001, 64: 0.005, 128: 0.001}


def register_intrinsic(name: str, factory: Callable[..., IntrinsicReward], overwrite: bool = False) -> None:
    """Make ``intrinsic=name`` build ``factory(env, eta)`` (an :class:`IntrinsicReward`)."""
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
    "CountBonus",
    "IntrinsicReward",
    "ZeroIntrinsic",
    "make_intrinsic",
    "register_intrinsic",
]
