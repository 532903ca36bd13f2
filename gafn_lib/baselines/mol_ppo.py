"""PPO on the fragment MDP of the molecule task (paper §4, RL baseline).

The MDP, network, reward and metrics are the GFlowNet's (:mod:`gafn_lib.molecules.trainer`): trajectories
start at the empty molecule, each decision attaches a block at an open stem or stops, and the
finished molecule ``x`` is scored by the sEH proxy and the same reward transform (sparse or dense,
:class:`gafn_lib.envs.mol_reward.MolReward`). A trajectory with ``n`` attachments has ``n + 1``
decisions (``n`` attachments, then *stop*) or ``n`` when its last state was forced terminal.

Rewards, with **γ = 1**: the reward ``R(x)`` (not its log) on the last decision, 0 elsewhere, so
the return of every decision is the terminal reward. Advantages: GAE
(:func:`gafn_lib.baselines.ppo_core.gae_advantages`) with ``λ = gae_lambda``; the default ``λ = 1``
gives Monte-Carlo advantages ``A_t = R(x) − V(s_t)`` and value targets ``G_t = R(x)``. Advantages
are standardised over the batch.

Objective (Schulman et al. 2017), minimised over ``epochs`` passes of ``n_minibatches`` random
minibatches of decisions:

    ρ = π_θ(a|s) / π_old(a|s)
    L = −E[min(ρ A, clip(ρ, 1−ε, 1+ε) A)] − c_H E[H(π_θ(·|s))] + c_V · ½ E[(V_θ(s) − G)²]

Defaults: ε = 0.2, **c_H = 0.01**, c_V = 0.5, 4 epochs × 4 minibatches, gradient-norm clip 0.5,
Adam lr 5e-4 (the GFlowNet's), 16 trajectories per iteration. The entropy coefficient is 10× below
the grid's 0.1: a molecule state has up to ``1 + K·105`` valid actions (K open stems), so its
entropy is several nats against 1 nat on the grid, and with unit-variance advantages 0.1 kept the
policy close to uniform in short runs. The policy samples on-policy (no ε-uniform mixing): the
entropy bonus is its exploration.

Network: the GFlowNet's :class:`gafn_lib.molecules.policy.BlockGraphPolicy` (same size). The actor is its
masked logits over *stop* and the stem × block attachments, read as ``log π(a|s)`` after a log-softmax
(the probability of the sampled action index, not summed over equivalent actions: PPO works on the
action space). The critic ``V(s)`` is the log-flow head on the shared trunk, read as a raw scalar
(not exponentiated), as in the grid PPO (:mod:`gafn_lib.baselines.ppo`).

Budget and metrics: every trajectory is one generated molecule; the metric rows are
:class:`gafn_lib.molecules.tracking.MolMetricsTracker`'s (top-10 reward, modes with score > 7.5, top-10
Tanimoto, molecules generated, and the window's hit rate, mean score, unique fraction and mean length)
plus ``wall_seconds`` and PPO diagnostics (the window's ``mean_score`` and ``mean_length`` replace the
last iteration's in a row).

"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from gafn_lib.baselines.ppo_core import PPOFields, gae_advantages, ppo_epochs
from gafn_lib.envs.fragment_batch import encode_states, forward_masks
from gafn_lib.envs.fragments import STOP, BlockState, FragmentMDP
from gafn_lib.envs.sehproxy import SEHProxy
from gafn_lib.molecules.base import MoleculeTrainer
from gafn_lib.molecules.config import MolFields, validate_mol_fields
from gafn_lib.molecules.sampling import sample_mol_trajectories
from gafn_lib.molecules.scoring import score_molecules
from gafn_lib.core.policies import masked_log_softmax


# ---------------------------------------------------------------------- config
@dataclass(frozen=True)
class MolPPOConfig(MolFields, PPOFields):
    """PPO on the fragment MDP (see the module docstring for the objective and the defaults).

    Attributes:
        lr: Adam learning rate (5e-4, the GFlowNet's).
        batch_size: trajectories (= molecules) per iteration (16). n_steps: PPO iterations.
        clip: ratio clip ε (0.2). entropy_coef: c_H (0.01). value_coef: c_V (0.5).
        epochs: passes over each batch (4). n_minibatches: minibatches per pass (4).
        gae_lambda: GAE λ in [0, 1] (1 = Monte-Carlo advantages; γ is fixed to 1).
        normalize_advantages: standardise advantages over the batch (True).
        max_grad_norm: global gradient-norm clip (0.5; ``None`` disables).
        min_blocks, max_blocks: molecule size in blocks (2, 8).
        reward, reward_threshold, reward_normaliser, reward_exponent, reward_floor: the reward
            transform of the proxy score, as :class:`gafn_lib.molecules.config.MolTrainConfig`.
        hidden, n_rounds: block-graph network width (128) and message-passing rounds (3).
        log_every: metrics every this many iterations (and at the last). top_k: top-k for metrics.
        seed, device, threads: see :mod:`gafn_lib.core.runtime`.
    """

    lr: float = 5e-4
    batch_size: int = 16
    n_steps: int = 62_500
    entropy_coef: float = 0.01
    gae_lambda: float = 1.0
    log_every: int = 125
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None

    def __post_init__(self) -> None:
        validate_mol_fields(self, ("batch_size",))
        self.check_ppo_fields()



@dataclass
class MolRollout:
    """One batch of ``N`` decisions (flattened over trajectories and time)."""

    states: list[BlockState]  # N decision states s_t
    actions: torch.Tensor  # (N,) flat action index (0 = stop)
    log_prob_old: torch.Tensor  # (N,) log π_old(a|s)
    advantages: torch.Tensor  # (N,)
    returns: torch.Tensor  # (N,) value targets G_t
    smiles: list[str]
    scores: np.ndarray
    rewards: np.ndarray
    lengths: list[int]  # blocks of each finished molecule
    info: dict


# ---------------------------------------------------------------------- trainer
class MolPPOTrainer(MoleculeTrainer):
    """PPO on molecules with the trainer protocol of :mod:`gafn_lib.registry`.

    Example:
        >>> trainer = MolPPOTrainer(MolPPOConfig(n_steps=50, log_every=10, reward="dense"))
        >>> trainer.train().final["top10_reward"]
    """

    _components = ("policy", "optimizer", "tracker")

    def __init__(self, config: MolPPOConfig, proxy: SEHProxy | None = None, mdp: FragmentMDP | None = None):
        # actor = masked logits (stop + stem × block); critic V(s) = the log-flow head, raw scalar
        self._setup(config, proxy, mdp)
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=config.lr, foreach=True)

    def _log_probs_values(self, states: Sequence[BlockState]) -> tuple[torch.Tensor, torch.Tensor]:
        """``log π(·|s)`` (M, 1 + K·V; ≈ −1e9 on invalid actions) and ``V(s)`` (M,) in one network call."""
        mask = forward_masks(self.mdp, states, device=self.device)
        out = self.policy(encode_states(self.mdp, states, self.device), mask)
        return masked_log_softmax(out.logits, mask), out.log_flow

    # ------------------------------------------------------------------ rollout
    def collect(self) -> MolRollout:
        """Sample ``batch_size`` molecules on-policy, score them, and build advantages and returns."""
        cfg = self.config
        trajs = sample_mol_trajectories(self.mdp, self.policy, cfg.batch_size, epsilon=0.0, device=self.device)
        smiles, scores, rewards = score_molecules(self.scorer, self.reward, trajs.terminal)
        last = [n - int(f) for n, f in zip(trajs.lengths, trajs.forced)]  # index of each final decision
        states, actions, where = [], [], []
        for b, (traj, acts) in enumerate(zip(trajs.states, trajs.actions)):
            for t in range(last[b] + 1):
                states.append(traj[t])
                actions.append(acts[t] if t < len(acts) else STOP)
                where.append((b, t))
        actions_t = torch.tensor(actions, dtype=torch.long, device=self.device)
        with torch.no_grad():
            log_probs, values_flat = self._log_probs_values(states)
        log_prob_old = log_probs.gather(1, actions_t[:, None]).squeeze(1)

        batch, horizon = cfg.batch_size, max(last) + 1
        idx_b = torch.tensor([b for b, _ in where], device=self.device)
        idx_t = torch.tensor([t for _, t in where], device=self.device)
        last_t = torch.tensor(last, device=self.device)
        values = torch.zeros(batch, horizon, device=self.device).index_put((idx_b, idx_t), values_flat)
        step_rewards = torch.zeros(batch, horizon, device=self.device)
        step_rewards[torch.arange(batch, device=self.device), last_t] = torch.as_tensor(rewards, dtype=torch.float32, device=self.device)
        advantages = gae_advantages(step_rewards, values, last_t, cfg.gae_lambda)  # (B, T1)
        returns = (advantages + values)[idx_b, idx_t]
        advantages = advantages[idx_b, idx_t]
        if cfg.normalize_advantages:
            advantages = (advantages - advantages.mean()) / (advantages.std(correction=0) + 1e-8)
        info = {"mean_reward": float(np.mean(rewards)), "mean_score": float(np.mean(scores)), "mean_length": float(np.mean(trajs.lengths))}
        return MolRollout(states, actions_t, log_prob_old, advantages, returns, smiles, scores, rewards, trajs.lengths, info)

    # ------------------------------------------------------------------ update
    def update(self, rollout: MolRollout) -> dict[str, float]:
        """``epochs`` × ``n_minibatches`` Adam steps on the clipped objective (module docstring)."""
        return ppo_epochs(
            self.config, self.optimizer, list(self.policy.parameters()),
            lambda mb: self._log_probs_values([rollout.states[i] for i in mb.tolist()]),
            rollout.actions, rollout.log_prob_old, rollout.advantages, rollout.returns,
        )

    def step(self) -> dict[str, float]:
        """One PPO iteration: sample and score ``batch_size`` molecules, then the PPO epochs."""
        start = time.perf_counter()
        rollout = self.collect()
        info = dict(rollout.info)
        info.update(self.update(rollout))
        self.tracker.record(rollout.smiles, rollout.scores, rollout.rewards, lengths=rollout.lengths)
        self.step_count += 1
        self.wall_seconds += time.perf_counter() - start
        self._last_info = info
        return info

    # ------------------------------------------------------------------ protocol
    def describe(self) -> str:
        return f"mols ppo seed={self.config.seed}"

