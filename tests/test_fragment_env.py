"""The fragment-based molecule MDP behind the environment protocol: the core trainer runs on it."""

import math

import pytest
import torch

from gafn_lib.core.config import TrainConfig
from gafn_lib.core.env import ProtocolError, check_environment, is_enumerable
from gafn_lib.core.trainer import GFlowNetTrainer
from gafn_lib.envs.fragment_env import FragmentEnvironment
from gafn_lib.envs.fragments import STOP, FragmentMDP


@pytest.fixture(scope="module")
def env():
    return FragmentEnvironment(FragmentMDP(min_blocks=2, max_blocks=4))


def test_follows_the_protocol(env):
    check_environment(env, n_probe=16)
    assert not is_enumerable(env)


def test_parents_are_checked_up_to_the_order_of_blocks(env):
    """One molecule built in two block orders is interned as two ids, and parents() lists the edges
    into both (the MDP's equivalent blocks): same_state tells check_environment they are one
    labelled molecule. Without it the checker refuses the environment, naming the two ids."""

    class Strict(FragmentEnvironment):
        same_state = None  # compare state ids only

    with pytest.raises(ProtocolError, match=r"parents\(child\) lists a parent that does not lead to the child: child state \[\d+\]"):
        check_environment(Strict(env.mdp, proxy=env.proxy), n_probe=16)
    gen = torch.Generator().manual_seed(1)
    reordered = 0
    for _ in range(20):  # 2-block molecules: removing either block is a backward move
        states = env.reset(1)
        for _ in range(2):
            mask = env.forward_mask(states)
            mask[:, STOP] = False
            states, _ = env.step_unchecked(states, torch.multinomial(mask.float(), 1, generator=gen).squeeze(1))
        par = env.parents(states)
        listed = par.mask[0].nonzero(as_tuple=True)[0]
        children, _ = env.step_unchecked(par.states[0, listed], par.actions[0, listed])
        assert bool(env.same_state(children, states.expand(len(listed), 1)).all())
        reordered += int((children[:, 0] != states[0, 0]).sum())
    assert reordered > 0  # some listed edges build the molecule in the other block order
    assert not bool(env.same_state(env.reset(1), states)[0]) and not bool(env.same_state(par.states[0, listed[:1]], states)[0])


def test_moves_parents_and_backward_actions_agree_with_the_mdp(env):
    gen = torch.Generator().manual_seed(0)
    states = env.reset(8)
    for _ in range(3):
        mask = env.forward_mask(states)
        mask[:, STOP] = False
        live = mask.any(dim=1)
        actions = torch.multinomial(mask[live].float(), 1, generator=gen).squeeze(1)
        before = states[live]
        after, done = env.step_unchecked(before, actions)
        for s, a, c in zip(env.block_states(before), actions.tolist(), env.block_states(after)):
            assert env.mdp.step(s, a) == c  # the same MDP
        par = env.parents(after)
        back = env.backward_action(before, actions)
        assert env.backward_mask(after).gather(1, back.unsqueeze(1)).all()
        for row in range(after.shape[0]):
            pairs = {(int(p), int(a)) for p, a, m in zip(par.states[row, :, 0], par.actions[row], par.mask[row]) if m}
            assert (int(before[row, 0]), int(actions[row])) in pairs
        states = states.clone()
        states[live] = after
    obs = env.encode(states)
    assert obs.shape == (8, env.obs_dim) and torch.equal(obs[:, : env.n_frags].sum(1), torch.tensor([float(s.n_blocks) for s in env.block_states(states)]))


def test_forced_terminal_molecules_have_no_action(env):
    states = env.reset(1)
    while True:
        mask = env.forward_mask(states)
        if not mask.any():
            break
        mask[:, STOP] = False
        states, done = env.step_unchecked(states, mask.float().argmax(dim=1))
    assert env.block_states(states)[0].n_blocks == env.mdp.max_blocks or not env.block_states(states)[0].stems


@pytest.mark.parametrize("objective", ["tb", "db", "fm"])
def test_the_core_trainer_trains_on_molecules(env, objective):
    history = GFlowNetTrainer(TrainConfig(objective=objective, augment="joint", batch_size=4, n_steps=4, log_every=2, hidden=32), env=env).train(progress=False)
    final = history.final
    assert final["trajectories"] == 16 and math.isfinite(final["loss"]) and math.isnan(final["log_z_true"])
    assert history.config["env"].startswith("FragmentEnvironment(")
