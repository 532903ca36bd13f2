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

import torch

from gafn_lib.core.sampling import Trajectories, action_probabilities


def draw_uniforms(generators: Sequence[torch.Generator], batch_size: int, n_moves: int, device: torch.device) -> torch.Tensor:
    """``(K, B, n_moves)`` uniforms in ``[0, 1)``; row ``k`` from ``generators[k]`` only."""
    return torch.stack([torch.rand(batch_size, n_moves, generator=g, device=device) for g in generators])


def inverse_cdf(probs: torch.Tensor, mask: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """The action ``a`` with ``c_{a−1} ≤ u·c_{A−1} < c_a`` for the cumulative sums ``c`` of
    ``probs (N, A)`` and ``u (N,)``; never an action with probability 0. Falls back to the last
    allowed action where rounding puts ``u·c_{A−1}`` at the very top."""
    cdf = probs.cumsum(dim=1)
    x = u * cdf[:, -1]
    action = (cdf <= x.unsqueeze(1)).sum(dim=1)
    last_allowed = probs.shape[1] - 1 - (probs > 0).flip(1).float().argmax(dim=1)
    action = torch.minimum(action, last_allowed)
    # a zero-probability action can only be picked by the clamp when rounding misplaces x: move up to an allowed one
    bad = ~mask.gather(1, action.unsqueeze(1)).squeeze(1)
    if bool(bad.any()):
        action = torch.where(bad, last_allowed, action)
    return action


@torch.no_grad()
def sample_ensemble(
    env,
    forward_logits: Callable[[torch.Tensor], torch.Tensor],
    n_members: int,
    batch_size: int,
    uniforms: torch.Tensor,
    epsilon: float = 0.0,
    temperature: float = 1.0,
) -> Trajectories:
    """Sample ``batch_size`` complete trajectories per member, all members in lockstep.

    Args:
        env: an environment implementing :class:`gafn_lib.core.env.Environment`.
        forward_logits: ``states (K, N, *shape) → logits (K, N, n_actions)`` of every member.
        uniforms: ``(K, B, max_moves+1)`` from :func:`draw_uniforms`.

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
    states_buf = states.new_zeros((total, max_moves + 2, *state_shape))
    states_buf[:, 0] = states
    actions_buf = torch.full((total, max_moves + 1), -1, dtype=torch.long, device=device)
    lengths = torch.zeros(total, dtype=torch.long, device=device)
    forced = torch.zeros(total, dtype=torch.bool, device=device)
    active = torch.ones(total, dtype=torch.bool, device=device)
    u_flat = uniforms.reshape(total, -1)
    rows = torch.arange(total, device=device)
    t = 0
    while True:
        live = rows[active]
        if live.numel() == 0:
            break
        # every member's rows are evaluated (finished ones too): equal shapes per member for the stacked call
        logits = forward_logits(states.view(n_members, batch_size, *state_shape)).reshape(total, -1)[live]
        current = states[live]
        mask = env.forward_mask(current)
        probs = action_probabilities(logits, mask, epsilon, temperature)
        actions = inverse_cdf(probs, mask, u_flat[live, t])
        moved = actions != env.stop_action
        next_states, done = env.step_unchecked(current, actions)
        movers = live[moved]
        states[movers] = next_states[moved]
        states_buf[movers, t + 1] = next_states[moved]
        actions_buf[movers, t] = actions[moved]
        lengths[movers] += 1
        forced[live[done & moved]] = True
        active[live[done]] = False
        t += 1
    horizon = int(lengths.max())
    positions = torch.arange(horizon + 1, device=device)
    take = torch.minimum(positions.unsqueeze(0), lengths.unsqueeze(1))
    gather_index = take.view(total, horizon + 1, *([1] * len(state_shape))).expand(total, horizon + 1, *state_shape)
    states_out = states_buf[:, : horizon + 1].gather(1, gather_index)
    actions_out = actions_buf[:, :horizon]
    return Trajectories(states=states_out, actions=actions_out, mask=actions_out >= 0, forced=forced)
