"""Trajectory balance (Malkin et al. 2022), with augmented flows (Pan et al. 2023, §4.2)."""

from __future__ import annotations

import torch

from gafn_lib.core.augment import leaky_log_pb
from gafn_lib.core.terms import TrajectoryTerms


def tb_residuals(terms: TrajectoryTerms, log_z: torch.Tensor) -> torch.Tensor:
    """Per-trajectory TB residual ``(B,)``:

    ``δ(τ) = log Z + Σ_t log P_F(s_{t+1}|s_t) + log P_F(stop|x) − log R̃(x) − Σ_t log P̃_B(s_t|s_{t+1})``

    with ``P̃_B = P_B + ℓ(s_t→s_{t+1}) / F(s_{t+1})`` (edge-augmented TB, paper §4.2; ``= P_B``
    without augmentation). Telescoping the edge-augmented DB gives
    ``Z ∏ P_F = R̃(x) ∏_t [P_B(s_t|s_{t+1}) + r(s_{t+1}) / F(s_{t+1})]``.
    """
    log_pb = terms.log_pb
    if terms.log_leak is not None:
        log_pb = leaky_log_pb(log_pb, terms.log_leak, terms.log_flow[:, 1:])
    mask = terms.mask
    sum_pf = (terms.log_pf * mask).sum(dim=1) + terms.log_pf_stop
    sum_pb = torch.where(mask, log_pb, torch.zeros_like(log_pb)).sum(dim=1)
    return log_z + sum_pf - terms.log_reward - sum_pb


def tb_loss(terms: TrajectoryTerms, log_z: torch.Tensor) -> torch.Tensor:
    """Trajectory balance loss: mean over the batch of ``δ(τ)²`` (see :func:`tb_residuals`).
    """
    squared = tb_residuals(terms, log_z).pow(2)
    return squared.mean()
