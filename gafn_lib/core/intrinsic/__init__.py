"""Intrinsic rewards behind one small interface (:class:`IntrinsicReward`)."""

from gafn_lib.core.intrinsic.base import IntrinsicReward, ZeroIntrinsic
from gafn_lib.core.intrinsic.counts import CountBonus
from gafn_lib.core.intrinsic.rnd import RND

INTRINSIC_REWARDS = ("rnd", "count", "none")

#: The paper's RND coefficient η for the 2-D sparse GridWorld, by grid height.
PAPER_RND_ETA = {8: 0.005, 16: 0.005, 32: 0.001, 64: 0.005, 128: 0.001}

__all__ = ["INTRINSIC_REWARDS", "PAPER_RND_ETA", "RND", "CountBonus", "IntrinsicReward", "ZeroIntrinsic"]
