"""Sub-trajectory balance SubTB(λ) (Madan et al. 2023), with augmented flows."""

from __future__ import annotations

import torch

from gafn_lib.core.augment import leaky_log_pb
from gafn_lib.core.terms import TrajectoryTerms


def subtb_loss(terms: TrajectoryTerms, log_z: torch.Tensor, lam: float = 0.9) -> torch.Tensor:
    """SubTB(λ) over the extended chain ``s_0 → … → s_n → ⊤`` of every trajectory.

    Flows along the chain: ``φ_0 = log Z``, ``φ_k = log F(s_k)`` (``1 ≤ k ≤ n``),
    ``φ_{n+1} = log R̃(x)``. Transition ``k < n`` is move ``k`` with ``(log P_F, log P̃_B)``
    (``P̃_B = P_B + ℓ/F(s_{k+1})``, the edge-augmented backward term); transition ``n`` is stop with
    ``(log P_F(stop|x), 0)``. For every pair ``0 ≤ i < j ≤ n+1``:

    ``δ_ij = φ_i + Σ_{k=i}^{j−1} log P_F_k − φ_j − Σ_{k=i}^{j−1} log P̃_B_k``,

    loss of a trajectory ``= Σ_{i<j} λ^{j−i} δ_ij² / Σ_{i<j} λ^{j−i}``, averaged over the batch.
    The pair ``(0, n+1)`` is the TB residual; pairs ``(k, k+1)`` are the DB residuals.
    """
    if not lam > 0:
        raise ValueError(f"SubTB lambda must be > 0, got {lam}")
    mask = terms.mask
    batch, horizon = mask.shape
    lengths = terms.lengths
    device = mask.device
    log_pb = terms.log_pb
    if terms.log_leak is not None:
        log_pb = leaky_log_pb(log_pb, terms.log_leak, terms.log_flow[:, 1:])
    # per-transition increments, k = 0..T (transition n_b is stop; beyond it: padding)
    delta_moves = torch.where(mask, terms.log_pf - log_pb, torch.zeros_like(log_pb))
    delta = torch.cat([delta_moves, torch.zeros(batch, 1, device=device, dtype=delta_moves.dtype)], dim=1)
    delta = delta.scatter_add(1, lengths.unsqueeze(1), terms.log_pf_stop.unsqueeze(1))
    cum = torch.cat([torch.zeros(batch, 1, device=device, dtype=delta.dtype), delta.cumsum(dim=1)], dim=1)
    # flows along the chain, k = 0..T+1
    phi = torch.cat([terms.log_flow, torch.zeros(batch, 1, device=device, dtype=delta.dtype)], dim=1)
    phi = phi.clone()
    phi[:, 0] = log_z
    phi = phi.scatter(1, (lengths + 1).unsqueeze(1), terms.log_reward.unsqueeze(1))
    # δ_ij = φ_i − φ_j + cum_j − cum_i
    residual = (phi - cum).unsqueeze(2) - (phi - cum).unsqueeze(1)  # (B, i, j)
    k = torch.arange(horizon + 2, device=device)
    span = k.view(1, 1, -1) - k.view(1, -1, 1)  # j − i
    valid = (span > 0) & (k.view(1, 1, -1) <= (lengths + 1).view(-1, 1, 1))
    weight = torch.where(valid, torch.as_tensor(lam, dtype=delta.dtype, device=device) ** span.clamp_min(0), 0.0)
    per_traj = (weight * residual.pow(2)).sum(dim=(1, 2)) / weight.sum(dim=(1, 2))
    return per_traj.mean()
