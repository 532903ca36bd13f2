"""check_environment refuses the silent faults of a new environment, naming the state at fault:
a log-reward that is NaN / +inf on a non-terminal state, and a parents() that lists non-parents
(issue 22). A correct multi-parent environment passes and trains under every objective."""

import math

import pytest
import torch

from gafn_lib.core.config import TrainConfig
from gafn_lib.core.env import FULL_CHECK_MAX_STATES, Parents, ProtocolError, check_environment, is_enumerable
from gafn_lib.core.exact import exact_flows, exact_terminal_distribution, target_distribution
from gafn_lib.core.trainer import GFlowNetTrainer
from gafn_lib.envs import Hypergrid, HypergridConfig

N_ITEMS = 8
WEIGHTS = torch.linspace(0.3, 1.0, N_ITEMS)


class SubsetEnv:
    """Sets of up to ``max_size`` of 8 items, written from the protocol alone (no library base class).

    A state is a ``(B, 8)`` 0/1 long tensor; forward action ``i < 8`` adds item ``i`` (if absent),
    action 8 stops (allowed once the set has an item); a set of ``max_size`` items is forced
    terminal. Backward action ``j`` removes item ``j``: a set of ``n`` items has ``n`` parents, so
    the DAG is far from a tree. ``R(x) = 0.1 + Σ_i w_i x_i``.
    """

    name = "subsets"
    n_actions = N_ITEMS + 1
    stop_action = N_ITEMS
    n_backward_actions = N_ITEMS
    obs_dim = N_ITEMS

    def __init__(self, max_size: int = 5):
        self.max_size = max_size
        self.max_moves = max_size
        self.device = torch.device("cpu")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(max_size={self.max_size})"

    def reset(self, batch_size):
        return torch.zeros(batch_size, N_ITEMS, dtype=torch.long)

    def forward_mask(self, states):
        size = states.sum(dim=1, keepdim=True)
        room = size < self.max_size
        return torch.cat([(states == 0) & room, (size >= 1) & room], dim=1)

    def backward_mask(self, states):
        return (states == 1) & (states.sum(dim=1, keepdim=True) <= self.max_size)

    def step_unchecked(self, states, actions):
        moved = actions != self.stop_action
        nxt = states.clone()
        rows = moved.nonzero(as_tuple=True)[0]
        nxt[rows, actions[rows]] = 1
        return nxt, ~moved | (nxt.sum(dim=1) >= self.max_size)

    def backward_action(self, states, actions):
        return actions

    def parents(self, states):
        eye = torch.eye(N_ITEMS, dtype=torch.long)
        par = (states.unsqueeze(1) - eye).clamp_min(0)  # row j: the set without item j
        actions = torch.arange(N_ITEMS).expand(states.shape[0], -1)
        return Parents(par, actions, self.backward_mask(states))

    def encode(self, states):
        return states.float()

    def score(self, states):
        return 0.1 + (states.float() * WEIGHTS).sum(dim=1)

    def log_reward(self, states):
        return torch.log(self.score(states))


class EnumerableSubsetEnv(SubsetEnv):
    """The same sets, listed: state index = the bitmask (256 states; sets above ``max_size`` items
    are unreachable and have no parents)."""

    n_states = 2**N_ITEMS

    def index(self, states):
        return (states * (2 ** torch.arange(N_ITEMS))).sum(dim=1)

    def all_states(self):
        return (torch.arange(self.n_states).unsqueeze(1) >> torch.arange(N_ITEMS)) & 1


class NaNBeforeCompletion(SubsetEnv):
    """A user's reward without a floor: ``log(score − 1)`` is NaN on small sets, which *stop* can
    end at, but finite on every set of ``max_size`` items (where the never-stopping probe walks end)."""

    def log_reward(self, states):
        return torch.log(self.score(states) - 1.1)


class AllTrueParents(SubsetEnv):
    """The parents mask is all True: "removing" an absent item lists the set itself as its parent."""

    def parents(self, states):
        par = super().parents(states)
        return Parents(par.states, par.actions, torch.ones_like(par.mask))


class ParentsWithWrongAction(SubsetEnv):
    """The right parents, each paired with the wrong forward action (the next item)."""

    def parents(self, states):
        par = super().parents(states)
        return Parents(par.states, (par.actions + 1) % N_ITEMS, par.mask)


