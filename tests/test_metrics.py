"""Metrics: L1 conventions, visit histogram, exact DP distribution, modes."""

from fractions import Fraction as Fr

import pytest
import torch

from gafn_lib.envs import Hypergrid, HypergridConfig
from gafn_lib.core.exact import exact_terminal_distribution, exact_terminal_distribution_generic
from gafn_lib.core.metrics import (
    VisitHistogram,
    js_divergence,
    kl_divergence,
    l1_mean,
    l1_sum,
    modes_covered,
    modes_found,
)


def uniform_policy_probs(env):
    mask = env.forward_mask(env.all_states()).double()
    return mask / mask.sum(dim=1, keepdim=True).clamp_min(1)


def test_l1_conventions():
    p = torch.tensor([0.5, 0.5, 0.0, 0.0])
    q = torch.tensor([0.25, 0.25, 0.25, 0.25])
    assert l1_sum(p, q) == pytest.approx(1.0)
    assert l1_mean(p, q) == pytest.approx(0.25)
    assert kl_divergence(p, p) == pytest.approx(0.0)
    assert kl_divergence(p, q) == pytest.approx(float(torch.log(torch.tensor(2.0))))
    assert 0 < js_divergence(p, q) <= float(torch.log(torch.tensor(2.0)))
    with pytest.raises(ValueError, match="same shape"):
        l1_mean(p, q[:3])


def test_visit_histogram():
    h = VisitHistogram(5)
    assert h.distribution().sum() == 0
    h.update(torch.tensor([0, 0, 3]))
    h.update(torch.tensor([3, 4]))
    assert h.counts.tolist() == [2, 0, 0, 2, 1]
    assert torch.allclose(h.distribution(), torch.tensor([0.4, 0, 0, 0.4, 0.2], dtype=torch.float64))
    assert h.visited(torch.tensor([1, 4])).tolist() == [False, True]


def test_dp_uniform_policy_edge_rule_by_hand():
    env = Hypergrid(HypergridConfig(ndim=2, height=3, termination="edge"))
    p = exact_terminal_distribution(env, uniform_policy_probs(env))
    hand = {
        (0, 0): Fr(1, 3), (1, 0): Fr(1, 9), (0, 1): Fr(1, 9), (1, 1): Fr(2, 27),
        (2, 0): Fr(1, 9), (0, 2): Fr(1, 9), (2, 1): Fr(2, 27), (1, 2): Fr(2, 27), (2, 2): Fr(0),
    }
    for (x, y), value in hand.items():
        assert float(p[x * 3 + y]) == pytest.approx(float(value), abs=1e-15)
    assert float(p.sum()) == pytest.approx(1.0, abs=1e-15)


def test_dp_uniform_policy_exit_rule_by_hand():
    env = Hypergrid(HypergridConfig(ndim=2, height=3, termination="exit"))
    p = exact_terminal_distribution(env, uniform_policy_probs(env))
    hand = {
        (0, 0): Fr(1, 3), (1, 0): Fr(1, 9), (0, 1): Fr(1, 9), (2, 0): Fr(1, 18), (0, 2): Fr(1, 18),
        (1, 1): Fr(2, 27), (2, 1): Fr(7, 108), (1, 2): Fr(7, 108), (2, 2): Fr(7, 54),
    }
    for (x, y), value in hand.items():
        assert float(p[x * 3 + y]) == pytest.approx(float(value), abs=1e-15)


@pytest.mark.parametrize("termination", ["edge", "exit"])
def test_dp_matches_monte_carlo(termination):
    torch.manual_seed(0)
    env = Hypergrid(HypergridConfig(ndim=2, height=5, termination=termination))
    # a non-uniform random policy over the valid actions
    logits = torch.randn(env.n_states, env.n_actions)
    mask = env.forward_mask(env.all_states())
    probs = torch.softmax(logits.masked_fill(~mask, -float("inf")), dim=1).nan_to_num(0.0)
    exact = exact_terminal_distribution(env, probs)
    n = 200_000
    states = env.reset(n)
    done = torch.zeros(n, dtype=torch.bool)
    while not done.all():
        active = (~done).nonzero(as_tuple=True)[0]
        a = torch.multinomial(probs[env.index(states[active])], 1).squeeze(1)
        nxt, d = env.step(states[active], a)
        states[active] = nxt
        done[active] = d
    empirical = torch.bincount(env.index(states), minlength=env.n_states).double() / n
    assert l1_sum(empirical, exact) < 0.02
    assert (empirical - exact).abs().max() < 0.006


def test_dp_is_fast_and_normalised_at_h128():
    import time

    env = Hypergrid(HypergridConfig(ndim=2, height=128))
    probs = uniform_policy_probs(env)
    t0 = time.perf_counter()
    p = exact_terminal_distribution(env, probs)
    elapsed = time.perf_counter() - t0
    assert float(p.sum()) == pytest.approx(1.0, abs=1e-10)
    assert elapsed < 5.0  # generous bound; the benchmark reports the real figure


def test_modes_found_and_covered():
    env = Hypergrid(HypergridConfig(ndim=2, height=6))
    h = VisitHistogram(env.n_states)
    goals = env.mode_indices()
    h.update(torch.tensor([0, int(goals[0]), int(goals[0])]))
    assert modes_found(env.mode_indices(), h) == 1
    p_true = env.true_distribution()
    assert modes_covered(env.mode_indices(), p_true, p_true) == 3
    p = p_true.clone()
    p[goals[1]] = 0.49 * p_true[goals[1]]
    assert modes_covered(env.mode_indices(), p, p_true) == 2
    with pytest.raises(ValueError, match="fraction"):
        modes_covered(env.mode_indices(), p, p_true, fraction=0)
