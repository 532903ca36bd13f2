"""Hypergrid environment: exact rewards, modes, masks, enumeration, bad input."""

import itertools

import pytest
import torch

from gafn_lib.envs import Hypergrid, HypergridConfig


def grid(**kw):
    return Hypergrid(HypergridConfig(**kw))


def test_sparse_reward_by_hand_2d_h4():
    env = grid(ndim=2, height=4)
    # goals: {1, 2}^2 minus (1, 1)
    expected = {(1, 2): 1.0, (2, 1): 1.0, (2, 2): 1.0}
    states = torch.tensor(list(itertools.product(range(4), repeat=2)))
    rewards = env.reward(states)
    for s, r in zip(states.tolist(), rewards.tolist()):
        assert r == expected.get(tuple(s), 0.0), s
    assert env.coords(env.mode_indices()).tolist() == [[1, 2], [2, 1], [2, 2]]
    assert env.n_modes == 3


def test_sparse_reward_paper_goals_and_ndim_generalisation():
    env = grid(ndim=2, height=8)
    assert sorted(map(tuple, env.coords(env.mode_indices()).tolist())) == [(1, 6), (6, 1), (6, 6)]
    env3 = grid(ndim=3, height=5)
    assert env3.n_modes == 2**3 - 1
    assert env3.reward(torch.tensor([[1, 1, 1], [3, 1, 1], [3, 3, 3], [2, 3, 3]])).tolist() == [0, 1, 1, 0]


def test_dense_reward_by_hand_2d_h5():
    # H=5: a = |s/4 - 0.5| = 0.5, 0.25, 0, 0.25, 0.5 for s = 0..4
    env = grid(ndim=2, height=5, reward="dense", termination="exit")
    r = env.reward(torch.tensor([[0, 0], [0, 4], [1, 0], [2, 2], [4, 4]]))
    # a > 0.25 only for s in {0, 4}; 0.3 < a < 0.4 never → modes fall back to band 1
    assert torch.allclose(r, torch.tensor([0.6, 0.6, 0.1, 0.1, 0.6]))
    assert sorted(map(tuple, env.coords(env.mode_indices()).tolist())) == [(0, 0), (0, 4), (4, 0), (4, 4)]


def test_dense_reward_by_hand_2d_h8():
    # H=8: a(s) = |s/7 - 0.5|: s=1,6 → 0.357 (both bands); s=0,7 → 0.5 (band 1 only)
    env = grid(ndim=2, height=8, reward="dense", r0=0.1, r1=0.5, r2=2.0)
    r = env.reward(torch.tensor([[1, 6], [0, 0], [0, 1], [3, 3]]))
    assert torch.allclose(r, torch.tensor([2.6, 0.6, 0.6, 0.1]))
    assert sorted(map(tuple, env.coords(env.mode_indices()).tolist())) == [(1, 1), (1, 6), (6, 1), (6, 6)]


def test_index_round_trip_and_numpy_convention():
    import numpy as np

    env = grid(ndim=3, height=5)
    states = env.all_states()
    assert states.shape == (125, 3)
    idx = env.index(states)
    assert torch.equal(idx, torch.arange(125))
    assert torch.equal(env.coords(idx), states)
    s = torch.tensor([[1, 2, 3]])
    assert int(env.index(s)) == np.ravel_multi_index((1, 2, 3), (5, 5, 5))


@pytest.mark.parametrize("termination", ["edge", "exit"])
@pytest.mark.parametrize("reward", ["sparse", "dense"])
def test_true_distribution_sums_to_one(termination, reward):
    env = grid(ndim=2, height=6, reward=reward, termination=termination)
    p = env.true_distribution()
    assert abs(float(p.sum()) - 1) < 1e-12
    assert (p[~env.terminal_mask()] == 0).all()
    assert abs(env.log_partition() - float(torch.log((env.reward(env.all_states()) * env.terminal_mask()).double().sum()))) < 1e-12


