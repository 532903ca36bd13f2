"""Detailed balance (Bengio et al. 2023, "GFlowNet Foundations"), with augmented flows."""

from __future__ import annotations

import torch

from gafn_lib.core.augment import leaky_log_pb
from gafn_lib.core.terms import TrajectoryTerms


def db_loss(terms: TrajectoryTerms, log_z: torch.Tensor) -> torch.Tensor:
    """Detailed balance loss, averaged over every transition of the batch (moves and stops).

    Move ``t`` (``s = s_t``, ``s' = s_{t+1}``), edge-augmented DB (paper §4.2):

    ``F(s) P_F(s'|s) = F(s') P_B(s|s') + ℓ(s→s')``  ⇔
    ``δ_t = log F(s) + log P_F(s'|s) − log F(s') − log P̃_B(s|s')``, ``P̃_B = P_B + ℓ/F(s')``.

    Stop at ``x``: ``δ_stop = log F(x) + log P_F(stop|x) − log R̃(x)``.

    ``F(s_0)`` is the learned ``Z`` (``log_z``), so that ``log Z`` is an estimate of the partition
    function under DB too. Loss ``= (Σ_t δ_t² + Σ_b δ_stop²) / (#moves + B)``.
    """
    mask = terms.mask
    batch = mask.shape[0]
    log_flow = terms.log_flow.clone()
    log_flow[:, 0] = log_z
    log_f_parent, log_f_child = log_flow[:, :-1], log_flow[:, 1:]
    log_pb = terms.log_pb
    if terms.log_leak is not None:
        log_pb = leaky_log_pb(log_pb, terms.log_leak, log_f_child)
    delta_moves = log_f_parent + terms.log_pf - log_f_child - log_pb
    delta_moves = torch.where(mask, delta_moves, torch.zeros_like(delta_moves))
    log_f_terminal = log_flow.gather(1, terms.lengths.unsqueeze(1)).squeeze(1)
    delta_stop = log_f_terminal + terms.log_pf_stop - terms.log_reward
    return (delta_moves.pow(2).sum() + delta_stop.pow(2).sum()) / (mask.sum() + batch)
