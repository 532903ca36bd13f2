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

Network: the GFlowNet's :class:`gafn_lib.core.policies.MLPPolicy` (2 × 256, LeakyReLU, same size):
the forward logits are the actor (masked to valid actions); the log-flow head, read as a raw
scalar (not exponentiated), is the critic ``V(s)`` on the shared trunk; the backward head is unused.
Exact-policy metrics use the actor's probabilities in :func:`exact_terminal_distribution`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from typing import Callable

import torch

from gafn_lib.grid.config import DEFAULT_RND_ETA, GridFields
from gafn_lib.envs.hypergrid import Hypergrid
from gafn_lib.core.history import History
from gafn_lib.core.intrinsic import PAPER_RND_ETA, RND
from gafn_lib.core.loop import Trainer
from gafn_lib.core.exact import exact_terminal_distribution
from gafn_lib.core.policies import MLPPolicy, masked_log_softmax
from gafn_lib.core.runtime import configure_threads, resolve_device, seed_everything
from gafn_lib.core.sampling import action_probabilities, sample_trajectories
from gafn_lib.core.tracking import MetricsTracker
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
        check_threads(self.threads)
        self.grid_config()


    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


@dataclass(frozen=True)
class Rollout:
    """One batch of decisions, flattened over (trajectory, time); ``N`` decisions in all."""

    obs: torch.Tensor  # (N, ndim·H) one-hot states
    action_mask: torch.Tensor  # (N, ndim+1) valid actions
    actions: torch.Tensor  # (N,)
    log_prob_old: torch.Tensor  # (N,) log π_old(a|s)
    advantages: torch.Tensor  # (N,) normalised if configured
    returns: torch.Tensor  # (N,) value targets G_t
    terminal: torch.Tensor  # (B, ndim) the sampled terminal states x
    info: dict


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


