"""PPO on the hypergrid MDP (paper §3, RL baseline), optionally with the GAFlowNet's RND bonus.

The MDP is the GFlowNet's: start at the origin, actions = increment a coordinate or stop, the
environment's termination rule (edge rule: reaching ``H−1`` ends the episode). A trajectory with
``n`` moves has ``n + 1`` decisions (``n`` moves, then stop) or, when the last move was forced
terminal, ``n`` decisions. Rewards, with **γ = 1**:

- the extrinsic reward ``R(x)`` (the environment's, not its log) on the last decision;
- ``ppo_rnd`` only: an intrinsic reward on every move, ``r_t = η · ‖f̂(s_{t+1}) − f(s_{t+1})‖₂``
  (RND novelty of the child state, as the GAFlowNet's edge term ``r(s_t → s_{t+1}) := r(s_{t+1})``);
  the stop decision adds none (its state was already credited by the move into it). The RND
  predictor is trained once per batch on every visited state, on the same norm, with its own Adam
  (same lr) — equivalent to adding its loss with weight 1 to one shared Adam, as the GAFlowNet does.

Advantages: GAE with ``λ = gae_lambda`` (0.95; ``λ = 1`` gives plain Monte-Carlo advantages
``G_t − V(s_t)``), ``δ_t = r_t + V(s_{t+1})·1[t < last] − V(s_t)``, ``A_t = Σ_k λ^k δ_{t+k}``,
computed as one matrix product. Value targets ``G_t = A_t + V(s_t)``. Advantages are normalised
over the whole batch (batches are small: 16 trajectories).

Objective (Schulman et al. 2017), minimised over ``epochs`` passes of ``n_minibatches`` random
minibatches of decisions:

    ρ = π_θ(a|s) / π_old(a|s)
    L = −E[min(ρ A, clip(ρ, 1−ε, 1+ε) A)] − c_H E[H(π_θ(·|s))] + c_V · ½ E[(V_θ(s) − G)²]

with ε = 0.2, c_H = 0.1 (paper, grid), c_V = 0.5, gradient-norm clip 0.5 (CleanRL defaults).

Network: the GFlowNet's GridWorld MLP (2 × 256, LeakyReLU, same size, one member of a
:class:`gafn_lib.core.ensemble.policy.StackedPolicy`): the forward logits are the actor (masked to
valid actions); the log-flow head, read as a raw scalar (not exponentiated), is the critic ``V(s)``
on the shared trunk; no backward head is built.
Exact-policy metrics use the actor's probabilities in :func:`exact_terminal_distribution`.

This module is the grid PPO's public face: its config (:class:`PPOConfig`) and, re-exported, its
trainers from :mod:`gafn_lib.baselines.ppo_ensemble` (:class:`PPOTrainer` is the one-member
:class:`~gafn_lib.baselines.ppo_ensemble.PPOEnsembleTrainer`, which trains ``K`` compatible configs in
lockstep as one batched model: per-member generators, minibatches, advantage normalisation and
gradient clipping; a member's history is bit for bit its solo run's) and the PPO pieces of :mod:`gafn_lib.baselines.ppo_core` (:class:`PPOFields`,
:func:`gae_advantages`, :func:`clipped_surrogate`, :func:`ppo_epochs`). The engine imports neither this
module nor its config class, so the imports run one way: ``ppo`` → ``ppo_ensemble`` → ``ppo_core``.
"""

from __future__ import annotations

from dataclasses import dataclass

from gafn_lib.baselines.ppo_core import PPOFields, clipped_surrogate, gae_advantages, ppo_epochs
from gafn_lib.baselines.ppo_ensemble import PPOEnsembleTrainer, PPOTrainer, Rollout
from gafn_lib.core.intrinsic import PAPER_RND_ETA, check_intrinsic
from gafn_lib.core.validation import check_counts, check_positive, check_threads
from gafn_lib.grid.config import DEFAULT_RND_ETA, GridFields

__all__ = [
    "PPOConfig", "PPOEnsembleTrainer", "PPOFields", "PPOTrainer", "Rollout", "clipped_surrogate", "gae_advantages", "ppo_epochs",
]


@dataclass(frozen=True)
class PPOConfig(GridFields, PPOFields):
    """PPO (``intrinsic="none"``) or PPO + RND (``intrinsic="rnd"``) on the hypergrid.

    Attributes:
        ndim, height, reward, termination, r0, r1, r2: the grid (see :class:`gafn_lib.grid.config.GridFields`).
        intrinsic: ``"none"`` or ``"rnd"`` (``intrinsic_names(supported_by="ppo")`` of
            :mod:`gafn_lib.core.intrinsic`). eta: RND coefficient η (``None``: the paper's by height
            with RND, as the GAFlowNet; must stay unset/0 without RND).
        hidden, n_layers: MLP (paper: 2 × 256). lr: Adam learning rate (1e-3).
        batch_size: trajectories per step (16). n_steps: PPO iterations (20 000).
        clip: PPO ratio clip ε (0.2). entropy_coef: c_H (0.1). value_coef: c_V (0.5).
        epochs: passes over each batch (4). n_minibatches: minibatches per pass (4).
        gae_lambda: GAE λ in [0, 1] (0.95; 1 = Monte-Carlo advantages). γ is fixed to 1.
        normalize_advantages: standardise advantages over the batch (True).
        max_grad_norm: global gradient-norm clip (0.5; ``None`` disables).
        log_every, seed, device, threads: as :class:`gafn_lib.grid.config.GridTrainConfig`.
    """

    intrinsic: str = "none"
    eta: float | None = None
    hidden: int = 256
    n_layers: int = 2
    lr: float = 1e-3
    batch_size: int = 16
    n_steps: int = 20_000
    log_every: int = 100
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None

    def __post_init__(self) -> None:
        check_intrinsic(self.intrinsic, supported_by="ppo")
        if self.eta is None:
            eta = PAPER_RND_ETA.get(self.height, DEFAULT_RND_ETA) if self.intrinsic == "rnd" else 0.0
            object.__setattr__(self, "eta", eta)
        check_positive("eta", self.eta, strict=False)
        if self.intrinsic == "none" and self.eta != 0:
            raise ValueError(f"eta={self.eta!r} has no effect with intrinsic='none': use intrinsic='rnd' or leave eta unset")
        check_counts(self, ("hidden", "n_layers", "batch_size", "n_steps", "log_every"))
        check_positive("lr", self.lr)
        self.check_ppo_fields()
        if self.n_minibatches > self.batch_size:  # every trajectory has >= 1 decision: no empty minibatch
            raise ValueError(f"n_minibatches={self.n_minibatches} must be <= batch_size={self.batch_size}")
        check_threads(self.threads)
        self.grid_config()
