"""Batched trajectory sampling: ``B`` trajectories stepped in lockstep, one network call per step.

No knowledge of losses. Sampling runs without gradients; the trainer then evaluates the policy on
all visited states in one batched pass (cheaper than keeping ``T`` small autograd graphs).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gafn_lib.core.policies import MASKED_LOGIT


@dataclass(frozen=True)
class Trajectories:
    """A padded batch of complete trajectories on an environment with tensor states.

    Attributes:
        states: ``(B, T+1, *state_shape)`` ``s_0 … s_T``; positions after ``s_{n_b}`` repeat ``x``.
        actions: ``(B, T)`` move actions (``-1`` on padding); the final stop is implicit.
        mask: ``(B, T)`` bool, True on real moves.
        forced: ``(B,)`` bool, termination was forced by the environment (no stop action taken).
    """

    states: torch.Tensor
    actions: torch.Tensor
    mask: torch.Tensor
    forced: torch.Tensor

    @property
    def lengths(self) -> torch.Tensor:
        return self.mask.sum(dim=1)

    @property
    def terminal(self) -> torch.Tensor:
        """``(B, *state_shape)`` the terminal states ``x``."""
        return self.states[:, -1]

    @property
    def batch_size(self) -> int:
        return self.states.shape[0]


def action_probabilities(logits: torch.Tensor, mask: torch.Tensor, epsilon: float, temperature: float) -> torch.Tensor:
    """Sampling distribution: ``(1−ε)·softmax(logits/τ) + ε·uniform`` over the valid actions."""
    probs = (logits / temperature).masked_fill(~mask, MASKED_LOGIT).softmax(dim=-1)
    if epsilon > 0:
        uniform = mask.float() / mask.sum(dim=-1, keepdim=True).clamp_min(1)
        probs = (1 - epsilon) * probs + epsilon * uniform
    return probs


@torch.no_grad()
def sample_trajectories(
    env,
    forward_logits,
    batch_size: int,
    epsilon: float = 0.0,
    temperature: float = 1.0,
) -> Trajectories:
    """Sample ``batch_size`` complete trajectories.

    Args:
        env: an environment with ``reset``, ``forward_mask``, ``step_unchecked``, ``encode``,
            ``stop_action`` and ``max_moves`` (e.g. :class:`gafn_lib.envs.Hypergrid`).
        forward_logits: callable ``obs (N, D) → logits (N, A)`` (e.g. ``policy.forward_logits``).
        epsilon: probability mass of uniform exploration over valid actions.
        temperature: softmax temperature of the policy.

    In lockstep every active trajectory at iteration ``t`` has made exactly ``t`` moves, so the
    move taken at iteration ``t`` is stored at position ``t``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not 0 <= epsilon <= 1:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    states = env.reset(batch_size)
    max_moves = env.max_moves
    states_buf = states.new_zeros((batch_size, max_moves + 2, *states.shape[1:]))  # +1: a final stop-only iteration
    states_buf[:, 0] = states
    actions_buf = torch.full((batch_size, max_moves + 1), -1, dtype=torch.long, device=states.device)
    lengths = torch.zeros(batch_size, dtype=torch.long, device=states.device)
    forced = torch.zeros(batch_size, dtype=torch.bool, device=states.device)
    active = torch.arange(batch_size, device=states.device)
    t = 0
    while active.numel() > 0:
        current = states[active]
        mask = env.forward_mask(current)
        probs = action_probabilities(forward_logits(env.encode(current)), mask, epsilon, temperature)
        actions = torch.multinomial(probs, 1).squeeze(1)
        moved = actions != env.stop_action
        next_states, done = env.step_unchecked(current, actions)
        movers = active[moved]
        states[movers] = next_states[moved]
        states_buf[movers, t + 1] = next_states[moved]
        actions_buf[movers, t] = actions[moved]
        lengths[movers] += 1
        forced[active[done & moved]] = True
        active = active[~done]
        t += 1
    horizon = int(lengths.max())
    # pad every trajectory after its terminal state with copies of it
    positions = torch.arange(horizon + 1, device=states.device)
    take = torch.minimum(positions.unsqueeze(0), lengths.unsqueeze(1))  # (B, T+1)
    gather_index = take.view(batch_size, horizon + 1, *([1] * (states.dim() - 1))).expand(
        batch_size, horizon + 1, *states.shape[1:]
    )
    states_out = states_buf[:, : horizon + 1].gather(1, gather_index)
    actions_out = actions_buf[:, :horizon]
    return Trajectories(states=states_out, actions=actions_out, mask=actions_out >= 0, forced=forced)
