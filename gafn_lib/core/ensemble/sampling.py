"""Lockstep trajectory sampling for ``K`` ensemble members × ``B`` trajectories, one stacked network
call per move, each member drawing only from its own random stream.

Member ``k`` draws, once per batch, a block of uniforms ``u_k (B, max_moves+1)`` from its own
``torch.Generator``; move ``t`` of trajectory ``b`` takes the action whose cumulative probability
interval contains ``u_k[b, t]`` (inverse-CDF sampling). A member's trajectories are therefore a
function of its own policy and its own generator only: changing another member's seed, η or
objective changes nothing of them.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

from gafn_lib.core.sampling import Trajectories, action_probabilities


def draw_uniforms(generators: Sequence[torch.Generator], batch_size: int, n_moves: int, device: torch.device) -> torch.Tensor:
    """``(K, B, n_moves)`` uniforms in ``[0, 1)``; row ``k`` from ``generators[k]`` only."""
    return torch.stack([torch.rand(batch_size, n_moves, generator=g, device=device) for g in generators])


def inverse_cdf(probs: torch.Tensor, mask: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """The action ``a`` with ``c_{a−1} ≤ u·c_{A−1} < c_a`` for the cumulative sums ``c`` of
    ``probs (N, A)`` and ``u (N,)``: never an action of probability 0 (its interval is empty), except
    where rounding puts ``u·c_{A−1}`` at the very top, which is mended to the last allowed action."""
    cdf = probs.cumsum(dim=1)
    action = (cdf <= (u * cdf[:, -1]).unsqueeze(1)).sum(dim=1).clamp_max(probs.shape[1] - 1)
    bad = ~mask.gather(1, action.unsqueeze(1)).squeeze(1)
    if bool(bad.any()):
        last_allowed = probs.shape[1] - 1 - (probs > 0).flip(1).to(torch.uint8).argmax(dim=1)
        action = torch.where(bad, last_allowed, action)
    return action


@torch.no_grad()
def sample_ensemble(
    env,
    forward_logits: Callable[[torch.Tensor], torch.Tensor] | None,
    n_members: int,
    batch_size: int,
    uniforms: torch.Tensor,
    epsilon: float = 0.0,
    temperature: float = 1.0,
    state_probs: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None,
    live_rows: int | None = None,
    pad_to: int | None = None,
) -> Trajectories:
    """Sample ``batch_size`` complete trajectories per member, all members in lockstep.

    Args:
        env: an environment implementing :class:`gafn_lib.core.env.Environment`.
        forward_logits: ``states (K, N, *shape) → logits (K, N, n_actions)`` of every member.
        uniforms: ``(K, B, max_moves+1)`` from :func:`draw_uniforms`.
        state_probs: instead of ``forward_logits``, ``states (K·B, *shape) → (probs, mask)`` the
            sampling distribution (ε and τ included) and forward mask of every row, e.g. read from
            tables over every state computed once per step.
        live_rows: call ``forward_logits`` only on the still-running trajectories: each member's
            live rows first, padded to the most live rows of any member and to at least
            ``live_rows`` rows (below ~5 rows a batched matmul takes another BLAS path and rounds
            differently; 8 keeps each row's logits the same as in the full call). ``None``: every
            row at every move (finished rows take *stop* either way).
        pad_to: pad the trajectories to this many moves (``env.max_moves``: a batch's shape then
            never depends on its draws, nor on the other members'); ``None``: to the longest one.

    Returns:
        :class:`Trajectories` with batch ``K·B`` (member ``k`` owns rows ``k·B … k·B+B−1``), padded
        to the longest trajectory of the whole ensemble; positions after a trajectory's terminal
        state repeat it.
    """
    total = n_members * batch_size
    states = env.reset(total)
    state_shape = states.shape[1:]
    device = states.device
    max_moves = env.max_moves
    stop = env.stop_action
    states_buf = states.new_zeros((total, max_moves + 2, *state_shape))
    states_buf[:, 0] = states
    actions_buf = torch.full((total, max_moves + 1), -1, dtype=torch.long, device=device)
    lengths = torch.zeros(total, dtype=torch.long, device=device)
    forced = torch.zeros(total, dtype=torch.bool, device=device)
    done = torch.zeros(total, dtype=torch.bool, device=device)
    u_flat = uniforms.reshape(total, -1)
    member_start = (torch.arange(n_members, device=device) * batch_size).unsqueeze(1)
    t = 0
    # every row is stepped every iteration (finished rows take *stop*, which leaves them unchanged):
    # equal shapes for the stacked call and no compaction of the live rows
    while True:
        if state_probs is not None:
            probs, mask = state_probs(states)
            mask = mask.clone()
            mask[:, stop] |= done
        else:
            width = batch_size
            if live_rows is not None:
                live = (~done).view(n_members, batch_size)
                width = max(int(live.sum(dim=1).max()), min(live_rows, batch_size))
            if width < batch_size:
                order = torch.sort((~live).to(torch.uint8), dim=1, stable=True).indices[:, :width]
                rows = (order + member_start).reshape(-1)
                part = forward_logits(states[rows].view(n_members, width, *state_shape)).reshape(n_members * width, -1)
                logits = part.new_zeros(total, part.shape[1]).index_copy_(0, rows, part)  # finished rows: any logits
            else:
                logits = forward_logits(states.view(n_members, batch_size, *state_shape)).reshape(total, -1)
            mask = env.forward_mask(states).clone()  # (the environment may hand out a cached tensor)
            mask[:, stop] |= done  # a finished (possibly forced-terminal) row may only stop
            probs = action_probabilities(logits, mask, epsilon, temperature)
        actions = inverse_cdf(probs, mask, u_flat[:, t])
        actions.masked_fill_(done, stop)
        next_states, now_done = env.step_unchecked(states, actions)
        moved = actions != stop
        states = next_states
        states_buf[:, t + 1] = states
        actions_buf[:, t] = actions.masked_fill(~moved, -1)
        lengths += moved
        forced |= now_done & moved
        done |= now_done
        t += 1
        if bool(done.all()):
            break
    horizon = int(lengths.max()) if pad_to is None else pad_to
    positions = torch.arange(horizon + 1, device=device)
    take = torch.minimum(positions.unsqueeze(0), lengths.unsqueeze(1))
    gather_index = take.view(total, horizon + 1, *([1] * len(state_shape))).expand(total, horizon + 1, *state_shape)
    states_out = states_buf[:, : horizon + 1].gather(1, gather_index)
    actions_out = actions_buf[:, :horizon]
    return Trajectories(states=states_out, actions=actions_out, mask=actions_out >= 0, forced=forced)


def transition_table(graph) -> torch.Tensor:
    """``child (N, A)`` of a :class:`gafn_lib.core.exact.StateGraph`: the index of the state that
    action ``a`` leads to from state ``s``; the stop action and masked actions leave ``s`` unchanged."""
    n = graph.n_states
    n_actions = graph.forward_mask.shape[1]
    child = torch.arange(n, device=graph.states.device).unsqueeze(1).repeat(1, n_actions)
    child[graph.src, graph.action] = graph.dst
    return child


@torch.no_grad()
def sample_from_tables(
    graph,
    child: torch.Tensor,
    probs: torch.Tensor,
    mask: torch.Tensor,
    n_members: int,
    batch_size: int,
    uniforms: torch.Tensor,
    pad_to: int | None = None,
) -> Trajectories:
    """:func:`sample_ensemble` for an enumerable environment whose sampling distributions are
    tabulated: the same trajectories, drawn on state *indices* with no network call per move.

    Args:
        graph: the environment's :class:`gafn_lib.core.exact.StateGraph` (``N`` states, the initial
            state, forced-terminal states, the stop action).
        child: ``(N, A)`` from :func:`transition_table`.
        probs: ``(K·N, A)`` member ``k``'s sampling distribution (ε and τ included) on state ``s`` in
            row ``k·N + s``; mask: ``(N, A)`` or ``(K·N, A)`` the allowed actions (forced-terminal
            states allow only *stop*, which is never taken there).
        uniforms: ``(K, B, max_moves+1)`` from :func:`draw_uniforms`.
        pad_to: as in :func:`sample_ensemble`.

    Move ``t`` of trajectory ``b`` of member ``k`` takes ``inverse_cdf(probs[k·N + s], u_k[b, t])``
    exactly as :func:`sample_ensemble` does, so given the same probabilities the trajectories are
    identical; a move is three gathers on index arrays instead of a network call and a state update
    (on CPU in numpy: :func:`_walk_numpy`).
    """
    n = graph.n_states
    n_actions = child.shape[1]
    stop = graph.stop_action
    total = n_members * batch_size
    device = child.device
    u_flat = uniforms.reshape(total, -1)
    offsets = (torch.arange(n_members, device=device) * n).repeat_interleave(batch_size)
    # inverse_cdf, tabulated: the cumulative sums of every row, and for every row and raw draw
    # a ∈ {0 … A} (A: u·c_last at the very top) the action inverse_cdf returns (a if allowed, else
    # the last action of positive probability)
    row_mask = mask if mask.shape[0] == probs.shape[0] else mask.repeat(probs.shape[0] // mask.shape[0], 1)
    cdf = probs.cumsum(dim=1)
    top = cdf[:, -1].contiguous()
    raw = torch.arange(n_actions + 1, device=device).clamp_max(n_actions - 1)
    last_allowed = n_actions - 1 - (probs > 0).flip(1).to(torch.uint8).argmax(dim=1, keepdim=True)
    repair = torch.where(row_mask[:, raw], raw.unsqueeze(0), last_allowed).reshape(-1)
    walk = _walk_numpy if device.type == "cpu" else _walk_torch
    index_buf, actions_buf, t = walk(
        cdf, top, repair, child.reshape(-1), graph.forced, offsets, u_flat, graph.initial, n_actions, stop
    )
    forced_of = graph.forced
    moved = actions_buf != stop
    lengths = moved.sum(dim=1)
    final = index_buf.gather(1, lengths.unsqueeze(1)).squeeze(1)
    forced = forced_of[final] & (lengths > 0)
    horizon = int(lengths.max()) if pad_to is None else pad_to
    positions = torch.arange(horizon + 1, device=device)
    take = torch.minimum(positions.unsqueeze(0), lengths.unsqueeze(1))
    states_out = graph.states[index_buf[:, : horizon + 1].gather(1, take)]
    actions_out = actions_buf[:, :horizon].masked_fill(~moved[:, :horizon], -1)
    return Trajectories(states=states_out, actions=actions_out, mask=actions_out >= 0, forced=forced)


def _walk_torch(cdf, top, repair, child_flat, forced_of, offsets, u_flat, initial, n_actions, stop):
    """The move loop of :func:`sample_from_tables` in torch (any device): ``(state indices
    (KB, max_moves+2), actions (KB, max_moves+1), number of moves made)``."""
    total, n_draws = u_flat.shape
    device = u_flat.device
    idx = torch.full((total,), initial, dtype=torch.long, device=device)
    index_buf = torch.empty((total, n_draws + 1), dtype=torch.long, device=device)
    index_buf[:, 0] = idx
    actions_buf = torch.full((total, n_draws), stop, dtype=torch.long, device=device)
    done = torch.zeros(total, dtype=torch.bool, device=device)
    t = 0
    while t < n_draws:
        rows = offsets + idx
        draw = (cdf[rows] <= (u_flat[:, t] * top[rows]).unsqueeze(1)).sum(dim=1)
        action = repair[rows * (n_actions + 1) + draw].masked_fill_(done, stop)
        idx = child_flat[idx * n_actions + action]
        index_buf[:, t + 1] = idx
        actions_buf[:, t] = action
        done |= (action == stop) | forced_of[idx]
        t += 1
        if bool(done.all()):
            break
    return index_buf, actions_buf, t


def _walk_numpy(cdf, top, repair, child_flat, forced_of, offsets, u_flat, initial, n_actions, stop):
    """:func:`_walk_torch` on CPU with numpy arrays sharing the tensors' memory: the same float32
    comparisons (so the same actions), at a fraction of the per-operation overhead of a move
    (a few microseconds instead of tens)."""
    cdf_np, top_np, u_np = cdf.numpy(), top.numpy(), u_flat.numpy()
    repair_np, child_np, forced_np, offsets_np = repair.numpy(), child_flat.numpy(), forced_of.numpy(), offsets.numpy()
    total, n_draws = u_np.shape
    index_buf = np.empty((total, n_draws + 1), dtype=np.int64)
    index_buf[:, 0] = initial
    actions_buf = np.full((total, n_draws), stop, dtype=np.int64)
    idx = index_buf[:, 0].copy()
    done = np.zeros(total, dtype=bool)
    width = n_actions + 1
    t = 0
    while t < n_draws:
        rows = offsets_np + idx
        threshold = u_np[:, t] * top_np[rows]  # float32 × float32 → float32, as in torch
        draw = (cdf_np[rows] <= threshold[:, None]).sum(axis=1)
        action = repair_np[rows * width + draw]
        action[done] = stop
        idx = child_np[idx * n_actions + action]
        index_buf[:, t + 1] = idx
        actions_buf[:, t] = action
        done |= (action == stop) | forced_np[idx]
        t += 1
        if done.all():
            break
    return torch.from_numpy(index_buf), torch.from_numpy(actions_buf), t