def state_in(message: str, label: str) -> list[int]:
    """The state printed after ``label`` in a refusal, e.g. ``state_in(m, "child state ")``."""
    return [int(v) for v in message.split(label + "[")[1].split("]")[0].split(",")]


def refusal(env) -> str:
    with pytest.raises(ProtocolError) as caught:
        check_environment(env)
    return str(caught.value)


def test_the_broken_reward_is_finite_where_the_old_check_looked():
    """The fault is invisible on forced-terminal states (all the walks used to check) but makes
    the loss NaN: the sets it is NaN on are sampled as objects."""
    env = NaNBeforeCompletion()
    full = EnumerableSubsetEnv().all_states()
    forced = full[full.sum(dim=1) == env.max_size]
    assert bool(torch.isfinite(env.log_reward(forced)).all())
    small = torch.zeros(1, N_ITEMS, dtype=torch.long)
    small[0, 0] = 1
    assert bool(env.forward_mask(small)[0, env.stop_action]) and math.isnan(float(env.log_reward(small)))


def test_nan_log_reward_on_intermediate_states_is_refused_naming_the_state():
    message = refusal(NaNBeforeCompletion())
    print(message)
    assert "log_reward returned nan" in message and "NaN or +inf" in message
    assert "at state [0, 0, 0, 0, 0, 0, 0, 0]" in message  # the initial state: score 0.1 - 1.1 < 0
    assert "probe walk reached after 0 moves" in message


def test_plus_inf_log_reward_is_refused_and_minus_inf_allowed():
    class PlusInf(SubsetEnv):
        def log_reward(self, states):
            return torch.where(states.sum(dim=1) == 2, float("inf"), super().log_reward(states))

    class ZeroReward(SubsetEnv):  # R = 0 on sets holding item 0: log R = -inf is allowed
        def log_reward(self, states):
            return torch.where(states[:, 0] == 1, float("-inf"), super().log_reward(states))

    message = refusal(PlusInf())
    assert "log_reward returned inf" in message and "after 2 moves" in message
    check_environment(ZeroReward())


def test_parents_that_are_not_parents_are_refused_naming_child_parent_and_action():
    message = refusal(AllTrueParents())
    print(message)
    assert "parents(child) lists a parent that does not lead to the child" in message
    # the first walk's first move adds one item; "removing" any absent item lists the child itself
    assert sum(state_in(message, "child state ")) == 1
    assert "listed parent [" in message and "action " in message
    assert "step_unchecked(parent, action) gives" in message or "forward_mask(parent) forbids that action" in message


def test_parents_missing_the_true_pair_are_refused_naming_the_step():
    message = refusal(ParentsWithWrongAction())
    assert "parents(child) must list the parent and forward action a step came from" in message
    child, parent = state_in(message, "child state "), state_in(message, "came from parent ")
    action = int(message.split("by action ")[1].split(",")[0])
    assert sum(parent) == 0 and child[action] == 1 and sum(child) == 1  # the first move from the empty set


def test_parent_pointing_with_stop_is_refused():
    class StopParents(SubsetEnv):
        def parents(self, states):
            par = super().parents(states)
            return Parents(par.states, torch.full_like(par.actions, self.stop_action), par.mask)

    # the walk's own check fires first (the parent it came from is listed with the wrong action)
    assert "must list the parent and forward action" in refusal(StopParents())

    class ExtraStopParent(SubsetEnv):  # the true parents, plus the child itself "by stop"
        def parents(self, states):
            par = super().parents(states)
            return Parents(torch.cat([par.states, states.unsqueeze(1)], dim=1),
                           torch.cat([par.actions, torch.full((states.shape[0], 1), self.stop_action)], dim=1),
                           torch.cat([par.mask, torch.ones(states.shape[0], 1, dtype=torch.bool)], dim=1))

    message = refusal(ExtraStopParent())
    assert "(column 8), action 8: the action is not a move" in message


def test_a_correct_multi_parent_environment_passes_and_trains():
    env = SubsetEnv()
    check_environment(env)
    check_environment(env, n_probe=32)
    assert not is_enumerable(env)
    assert int(env.parents(torch.tensor([[1, 1, 1, 0, 0, 0, 0, 0]])).mask.sum()) == 3  # several parents
    for objective in ("tb", "db", "subtb", "fm"):
        history = GFlowNetTrainer(TrainConfig(objective=objective, augment="joint", n_steps=4, log_every=2, hidden=16), env=env).train(progress=False)
        assert math.isfinite(history.final["loss"])


