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

The trainer lives in :mod:`gafn_lib.baselines.ppo_ensemble`: :class:`PPOTrainer` (importable from
here too) is the one-member :class:`~gafn_lib.baselines.ppo_ensemble.PPOEnsembleTrainer`, which
trains ``K`` compatible configs in lockstep as one batched model (per-member generators,
minibatches, advantage normalisation and gradient clipping). This module keeps the config, the
GAE and :func:`ppo_epochs` (the molecule PPO's update loop).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Callable

import torch

from gafn_lib.grid.config import DEFAULT_RND_ETA, GridFields
from gafn_lib.core.intrinsic import PAPER_RND_ETA
from gafn_lib.core.validation import check_choice, check_counts, check_positive, check_threads, check_unit_interval

PPO_INTRINSIC = ("none", "rnd")


def ppo_epochs(
    config,
    optimizer: torch.optim.Optimizer,
    params: list[torch.nn.Parameter],
    evaluate: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    actions: torch.Tensor,
    log_prob_old: torch.Tensor,
    advantages: torch.Tensor,
    returns: torch.Tensor,
) -> dict[str, float]:
    """``config.epochs`` passes of ``config.n_minibatches`` Adam steps on the clipped objective.

    For a minibatch of decisions with ratio ``ρ = π(a|s) / π_old(a|s)`` and advantage ``A``:
    ``L = E[max(−A·ρ, −A·clip(ρ, 1−ε, 1+ε))] − c_H·E[H(π(·|s))] + c_V·½·E[(V(s) − G)²]``.
    ``evaluate(indices) -> (log π(·|s) (M, A) with invalid actions at probability 0, V(s) (M,))``
    computes the policy on the minibatch. Used by the grid and the molecule PPO. Returns the mean
    diagnostics: policy and value losses, entropy, approximate KL and the clipped fraction.
    """
    n = actions.shape[0]
    sums = {"policy_loss": 0.0, "value_loss": 0.0, "entropy": 0.0, "approx_kl": 0.0, "clip_fraction": 0.0}
    n_updates = 0
    for _ in range(config.epochs):
        for mb in torch.randperm(n, device=actions.device).chunk(config.n_minibatches):
            log_probs, values = evaluate(mb)
            log_prob = log_probs.gather(1, actions[mb].unsqueeze(1)).squeeze(1)
            log_ratio = log_prob - log_prob_old[mb]
            ratio = log_ratio.exp()
            adv = advantages[mb]
            policy_loss = torch.max(-adv * ratio, -adv * ratio.clamp(1 - config.clip, 1 + config.clip)).mean()
            entropy = -(log_probs.exp() * log_probs).sum(dim=1).mean()  # invalid actions: p = 0 exactly
            value_loss = 0.5 * (values - returns[mb]).pow(2).mean()
            loss = policy_loss - config.entropy_coef * entropy + config.value_coef * value_loss

            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
            optimizer.step()

            with torch.no_grad():
                sums["policy_loss"] += float(policy_loss)
                sums["value_loss"] += float(value_loss)
                sums["entropy"] += float(entropy)
                sums["approx_kl"] += float(((ratio - 1) - log_ratio).mean())
                sums["clip_fraction"] += float(((ratio - 1).abs() > config.clip).float().mean())
            n_updates += 1
    return {k: v / n_updates for k, v in sums.items()}


@dataclass(frozen=True)
class PPOFields:
    """The PPO hyperparameters shared by the grid and the molecule PPO (used by :func:`ppo_epochs`).

    Attributes:
        clip: ratio clip ε (0.2). entropy_coef: c_H (grid 0.1, paper). value_coef: c_V (0.5).
        epochs: passes over each batch (4). n_minibatches: minibatches per pass (4).
        gae_lambda: GAE λ in [0, 1] (grid 0.95; 1 = Monte-Carlo advantages). γ is fixed to 1.
        normalize_advantages: standardise advantages over the batch (True).
        max_grad_norm: global gradient-norm clip (0.5; ``None`` disables).
    """

    clip: float = 0.2
    entropy_coef: float = 0.1
    value_coef: float = 0.5
    epochs: int = 4
    n_minibatches: int = 4
    gae_lambda: float = 0.95
    normalize_advantages: bool = True
    max_grad_norm: float | None = 0.5

    def check_ppo_fields(self) -> None:
        check_counts(self, ("epochs", "n_minibatches"))
        check_positive("clip", self.clip)
        check_positive("entropy_coef", self.entropy_coef, strict=False)
        check_positive("value_coef", self.value_coef, strict=False)
        check_unit_interval("gae_lambda", self.gae_lambda)
        if self.max_grad_norm is not None:
            check_positive("max_grad_norm", self.max_grad_norm)


@dataclass(frozen=True)
class PPOConfig(GridFields, PPOFields):
    """PPO (``intrinsic="none"``) or PPO + RND (``intrinsic="rnd"``) on the hypergrid.

    Attributes:
        ndim, height, reward, termination, r0, r1, r2: the grid (see :class:`gafn_lib.grid.config.GridFields`).
        intrinsic: ``"none"`` or ``"rnd"``. eta: RND coefficient η (``None``: the paper's by height
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
        check_choice("intrinsic", self.intrinsic, PPO_INTRINSIC)
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


    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def gae_advantages(rewards: torch.Tensor, values: torch.Tensor, last: torch.Tensor, lam: float) -> torch.Tensor:
    """GAE with γ = 1 on padded decisions ``(B, T1)``; ``last (B,)`` is each trajectory's final decision.

    ``δ_t = r_t + V_{t+1}·1[t < last] − V_t`` for ``t ≤ last`` (0 after), ``A = δ Λ`` with
    ``Λ[k, t] = λ^(k−t)`` for ``k ≥ t`` (an upper-triangular discount matrix, no time loop).
    """
    horizon = rewards.shape[1]
    pos = torch.arange(horizon, device=rewards.device).unsqueeze(0)
    next_values = torch.cat([values[:, 1:], torch.zeros_like(values[:, :1])], dim=1)
    nonterminal = (pos < last.unsqueeze(1)).to(values.dtype)
    delta = (rewards + next_values * nonterminal - values) * (pos <= last.unsqueeze(1))
    lag = pos.T - pos  # lag[k, t] = k − t
    discount = torch.full(lag.shape, lam, dtype=values.dtype, device=values.device).pow(lag.clamp_min(0)) * (lag >= 0)
    return delta @ discount


#: Names this module re-exports from :mod:`gafn_lib.baselines.ppo_ensemble` (imported on first use:
#: that module imports this one).
_FROM_ENSEMBLE = ("PPOTrainer", "PPOEnsembleTrainer", "Rollout")


def __getattr__(name: str) -> Any:
    if name in _FROM_ENSEMBLE:
        from gafn_lib.baselines import ppo_ensemble

        return getattr(ppo_ensemble, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
