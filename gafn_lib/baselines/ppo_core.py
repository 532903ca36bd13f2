"""PPO's pieces shared by the grid PPO (:mod:`gafn_lib.baselines.ppo_ensemble`) and the molecule PPO
(:mod:`gafn_lib.baselines.mol_ppo`): the hyperparameters (:class:`PPOFields`), GAE
(:func:`gae_advantages`, :func:`gae_discount`), the clipped surrogate (:func:`clipped_surrogate`)
and the autograd update loop (:func:`ppo_epochs`). Each is written once; tests/test_ppo_core.py
checks the vectorised forms against slow loops.

Objective (Schulman et al. 2017), per decision with ratio ``ρ = π_θ(a|s) / π_old(a|s)`` and
advantage ``A``, minimised over ``epochs`` passes of ``n_minibatches`` random minibatches:

    L = −E[min(ρ A, clip(ρ, 1−ε, 1+ε) A)] − c_H E[H(π_θ(·|s))] + c_V · ½ E[(V_θ(s) − G)²]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from gafn_lib.core.validation import check_counts, check_positive, check_unit_interval


@dataclass(frozen=True)
class PPOFields:
    """The PPO hyperparameters shared by the grid and the molecule PPO.

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


def gae_advantages(rewards: torch.Tensor, values: torch.Tensor, last: torch.Tensor, lam: float | torch.Tensor,
                   discount: torch.Tensor | None = None) -> torch.Tensor:
    """Generalised advantage estimation (Schulman et al. 2016) with γ = 1 on padded decisions.

    ``δ_t = r_t + γ V(s_{t+1}) − V(s_t)`` and ``A_t = Σ_{l ≥ 0} (γλ)^l δ_{t+l}``. Here γ = 1 (the
    reward is terminal, as in the paper's baselines) and each trajectory ends at its final decision
    ``last``: ``δ_t = r_t + V_{t+1}·1[t < last] − V_t`` for ``t ≤ last``, 0 after, so
    ``A_t = Σ_{k=t}^{last} λ^{k−t} δ_k``, computed without a time loop as ``A = δ Λ`` with the
    upper-triangular discount matrix ``Λ[k, t] = λ^(k−t)`` for ``k ≥ t`` (0 below).

    Shapes: ``rewards``, ``values`` ``(..., B, T1)``; ``last (..., B)``; ``lam`` a number, or a tensor of
    the leading shape ``(...)`` (one λ per ensemble member: ``(K,)`` with ``(K, B, T1)`` inputs, one
    batched matrix product). ``λ = 1`` gives Monte-Carlo advantages ``G_t − V(s_t)``. ``discount``:
    ``Λ`` precomputed (:func:`gae_discount`; ``lam`` is then ignored).
    """
    horizon = rewards.shape[-1]
    pos = torch.arange(horizon, device=rewards.device)
    next_values = torch.cat([values[..., 1:], torch.zeros_like(values[..., :1])], dim=-1)
    nonterminal = (pos < last.unsqueeze(-1)).to(values.dtype)
    delta = (rewards + next_values * nonterminal - values) * (pos <= last.unsqueeze(-1))
    if discount is None:
        discount = gae_discount(lam, horizon, values.dtype, values.device)
    return delta @ discount


def gae_discount(lam: float | torch.Tensor, horizon: int, dtype: torch.dtype = torch.float32,
                 device: torch.device | str | None = None) -> torch.Tensor:
    """GAE's discount matrix ``Λ[k, t] = λ^(k−t)`` for ``k ≥ t``, 0 below: ``(T1, T1)`` for a number,
    ``(..., T1, T1)`` for a tensor ``lam`` of shape ``(...)``. (``pow`` is computed elementwise by
    vectorised kernels whose last, partial vector rounds differently: the grid PPO ensemble computes
    each member's matrix alone, so that it is the same bits whatever the ensemble.)"""
    pos = torch.arange(horizon, device=device)
    lag = pos.view(-1, 1) - pos.view(1, -1)  # lag[k, t] = k − t
    lam = torch.as_tensor(lam, dtype=dtype, device=device)
    return lam.view(*lam.shape, 1, 1).pow(lag.clamp_min(0)) * (lag >= 0)  # (..., T1, T1)


def clipped_surrogate(
    ratio: torch.Tensor, advantages: torch.Tensor, low: float | torch.Tensor, high: float | torch.Tensor, grad: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """PPO's clipped surrogate loss of every decision, ``−min(ρ A, clip(ρ, low, high) A)``
    (``L = −E[min(ρA, clip(ρ, 1−ε, 1+ε)A)]`` is its mean; the caller reduces it).

    ``low``/``high`` are ``1 − ε``/``1 + ε`` as the caller computes them: a float (the molecule PPO),
    or a per-member float32 tensor (the grid PPO ensemble, ``(K, 1)``); the two round ``1 ± ε``
    differently, so each keeps its own.

    ``grad=True`` (for hand-written backward passes, :meth:`PPOEnsembleTrainer.ppo_gradients`) also
    returns ``∂L/∂ log π(a|s) = −A ρ`` where ``A ρ`` is the smaller term or ``low ≤ ρ ≤ high`` (both
    terms are then ``A ρ``; autograd splits such ties half-half, which sums to the same), else 0:
    ``(loss, d_log_prob)``.
    """
    ratio_clipped = ratio.clamp(low, high)
    unclipped, clipped = advantages * ratio, advantages * ratio_clipped
    loss = -torch.minimum(unclipped, clipped)
    if not grad:
        return loss
    passes = (unclipped < clipped) | (ratio_clipped == ratio)
    return loss, -unclipped * passes


def ppo_epochs(
    config: PPOFields,
    optimizer: torch.optim.Optimizer,
    params: list[torch.nn.Parameter],
    evaluate: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    actions: torch.Tensor,
    log_prob_old: torch.Tensor,
    advantages: torch.Tensor,
    returns: torch.Tensor,
) -> dict[str, float]:
    """``config.epochs`` passes of ``config.n_minibatches`` Adam steps on the clipped objective
    (module docstring), by autograd; the molecule PPO's update (the grid PPO ensemble writes its
    gradients by hand, :mod:`gafn_lib.baselines.ppo_ensemble`).

    ``evaluate(indices) -> (log π(·|s) (M, A) with invalid actions at probability 0, V(s) (M,))``
    computes the policy on the minibatch. Returns the mean diagnostics: policy and value losses,
    entropy, approximate KL and the clipped fraction.
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
            policy_loss = clipped_surrogate(ratio, advantages[mb], 1 - config.clip, 1 + config.clip).mean()
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
