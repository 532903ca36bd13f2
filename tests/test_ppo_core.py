"""PPO's shared pieces (gafn_lib.baselines.ppo_core) against slow, obvious loops."""

import pytest
import torch

from gafn_lib.baselines.ppo_core import clipped_surrogate, gae_advantages


def gae_loop(rewards, values, last, lam):
    """``A_t = Σ_{l ≥ 0} λ^l δ_{t+l}``, ``δ_t = r_t + V(s_{t+1}) − V(s_t)`` (γ = 1), up to each
    trajectory's final decision ``last`` (no bootstrap after it), 0 after it."""
    out = torch.zeros_like(values)
    for b in range(rewards.shape[0]):
        end = int(last[b])
        delta = [float(rewards[b, t]) + (float(values[b, t + 1]) if t < end else 0.0) - float(values[b, t]) for t in range(end + 1)]
        for t in range(end + 1):
            out[b, t] = sum(lam ** l * delta[t + l] for l in range(end + 1 - t))
    return out


def random_rollout(seed, batch=5, horizon=6, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    last = torch.randint(0, horizon, (batch,), generator=g)
    last[0] = horizon - 1
    last[1] = 0
    return torch.randn(batch, horizon, generator=g, dtype=dtype), torch.randn(batch, horizon, generator=g, dtype=dtype), last


@pytest.mark.parametrize("lam", [0.0, 0.5, 0.95, 1.0])
def test_gae_equals_the_loop(lam):
    rewards, values, last = random_rollout(0)
    expected = gae_loop(rewards, values, last, lam)
    assert torch.allclose(gae_advantages(rewards, values, last, lam), expected, rtol=1e-12, atol=1e-12)


def test_gae_lambda_one_is_return_minus_value():
    rewards, values, last = random_rollout(1)
    advantages = gae_advantages(rewards, values, last, 1.0)
    for b in range(rewards.shape[0]):
        end = int(last[b])
        for t in range(end + 1):
            assert float(advantages[b, t]) == pytest.approx(float(rewards[b, t : end + 1].sum() - values[b, t]), abs=1e-12)


def test_gae_per_member_lambda_equals_each_member_alone():
    members = [random_rollout(s) for s in range(3)]
    lams = torch.tensor([0.0, 0.7, 1.0], dtype=torch.float64)
    stacked = gae_advantages(*(torch.stack(x) for x in zip(*members)), lams)
    for k, (rewards, values, last) in enumerate(members):
        assert torch.allclose(stacked[k], gae_loop(rewards, values, last, float(lams[k])), rtol=1e-12, atol=1e-12)


def test_clipped_surrogate_equals_the_loop_and_its_gradient_autograd():
    g = torch.Generator().manual_seed(2)
    log_ratio = torch.randn(200, generator=g, dtype=torch.float64) * 0.4
    log_ratio[:3] = 0.0  # ρ = 1: inside the clip range
    advantages = torch.randn(200, generator=g, dtype=torch.float64)
    advantages[3] = 0.0
    low, high = 0.8, 1.2
    ratio = log_ratio.exp()
    loss = clipped_surrogate(ratio, advantages, low, high)
    for r, a, value in zip(ratio.tolist(), advantages.tolist(), loss.tolist()):
        assert value == pytest.approx(-min(r * a, min(max(r, low), high) * a), abs=1e-15)
    # the hand-written ∂L/∂ log π equals autograd's
    log_prob = log_ratio.clone().requires_grad_(True)
    expected, = torch.autograd.grad(clipped_surrogate(log_prob.exp(), advantages, low, high).sum(), log_prob)
    value, d_log_prob = clipped_surrogate(ratio, advantages, low, high, grad=True)
    assert torch.equal(value, loss)
    assert torch.allclose(d_log_prob, expected, rtol=1e-12, atol=1e-15)


def test_clipped_surrogate_takes_per_member_bounds():
    ratio = torch.tensor([[0.5, 1.0, 1.5], [0.5, 1.0, 1.5]])
    advantages = torch.ones(2, 3)
    clip = torch.tensor([[0.1], [0.4]])
    loss = clipped_surrogate(ratio, advantages, 1 - clip, 1 + clip)
    assert torch.allclose(loss, -torch.tensor([[0.5, 1.0, 1.1], [0.5, 1.0, 1.4]]))