def test_the_enumerable_variant_is_checked_on_every_state_and_is_exact():
    env = EnumerableSubsetEnv()
    assert env.n_states <= FULL_CHECK_MAX_STATES
    check_environment(env)
    flows = exact_flows(env)
    p = exact_terminal_distribution(env, flows.log_pf.exp().nan_to_num(0.0).float())
    assert torch.allclose(p, target_distribution(env), atol=1e-6)

    class NaNOnOneSet(EnumerableSubsetEnv):
        """NaN on one set of 4 items only: the probe walks almost never meet it, the full check does."""

        def log_reward(self, states):
            bad = (states == torch.tensor([0, 1, 0, 1, 0, 1, 0, 1])).all(dim=1)
            return torch.where(bad, float("nan"), super().log_reward(states))

    message = refusal(NaNOnOneSet())
    assert "at state [0, 1, 0, 1, 0, 1, 0, 1]" in message and "every state" in message


class GridWithNaNAtLevelTwo(Hypergrid):
    """The library's hypergrid with a log-reward that is NaN on every cell two moves from the origin."""

    def log_reward(self, states):
        return torch.where(states.sum(dim=1) == 2, float("nan"), super().log_reward(states))


class GridWithAllTrueParents(Hypergrid):
    """The library's hypergrid with the parents mask all True (so s − e_d is listed even where s_d = 0)."""

    def parents(self, states):
        par = super().parents(states)
        return Parents(par.states, par.actions, torch.ones_like(par.mask))


@pytest.mark.parametrize("ndim,height", [(2, 8), (3, 20)])  # 64 states (full check) and 8000 (probe walks only)
def test_hypergrid_with_a_broken_log_reward_is_refused(ndim, height):
    env = GridWithNaNAtLevelTwo(HypergridConfig(ndim=ndim, height=height))
    assert (env.n_states <= FULL_CHECK_MAX_STATES) == (ndim == 2)
    message = refusal(env)
    state = state_in(message, "at state ")
    assert sum(state) == 2 and len(state) == ndim


@pytest.mark.parametrize("termination", ["edge", "exit"])
@pytest.mark.parametrize("ndim,height", [(2, 8), (3, 20)])
def test_hypergrid_with_all_true_parents_is_refused(ndim, height, termination):
    message = refusal(GridWithAllTrueParents(HypergridConfig(ndim=ndim, height=height, termination=termination)))
    assert "parents(child) lists a parent that does not lead to the child: child state [" in message
    child, parent = state_in(message, "child state "), state_in(message, "listed parent ")
    action = int(message.split("action ")[1].split(":")[0])
    assert len(child) == ndim and child[action] == 0 and parent == child  # s - e_d clamped to s itself


def test_the_library_environments_still_pass():
    for config in (HypergridConfig(ndim=2, height=64), HypergridConfig(ndim=2, height=8, termination="exit"),
                   HypergridConfig(ndim=4, height=8)):
        check_environment(Hypergrid(config))


def test_an_initial_state_with_no_action_is_refused():
    class Stuck(SubsetEnv):
        def forward_mask(self, states):
            return torch.zeros(states.shape[0], self.n_actions, dtype=torch.bool)

    assert "allows no action at the initial state [0, 0, 0, 0, 0, 0, 0, 0]" in refusal(Stuck())


@pytest.mark.parametrize("objective", ["tb", "db", "subtb", "fm"])
def test_stop_at_the_initial_state_is_an_ordinary_object(objective):
    """The protocol's rule (gafn_lib/core/env.py): where stop is allowed at s_0, s_0 is an object
    of the target, and a zero-move trajectory has zero loss at the exact (augmented) flows."""
    from test_core_generic import exact_trainer, random_table

    from gafn_lib.envs import BitSequences, BitSequencesConfig

    env = BitSequences(BitSequencesConfig(length=3, targets=("101", "0"), min_length=0))
    s0 = env.reset(1)
    assert bool(env.forward_mask(s0)[0, env.stop_action])
    assert float(target_distribution(env)[env.index(s0)]) > 0
    trainer = exact_trainer(env, objective, "joint", random_table(env))
    torch.manual_seed(0)
    traj = trainer.sample()
    assert bool((traj.lengths == 0).any())
    loss, _ = trainer.loss(traj)
    assert float(loss.detach()) < 1e-8