class PPOTrainer(Trainer):
    """PPO (+ optional RND) on the hypergrid, with the GridTrainer protocol.

    Example:
        >>> trainer = PPOTrainer(PPOConfig(height=8, n_steps=200))
        >>> trainer.train().final["l1_mean_exact"]
    """

    _components = ("policy", "optimizer", "tracker")

    def __init__(self, config: PPOConfig):
        self.config = config
        configure_threads(config.threads)
        seed_everything(config.seed)
        self.device = resolve_device(config.device)
        self.env = Hypergrid(config.grid_config(), device=self.device)
        # actor = forward logits; critic V(s) = the log-flow head (raw scalar), shared trunk
        self.policy = MLPPolicy(self.env.obs_dim, self.env.n_actions, self.env.ndim, config.hidden, config.n_layers).to(self.device)
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=config.lr, foreach=True)
        self.rnd: RND | None = None
        self.rnd_optimizer = None
        if config.intrinsic == "rnd":
            self.rnd = RND(self.env.obs_dim, eta=config.eta).to(self.device)
            self.rnd_optimizer = torch.optim.Adam(self.rnd.predictor.parameters(), lr=config.lr)
        self.tracker = MetricsTracker(self.env)
        self.history = History.for_config(config)
        self.step_count = 0
        self.wall_seconds = 0.0
        self._last_info: dict[str, float] = {}

    # ------------------------------------------------------------------ rollout
    @torch.no_grad()
    def _old_policy_terms(self, obs: torch.Tensor, fmask: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, _, values = self.policy(obs)
        log_prob = masked_log_softmax(logits, fmask).gather(1, actions.unsqueeze(1)).squeeze(1)
        return log_prob, values

    def collect(self) -> Rollout:
        """Sample ``batch_size`` trajectories, then score every decision in one batched pass."""
        cfg, env = self.config, self.env
        traj = sample_trajectories(env, self.policy.forward_logits, cfg.batch_size)
        batch, horizon = traj.mask.shape
        lengths, forced = traj.lengths, traj.forced
        flat_states = traj.states.reshape(batch * (horizon + 1), env.ndim)
        obs = env.encode(flat_states)  # (B·(T+1), ndim·H)
        fmask = env.forward_mask(flat_states)  # (B·(T+1), ndim+1)

        pos = torch.arange(horizon + 1, device=self.device).unsqueeze(0)  # (1, T+1)
        is_move = pos < lengths.unsqueeze(1)  # (B, T+1)
        is_stop = (pos == lengths.unsqueeze(1)) & ~forced.unsqueeze(1)
        decision = is_move | is_stop
        last = lengths - forced.long()  # index of each trajectory's final decision
        moves = torch.cat([traj.actions, traj.actions.new_full((batch, 1), -1)], dim=1)
        actions = torch.where(is_move, moves, torch.full_like(moves, env.stop_action))  # (B, T+1)

        extrinsic = env.reward(traj.terminal)  # (B,) R(x), not its log
        rewards = torch.zeros(batch, horizon + 1, device=self.device)
        rewards.scatter_(1, last.unsqueeze(1), extrinsic.unsqueeze(1))
        info = {"mean_reward": float(extrinsic.mean()), "mean_length": float(lengths.float().mean())}
        if self.rnd is not None:
            visited = (pos <= lengths.unsqueeze(1)).reshape(-1)  # s_0 … s_n
            bonus, rnd_loss = self.rnd.reward_and_loss(obs[visited])
            novelty = torch.zeros(batch * (horizon + 1), device=self.device)
            novelty[visited] = bonus
            novelty = novelty.view(batch, horizon + 1)
            child_novelty = torch.cat([novelty[:, 1:], torch.zeros_like(novelty[:, :1])], dim=1)
            rewards = rewards + child_novelty * is_move  # r(s_{t+1}) on every move
            self.rnd_optimizer.zero_grad(set_to_none=True)
            rnd_loss.backward()
            self.rnd_optimizer.step()
            info.update(rnd_loss=float(rnd_loss.detach()), mean_intrinsic=float(bonus.mean()))

        log_prob_old, values = self._old_policy_terms(obs, fmask, actions.reshape(-1))
        values = values.view(batch, horizon + 1)
        advantages = gae_advantages(rewards, values, last, cfg.gae_lambda)
        returns = advantages + values

        rows = decision.reshape(-1)
        advantages, returns = advantages.reshape(-1)[rows], returns.reshape(-1)[rows]
        if cfg.normalize_advantages:
            advantages = (advantages - advantages.mean()) / (advantages.std(correction=0) + 1e-8)
        return Rollout(
            obs=obs[rows], action_mask=fmask[rows], actions=actions.reshape(-1)[rows],
            log_prob_old=log_prob_old[rows], advantages=advantages, returns=returns,
            terminal=traj.terminal, info=info,
        )

    # ------------------------------------------------------------------ update
    def update(self, rollout: Rollout) -> dict[str, float]:
        """``epochs`` × ``n_minibatches`` Adam steps on the clipped PPO objective (module docstring)."""

        def evaluate(mb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            logits, _, values = self.policy(rollout.obs[mb])
            return masked_log_softmax(logits, rollout.action_mask[mb]), values  # (M, ndim+1), (M,)

        return ppo_epochs(
            self.config, self.optimizer, list(self.policy.parameters()), evaluate,
            rollout.actions, rollout.log_prob_old, rollout.advantages, rollout.returns,
        )

    def step(self) -> dict[str, float]:
        """One PPO iteration: sample 16 trajectories, (RND update), PPO epochs. Returns diagnostics."""
        start = time.perf_counter()
        rollout = self.collect()
        info = dict(rollout.info)
        info.update(self.update(rollout))
        self.tracker.record_terminals(rollout.terminal)
        self.step_count += 1
        self.wall_seconds += time.perf_counter() - start
        self._last_info = info
        return info

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def forward_probabilities(self) -> torch.Tensor:
        """The actor's ``π(·|s)`` on every cell, ``(H^ndim, ndim+1)``."""
        states = self.env.all_states()
        logits = self.policy.forward_logits(self.env.encode(states))
        return action_probabilities(logits, self.env.forward_mask(states), 0.0, 1.0)

    def evaluate(self) -> dict:
        """One history row: the shared grid metrics (exact policy included) + PPO diagnostics."""
        probs = self.forward_probabilities()
        row = {"step": self.step_count}
        row.update(self.tracker.row(probs))
        p_exact = exact_terminal_distribution(self.env, probs)
        rewards = self.env.reward(self.env.all_states()).double()
        row.update(wall_seconds=self.wall_seconds, expected_reward_exact=float((p_exact * rewards).sum()))
        row.update(self._last_info)
        return row

    def progress_postfix(self, row: dict) -> dict:
        return {"l1": f"{row['l1_mean_exact']:.2e}", "modes": f"{row['modes_found']}/{row['n_modes']}"}

    def describe(self) -> str:
        c = self.config
        name = "ppo_rnd" if c.intrinsic == "rnd" else "ppo"
        return f"{name} H={c.height} seed={c.seed}"

    # ------------------------------------------------------------------ checkpointing
    def _extra_state(self) -> dict:
        if self.rnd is None:
            return {}
        return {"rnd": self.rnd.state_dict(), "rnd_optimizer": self.rnd_optimizer.state_dict()}

    def _load_extra_state(self, state: dict) -> None:
        if self.rnd is not None:
            self.rnd.load_state_dict(state["rnd"])
            self.rnd_optimizer.load_state_dict(state["rnd_optimizer"])