def brute_force_masks(env, s):
    """Forward/backward masks from first principles: try every move and check reachability."""
    h, n = env.height, env.ndim
    reachable = (sum(c == h - 1 for c in s) <= 1) if env.termination == "edge" else True
    terminal = env.termination == "edge" and any(c == h - 1 for c in s)
    fwd = []
    for d in range(n):
        ok = s[d] < h - 1 and not terminal
        fwd.append(ok)
    fwd.append(not terminal)
    bwd = []
    for d in range(n):
        parent = list(s)
        parent[d] -= 1
        ok = reachable and parent[d] >= 0
        if ok and env.termination == "edge":
            ok = not any(c == h - 1 for c in parent)  # a terminal state cannot be a parent
        bwd.append(ok)
    return fwd, bwd


@pytest.mark.parametrize("termination", ["edge", "exit"])
def test_masks_match_brute_force(termination):
    env = grid(ndim=3, height=4, termination=termination)
    states = env.all_states()
    fwd, bwd = env.forward_mask(states), env.backward_mask(states)
    for i, s in enumerate(states.tolist()):
        f, b = brute_force_masks(env, s)
        assert fwd[i].tolist() == f, (s, "forward")
        assert bwd[i].tolist() == b, (s, "backward")


def test_step_and_termination_rules():
    env = grid(ndim=2, height=4)
    s = torch.tensor([[0, 0], [2, 1], [1, 1]])
    nxt, done = env.step(s, torch.tensor([2, 0, 1]))
    assert nxt.tolist() == [[0, 0], [3, 1], [1, 2]]
    assert done.tolist() == [True, True, False]  # stop; reached the edge; interior
    with pytest.raises(ValueError, match="invalid action"):
        env.step(torch.tensor([[3, 0]]), torch.tensor([1]))  # forced-terminal state has no actions
    ex = grid(ndim=2, height=4, termination="exit")
    nxt, done = ex.step(torch.tensor([[2, 1]]), torch.tensor([0]))
    assert nxt.tolist() == [[3, 1]] and done.tolist() == [False]
    with pytest.raises(ValueError, match="invalid action"):
        ex.step(torch.tensor([[3, 1]]), torch.tensor([0]))


def test_encoding_is_concatenated_one_hot():
    env = grid(ndim=2, height=4)
    enc = env.encode(torch.tensor([[1, 3]]))
    assert enc.tolist() == [[0, 1, 0, 0, 0, 0, 0, 1]]


def test_parents_lead_back():
    env = grid(ndim=3, height=5, termination="edge")
    states = env.all_states()
    states = states[env.is_reachable(states)]
    par, par_actions, mask = env.parents(states)
    for d in range(env.ndim):
        rows = mask[:, d]
        p = par[rows, d]
        assert not env.is_forced_terminal(p).any()
        actions = par_actions[rows, d]
        child, _ = env.step(p, actions)
        assert torch.equal(child, states[rows])
        # the explicit map: the backward action undoing the move is allowed at the child
        back = env.backward_action(p, actions)
        assert env.backward_mask(child).gather(1, back.unsqueeze(1)).all()


def test_large_grids_enumerate_fast_and_huge_grids_refuse():
    env = grid(ndim=2, height=128)
    assert env.all_states().shape == (128 * 128, 2)
    env4 = grid(ndim=4, height=16)
    assert env4.true_distribution().shape == (16**4,)
    huge = grid(ndim=8, height=16)
    with pytest.raises(ValueError, match="refused"):
        huge.all_states()


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"ndim": 0}, "ndim"),
        ({"height": 2}, "height"),
        ({"reward": "banana"}, "reward"),
        ({"termination": "wall"}, "termination"),
        ({"reward": "dense", "r0": -1.0}, "r0"),
    ],
)
def test_bad_config_names_the_parameter(kwargs, field):
    with pytest.raises(ValueError, match=field):
        HypergridConfig(**kwargs)


def test_states_outside_grid_are_rejected():
    env = grid(ndim=2, height=4)
    with pytest.raises(ValueError, match="outside the grid"):
        env.validate_states(torch.tensor([[0, 4]]))
    with pytest.raises(ValueError, match="shape"):
        env.validate_states(torch.tensor([[0, 1, 2]]))
    with pytest.raises(ValueError, match="out of range"):
        env.coords(torch.tensor([16]))
