"""Exact flows of the target distribution on an enumerable hypergrid (for checks and teaching)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gafn_lib.envs.hypergrid import Hypergrid


@dataclass(frozen=True)
class ExactFlows:
    """A flow consistent with ``R`` for a fixed backward policy (float64, canonical-index order).

    Attributes:
        log_flow: ``(N,)`` ``log F(s)`` (``-inf`` on unreachable cells).
        log_pb: ``(N, ndim)`` ``log P_B(s − e_d | s)`` (``-inf`` for invalid parents).
        log_pf: ``(N, ndim+1)`` ``log P_F`` (increments, then stop).
        log_edge_flow: ``(N, ndim+1)`` ``log F(s → ·)``; the stop edge carries ``R(s)``.
        log_z: ``log Z = log F(s_0)``.
    """

    log_flow: torch.Tensor
    log_pb: torch.Tensor
    log_pf: torch.Tensor
    log_edge_flow: torch.Tensor
    log_z: float


def exact_flows(env: Hypergrid, log_reward: torch.Tensor | None = None) -> ExactFlows:
    """Build ``F``, ``P_F`` consistent with ``R`` for ``P_B`` uniform over valid parents.

    Backward recursion over levels (``Σ_d s_d`` decreasing):
    ``F(s) = R(s)·1[s can terminate] + Σ_{s' ∈ Ch(s)} F(s') P_B(s|s')``, then
    ``P_F(s'|s) = F(s') P_B(s|s') / F(s)``, ``P_F(stop|s) = R(s) / F(s)``, ``Z = F(s_0)``.
    Every reachable cell can terminate (by stop, or by force at the edge).

    ``log_reward`` defaults to ``env.log_reward`` (with its floor) on every cell.
    """
    states = env.all_states()
    n, ndim, height = env.n_states, env.ndim, env.height
    log_r = (env.log_reward(states) if log_reward is None else log_reward).double()
    reach = env.is_reachable(states)
    bmask = env.backward_mask(states)
    pb = bmask.double() / bmask.sum(dim=1, keepdim=True).clamp_min(1)
    fmask = env.forward_mask(states)
    strides = env._strides
    flow = torch.zeros(n, dtype=torch.float64)
    edge = torch.zeros(n, ndim + 1, dtype=torch.float64)
    level = states.sum(dim=1)
    for lvl in range(int(level.max()), -1, -1):
        idx = ((level == lvl) & reach).nonzero(as_tuple=True)[0]
        for d in range(ndim):
            ok = fmask[idx, d]
            child = idx[ok] + strides[d]
            edge[idx[ok], d] = flow[child] * pb[child, d]
        edge[idx, ndim] = torch.where(fmask[idx, ndim] | env.is_forced_terminal(states[idx]), log_r[idx].exp(), 0.0)
        flow[idx] = edge[idx].sum(dim=1)
    log_flow = flow.log()
    log_edge = edge.log()
    log_pf = (log_edge - log_flow.unsqueeze(1)).nan_to_num(nan=float("-inf"))
    return ExactFlows(log_flow=log_flow, log_pb=pb.log(), log_pf=log_pf, log_edge_flow=log_edge, log_z=float(log_flow[0]))
