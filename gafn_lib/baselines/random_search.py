"""Random search on molecules: a uniform random policy over the valid actions of the fragment MDP.

The floor every learner must beat. Same MDP (:class:`gafn_lib.envs.fragments.FragmentMDP`, 2–8
blocks), same proxy, reward transform and metrics as the GFlowNets (:mod:`gafn_lib.molecules.trainer`).
At every state the next action is drawn uniformly over the valid action indices of
:func:`gafn_lib.envs.fragment_batch.forward_masks`: *stop* (once ``n_blocks ≥ min_blocks``) and every
block at every open stem, ``1 + K·105`` choices at a state with ``K`` open stems. So *stop* is rare
(probability ``1/(1 + K·105)``) and most molecules end at ``max_blocks`` or when no stem is left.
Length behaviour: with ``early_stop_reg = p`` (as the GFlowNet's option of the same name, the
public release's regulariser) a trajectory stops, with probability ``p``, at a length drawn uniformly
from ``{min_blocks, …, max_blocks}`` (:func:`gafn_lib.molecules.sampling.draw_early_stops`).

No learning: a step samples ``batch_size`` molecules and scores them (4 per step, the GFlowNet's
batch, so ``n_steps`` matches the GFlowNet's at the same molecule budget). Random draws come from
torch's global generator (seeded, saved in checkpoints).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from gafn_lib.core.validation import check_counts, check_unit_interval
from gafn_lib.envs.fragment_batch import forward_masks
from gafn_lib.envs.fragments import FragmentMDP
from gafn_lib.envs.sehproxy import SEHProxy
from gafn_lib.molecules.config import MolFields
from gafn_lib.molecules.sampling import MolTrajectories, draw_early_stops, roll_out
from gafn_lib.molecules.scoring import score_molecules
from gafn_lib.molecules.base import MoleculeTrainer


@dataclass(frozen=True)
class RandomSearchConfig(MolFields):
    """Uniform random search on molecules (see the module docstring).

    Attributes:
        batch_size: molecules per step (4, the GFlowNet's). n_steps: steps.
        early_stop_reg: probability of a drawn stop length (0.1, the GFlowNet's default, so both
            sample lengths the same way; 0 = none; see the module docstring).
        min_blocks, max_blocks, reward, reward_threshold, reward_normaliser, reward_exponent,
            reward_floor, top_k: as :class:`gafn_lib.molecules.config.MolTrainConfig` (``hidden`` and
            ``n_rounds`` are unused: there is no network).
        log_every: metrics every this many steps (and at the last). seed, device, threads: see
            :mod:`gafn_lib.core.runtime`.
    """

    batch_size: int = 4
    n_steps: int = 250_000
    early_stop_reg: float = 0.1
    log_every: int = 500
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None

    def __post_init__(self) -> None:
        self.check_mol_fields()
        check_counts(self, ("batch_size", "n_steps", "log_every"))
        check_unit_interval("early_stop_reg", self.early_stop_reg)


def uniform_valid_actions(valid: torch.Tensor) -> torch.Tensor:
    """One action per row, uniform over the True columns of the (B, A) mask ``valid`` (one
    ``torch.rand`` of B draws: the ``⌊u·count⌋``-th valid column)."""
    count = valid.sum(dim=1)
    if bool((count == 0).any()):
        raise ValueError("a state has no valid action")
    pick = (torch.rand(valid.shape[0], dtype=torch.float64) * count).long().clamp_max(count - 1)  # uniform on 0..count-1
    return (valid.cumsum(dim=1) > pick[:, None]).long().argmax(dim=1)  # the pick-th valid column


def sample_uniform_trajectories(mdp: FragmentMDP, n: int, stop_at: Sequence[int | None] | None = None) -> MolTrajectories:
    """``n`` trajectories, each action uniform over the valid actions of its state (all ``n`` advance
    together; one ``torch.rand`` per iteration). ``stop_at`` as in
    :func:`gafn_lib.molecules.sampling.sample_mol_trajectories`."""
    return roll_out(mdp, n, lambda current: uniform_valid_actions(forward_masks(mdp, current)).tolist(), stop_at)


class RandomSearchTrainer(MoleculeTrainer):
    """Random search with the trainer protocol of :mod:`gafn_lib.registry` (checkpointable, resumable)."""

    _components = ("tracker",)

    def __init__(self, config: RandomSearchConfig, proxy: SEHProxy | None = None, mdp: FragmentMDP | None = None):
        self._setup(config, proxy, mdp)
        self.policy = None  # no network

    def step(self) -> dict[str, float]:
        """Sample and score ``batch_size`` uniformly random molecules."""
        start = time.perf_counter()
        cfg = self.config
        stop_at = draw_early_stops(cfg.batch_size, cfg.early_stop_reg, cfg.min_blocks, cfg.max_blocks) if cfg.early_stop_reg > 0 else None
        trajs = sample_uniform_trajectories(self.mdp, cfg.batch_size, stop_at)
        smiles, scores, rewards = score_molecules(self.scorer, self.reward, trajs.terminal)
        self.tracker.record(smiles, scores, rewards, lengths=trajs.lengths)
        self.step_count += 1
        self.wall_seconds += time.perf_counter() - start
        self._last_info = {"mean_reward": float(rewards.mean()), "mean_score": float(scores.mean()), "mean_length": float(sum(trajs.lengths) / len(trajs.lengths))}
        return dict(self._last_info)

    def describe(self) -> str:
        return f"mols random seed={self.config.seed}"
