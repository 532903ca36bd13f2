"""Augmented flows (Pan et al. 2023, §4): ONE mechanism shared by every objective.

Intrinsic rewards ``r(·) ≥ 0`` enter a GFlowNet in exactly two places, and every objective reads
them from there:

1. **Terminal reward** ``R̃(τ)`` that replaces ``R(x)``:

   - ``none``, ``edge``: ``R̃ = R(x)``
   - ``joint``:          ``R̃ = R(x) + r(x)``                (paper, joint augmentation)
   - ``node``:           ``R̃ = R(x) + Σ_{t=1}^{n} r(s_t)``  (state-based; trajectory-dependent)

2. **Edge leak** ``ℓ(s_t → s_{t+1})``: an extra flow carried by the transition that leaves through a
   pseudo-sink and is never taken: ``ℓ = r(s_{t+1})`` for ``edge`` and ``joint``, ``0`` otherwise.

How each objective consumes the leak (docs/method.md derives each form):

- DB: ``F(s) P_F(s'|s) = F(s') P_B(s|s') + ℓ(s→s')``  (paper's edge-based DB), i.e. the backward
  term becomes ``P̃_B = P_B(s|s') + ℓ(s→s') / F(s')`` — see :func:`leaky_log_pb`.
- TB: telescoping DB gives ``Z ∏ P_F = R̃(x) ∏_t P̃_B(s_t|s_{t+1})`` (paper, eq. for edge/joint TB).
- SubTB: the same ``P̃_B`` inside every sub-trajectory.
- FM: the leak is extra out-flow of the state, ``Σ_in F = Σ_out F + ℓ(s)`` (paper's FM form).

With ``r ≡ 0`` (``log r = -inf``) every augmented quantity reduces exactly to its plain one.
"""

from __future__ import annotations

import torch

from gafn_lib.core.terms import NEG_INF, AugmentableTerms

AUGMENT_MODES = ("none", "edge", "node", "joint")


def validate_mode(mode: str) -> str:
    if mode not in AUGMENT_MODES:
        raise ValueError(f"augment must be one of {AUGMENT_MODES}, got {mode!r}")
    return mode


def augmented_log_reward(
    mode: str,
    log_reward: torch.Tensor,
    log_intrinsic: torch.Tensor,
    mask: torch.Tensor,
    log_intrinsic_terminal: torch.Tensor,
) -> torch.Tensor:
    """``log R̃`` for one of :data:`AUGMENT_MODES` (see the module docstring). Shapes: ``(B,)``."""
    validate_mode(mode)
    if mode in ("none", "edge"):
        return log_reward
    if mode == "joint":
        return torch.logaddexp(log_reward, log_intrinsic_terminal)
    # node: R(x) + Σ_{t=1..n} r(s_t); log_intrinsic[:, t] = log r(s_{t+1}) on real moves
    path = log_intrinsic.masked_fill(~mask, NEG_INF)
    return torch.logsumexp(torch.cat([log_reward.unsqueeze(1), path], dim=1), dim=1)


def edge_log_leak(mode: str, log_intrinsic: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``log ℓ(s_t → s_{t+1}) = log r(s_{t+1})`` for edge/joint, ``-inf`` otherwise. ``(B, T)``."""
    validate_mode(mode)
    if mode in ("edge", "joint"):
        return log_intrinsic.masked_fill(~mask, NEG_INF)
    return torch.full_like(log_intrinsic, NEG_INF)


def leaky_log_pb(log_pb: torch.Tensor, log_leak: torch.Tensor, log_flow_child: torch.Tensor) -> torch.Tensor:
    """``log P̃_B = log(P_B(s|s') + ℓ(s→s') / F(s'))``, elementwise; ``= log_pb`` where ``ℓ = 0``."""
    return torch.logaddexp(log_pb, log_leak - log_flow_child)


def augment(terms: AugmentableTerms, mode: str) -> AugmentableTerms:
    """Return ``terms`` with ``log_reward := log R̃`` and ``log_leak`` set for ``mode``."""
    log_reward = augmented_log_reward(
        mode, terms.log_reward, terms.log_intrinsic, terms.mask, terms.log_intrinsic_terminal
    )
    log_leak = edge_log_leak(mode, terms.log_intrinsic, terms.mask)
    return terms.replace(log_reward=log_reward, log_leak=log_leak)
