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
) -> Trajectories:
    """Sample ``batch_size`` complete trajectories per member, all members in lockstep.

    Args:
        env: an environment implementing :class:`gafn_lib.core.env.Environment`.
        forward_logits: ``states (K, N, *shape) → logits (K, N, n_actions)`` of every member.
        uniforms: ``(K, B, max_moves+1)`` from :func:`draw_uniforms`.
        state_probs: instead of ``forward_logits``, ``states (K·B, *shape) → (probs, mask)`` the
            sampling distribution (ε and τ included) and forward mask of every row, e.g. read from
            tables over every state computed once per step.

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
    t = 0
    # every row is stepped every iteration (finished rows take *stop*, which leaves them unchanged):
    # equal shapes for the stacked call and no compaction of the live rows
    while True:
        if state_probs is not None:
            probs, mask = state_probs(states)
            mask = mask.clone()
            mask[:, stop] |= done
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
    horizon = int(lengths.max())
    positions = torch.arange(horizon + 1, device=device)
    take = torch.minimum(positions.unsqueeze(0), lengths.unsqueeze(1))
    gather_index = take.view(total, horizon + 1, *([1] * len(state_shape))).expand(total, horizon + 1, *state_shape)
    states_out = states_buf[:, : horizon + 1].gather(1, gather_index)
    actions_out = actions_buf[:, :horizon]
    return Trajectories(states=states_out, actions=actions_out, mask=actions_out >= 0, forced=forced)
