"""The fields every molecule run config shares (GFlowNets, PPO, MARS) and their checks."""

from __future__ import annotations

from dataclasses import dataclass, fields

from gafn_lib.envs.mol_reward import MOL_REWARDS, MolReward
from gafn_lib.core.validation import check_choice, check_counts, check_threads


@dataclass(frozen=True)
class MolFields:
    """Molecule size, reward transform and network shared by the molecule configs.

    Attributes:
        min_blocks, max_blocks: molecule size in blocks (2, 8; paper).
        reward: ``"sparse"`` (paper: ``(s/8)^10`` if ``s > 7`` else 1e-9) or ``"dense"``.
        reward_threshold, reward_normaliser, reward_exponent, reward_floor: the transform of the
            proxy score ``s`` (see :class:`gafn_lib.envs.mol_reward.MolReward`).
        hidden, n_rounds: block-graph network width (128) and message-passing rounds (3).
        top_k: the k of the top-k metrics (10).
    """

    min_blocks: int = 2
    max_blocks: int = 8
    reward: str = "sparse"
    reward_threshold: float = 7.0
    reward_normaliser: float = 8.0
    reward_exponent: float = 10.0
    reward_floor: float = 1e-9
    hidden: int = 128
    n_rounds: int = 3
    top_k: int = 10

    def reward_fn(self) -> MolReward:
        return MolReward(self.reward, self.reward_threshold, self.reward_normaliser, self.reward_exponent, self.reward_floor)

    def check_mol_fields(self) -> None:
        """Validate the shared fields (and ``threads``); each error names the field."""
        check_choice("reward", self.reward, MOL_REWARDS)
        check_counts(self, ("min_blocks", "max_blocks", "hidden", "top_k"))
        if not isinstance(self.n_rounds, int) or isinstance(self.n_rounds, bool) or self.n_rounds < 0:
            raise ValueError(f"n_rounds must be an integer >= 0, got {self.n_rounds!r}")
        if self.max_blocks < self.min_blocks:
            raise ValueError(f"max_blocks ({self.max_blocks}) must be >= min_blocks ({self.min_blocks})")
        check_threads(getattr(self, "threads", None))
        try:
            self.reward_fn()
        except ValueError as err:  # name the config field, not MolReward's argument
            raise ValueError(f"reward_{err}") from None

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]
