"""The core on any environment: protocol checks, generic exact evaluation, exact augmented flows
(every objective has zero loss there and not at perturbed flows), the sampler's distribution, and
the extension points (custom rewards, intrinsic rewards, environments)."""

import math
from dataclasses import dataclass

import pytest
import torch

from gafn_lib.core.config import EnvTrainConfig, TrainConfig
from gafn_lib.core.env import check_environment
from gafn_lib.core.exact import exact_flows, exact_terminal_distribution, exact_terminal_distribution_generic, state_graph, target_distribution
from gafn_lib.core.intrinsic import INTRINSIC, IntrinsicReward, register_intrinsic
from gafn_lib.core.policies import TabularPolicy
from gafn_lib.core.ensemble.sampling import draw_uniforms, sample_ensemble
from gafn_lib.core.sampling import action_probabilities
from gafn_lib.core.trainer import GFlowNetTrainer
from gafn_lib.envs import BitSequences, BitSequencesConfig, Hypergrid, HypergridConfig
from gafn_lib.grid.config import GridTrainConfig
from gafn_lib.runner.store import run_id

TREE = BitSequencesConfig(length=4, targets=("0011", "110", "1010"), beta=1.5, r0=0.01)


def envs():
    return {
        "grid-edge": Hypergrid(HypergridConfig(ndim=2, height=5, reward="dense", termination="edge")),
        "grid-exit": Hypergrid(HypergridConfig(ndim=2, height=4, reward="dense", termination="exit")),
        "bitseq": BitSequences(TREE),
    }


class FixedIntrinsic(IntrinsicReward):
    """r(s) from a fixed table (no learning): the exact augmented flows are known for it."""

    def __init__(self, table):
        super().__init__()
        self.register_buffer("table", table.float())

    def reward(self, features, index=None):
        return self.table[index]

    def update(self, features, index=None):
        return torch.zeros(())


def random_table(env, seed=3, scale=0.3):
    return scale * torch.rand(env.n_states, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def exact_trainer(env, objective, mode, table, perturb=0.0):
    intrinsic = "none" if mode == "none" else "rnd"
    trainer = GFlowNetTrainer(TrainConfig(objective=objective, augment=mode, intrinsic=intrinsic, batch_size=64, hidden=8), env=env)
    flows = exact_flows(env, intrinsic=None if mode == "none" else table, mode=mode, leak="state" if objective == "fm" else "edge")
    logits_pf = (flows.log_edge_flow if objective == "fm" else flows.log_pf).nan_to_num(neginf=-1e9).clone()
    if perturb:
        logits_pf = logits_pf + perturb * torch.randn(logits_pf.shape, generator=torch.Generator().manual_seed(1), dtype=logits_pf.dtype)
    trainer.policy = TabularPolicy(env, logits_pf, flows.log_pb.nan_to_num(neginf=-1e9), flows.log_flow.nan_to_num(neginf=0.0))
    trainer.intrinsic = FixedIntrinsic(table)
    with torch.no_grad():
        trainer.log_z.fill_(flows.log_z)
    return trainer


CASES = [(name, objective, mode) for name in ("grid-edge", "grid-exit", "bitseq")
         for objective in ("tb", "db", "subtb", "fm") for mode in ("none", "edge", "joint", "node")
         if not (mode == "node" and name != "bitseq")]


@pytest.mark.parametrize("name,objective,mode", CASES)
def test_exact_augmented_flows_have_zero_loss_and_perturbed_do_not(name, objective, mode):
    env = envs()[name]
    table = random_table(env)
    torch.manual_seed(0)
    trainer = exact_trainer(env, objective, mode, table)
    loss, _ = trainer.loss(trainer.sample())
    assert float(loss.detach()) < 1e-8, f"{name} {objective} {mode}: loss at the exact flows {float(loss)}"
    perturbed = exact_trainer(env, objective, mode, table, perturb=0.5)
    loss, _ = perturbed.loss(perturbed.sample())
    assert float(loss.detach()) > 1e-3


def test_flows_of_the_wrong_augmentation_do_not_give_zero_loss():
    env = envs()["grid-edge"]
    table = random_table(env)
    trainer = exact_trainer(env, "tb", "edge", table)
    trainer.config = TrainConfig(objective="tb", augment="joint", batch_size=64, hidden=8)  # joint loss, edge flows
    loss, _ = trainer.loss(trainer.sample())
    assert float(loss.detach()) > 1e-4


def test_node_flows_are_refused_on_a_dag():
    env = envs()["grid-edge"]
    with pytest.raises(ValueError, match="trees"):
        exact_flows(env, intrinsic=random_table(env), mode="node")


@pytest.mark.parametrize("termination", ["edge", "exit"])
@pytest.mark.parametrize("ndim,height", [(2, 6), (3, 4), (1, 7)])
def test_generic_exact_distribution_equals_the_hypergrid_fast_path(ndim, height, termination):
    env = Hypergrid(HypergridConfig(ndim=ndim, height=height, termination=termination))
    states = env.all_states()
    logits = torch.randn(env.n_states, env.n_actions, generator=torch.Generator().manual_seed(ndim * height))
    probs = action_probabilities(logits, env.forward_mask(states), 0.0, 1.0)
    fast = exact_terminal_distribution(env, probs)
    generic = exact_terminal_distribution_generic(env, probs)
    assert torch.allclose(fast, generic, atol=1e-12, rtol=0)
    assert abs(float(generic.sum()) - 1) < 1e-6  # float32 action probabilities


def test_exact_distribution_of_the_exact_policy_is_the_target_on_bit_strings():
    env = BitSequences(TREE)
    flows = exact_flows(env)
    p = exact_terminal_distribution(env, flows.log_pf.exp().nan_to_num(0.0).float())
    assert torch.allclose(p, target_distribution(env), atol=1e-6)
    graph = state_graph(env)
    assert int(graph.terminable.sum()) == 2**5 - 2  # every non-empty string can end


@pytest.mark.parametrize("name", ["grid-edge", "bitseq"])
@pytest.mark.parametrize("epsilon", [0.0, 0.3])
def test_sampler_matches_the_exact_distribution_of_a_fixed_random_policy(name, epsilon):
    env = envs()[name]
    logits = torch.randn(env.n_states, env.n_actions, generator=torch.Generator().manual_seed(7))
    table = TabularPolicy(env, logits, torch.zeros(env.n_states, env.n_backward_actions), torch.zeros(env.n_states))
    probs = action_probabilities(logits, env.forward_mask(env.all_states()), epsilon, 1.0)
    p_exact = exact_terminal_distribution(env, probs)
    n = 40_000
    # the engine's sampler with one member: its uniforms, then the table's logits per move
    uniforms = draw_uniforms([torch.Generator().manual_seed(0)], n, env.max_moves + 1, torch.device("cpu"))
    logits_of = lambda states: table.forward_logits(env.encode(states.reshape(-1, *states.shape[2:]))).unsqueeze(0)  # noqa: E731
    traj = sample_ensemble(env, logits_of, 1, n, uniforms, epsilon=epsilon)
    # padding repeats the terminal state; real moves are masked; forced termination is flagged
    lengths = traj.mask.sum(dim=1)
    assert torch.equal(traj.states[:, -1], traj.states[torch.arange(n), lengths])
    assert bool((traj.actions[~traj.mask] == -1).all())
    forced = ~env.forward_mask(traj.terminal).any(dim=1)
    assert torch.equal(traj.forced, forced)
    counts = torch.bincount(env.index(traj.terminal), minlength=env.n_states).double()
    p_emp = counts / n
    # every state's frequency within 5 standard errors of its exact probability
    se = (p_exact * (1 - p_exact) / n).sqrt().clamp_min(1e-4)
    assert bool(((p_emp - p_exact).abs() <= 5 * se).all())


def test_bit_strings_follow_the_protocol_and_train_with_every_objective():
    env = BitSequences(TREE)
    check_environment(env)
    for objective in ("tb", "db", "fm"):
        for augment in ("none", "joint"):
            history = GFlowNetTrainer(TrainConfig(objective=objective, augment=augment, n_steps=20, log_every=10, hidden=32), env=env).train(progress=False)
            final = history.final
            assert final["n_modes"] == 3 and math.isfinite(final["l1_mean_exact"]) and math.isfinite(final["loss"])
            assert history.config["env"].startswith("BitSequences(")


def test_env_train_config_names_the_environment_for_the_runner():
    config = EnvTrainConfig(env=TREE, n_steps=10, log_every=5, hidden=16)
    assert GFlowNetTrainer(config).env.name == "bitseq"
    by_name = EnvTrainConfig(env="bitseq", env_kwargs={"length": 3, "targets": ("101",)}, n_steps=5, hidden=8)
    assert GFlowNetTrainer(by_name).env.length == 3
    assert run_id(config) != run_id(EnvTrainConfig(env=BitSequencesConfig(length=4, targets=("0011",)), n_steps=10, log_every=5, hidden=16))
    with pytest.raises(ValueError, match="env must be"):
        EnvTrainConfig(env=object())
    with pytest.raises(ValueError, match="TrainConfig holds only the algorithm"):
        GFlowNetTrainer(TrainConfig())


@dataclass(frozen=True)
class Bumps:
    """A named custom hypergrid reward (a frozen dataclass: its fields identify the run)."""

    centers: tuple = ((2, 2), (5, 1))
    width: float = 1.0

    def __call__(self, states):
        c = torch.tensor(self.centers, dtype=torch.float32)
        d2 = ((states.float().unsqueeze(1) - c.unsqueeze(0)) ** 2).sum(-1)
        return 1e-3 + torch.exp(-d2 / (2 * self.width**2)).sum(1)


def test_custom_reward_object_is_used_by_metrics_and_named_in_the_run_id():
    config = GridTrainConfig(height=8, reward=Bumps(), n_steps=10, log_every=5, hidden=16)
    trainer = GFlowNetTrainer(config)
    assert trainer.tracker.n_modes == 2  # the custom reward's maxima, not the sparse reward's 3 goals
    assert abs(trainer.tracker.log_z_true - math.log(float((Bumps()(trainer.env.all_states()).double() * trainer.env.terminal_mask()).sum()))) < 1e-5
    assert run_id(config) != run_id(GridTrainConfig(height=8, n_steps=10, log_every=5, hidden=16))
    assert run_id(config) != run_id(GridTrainConfig(height=8, reward=Bumps(width=2.0), n_steps=10, log_every=5, hidden=16))
    assert "Bumps" in trainer.history.config["env"]


class Unnamed:
    def __call__(self, states):
        return torch.ones(states.shape[0])


def test_unnamed_or_broken_custom_rewards_are_refused_before_compute():
    with pytest.raises(ValueError, match="needs a name"):
        GridTrainConfig(height=8, reward=Unnamed())

    @dataclass(frozen=True)
    class Negative:
        def __call__(self, states):
            return -torch.ones(states.shape[0])

    @dataclass(frozen=True)
    class WrongShape:
        def __call__(self, states):
            return torch.ones(states.shape[0], 2)

    with pytest.raises(ValueError, match="negative rewards"):
        GridTrainConfig(height=8, reward=Negative())
    with pytest.raises(ValueError, match=r"shape \(B,\)"):
        GridTrainConfig(height=8, reward=WrongShape())


class SquareRootCounts(IntrinsicReward):
    def __init__(self, n_states, eta):
        super().__init__()
        self.eta = eta
        self.register_buffer("counts", torch.zeros(n_states))

    def reward(self, features, index=None):
        return self.eta / (1 + self.counts[index]).sqrt()

    def update(self, features, index=None):
        self.counts.index_add_(0, index, torch.ones(index.shape[0]))
        return torch.zeros(())


def test_registered_intrinsic_reward_is_built_by_name_and_recorded():
    register_intrinsic("sqrt_counts_test", lambda env, eta: SquareRootCounts(env.n_states, eta), overwrite=True)
    config = GridTrainConfig(height=8, intrinsic="sqrt_counts_test", eta=0.02, n_steps=10, log_every=5, hidden=16)
    trainer = GFlowNetTrainer(config)
    assert isinstance(trainer.intrinsic, SquareRootCounts)
    history = trainer.train(progress=False)
    assert history.config["intrinsic"] == "sqrt_counts_test"
    assert run_id(config) != run_id(GridTrainConfig(height=8, intrinsic="count", eta=0.02, n_steps=10, log_every=5, hidden=16))
    with pytest.raises(ValueError, match="intrinsic must be one of"):
        GridTrainConfig(intrinsic="simhash_not_registered")
    with pytest.raises(ValueError, match="built-in"):
        register_intrinsic("rnd", lambda env, eta: None)
    assert "sqrt_counts_test" in INTRINSIC


class Broken:
    """An environment that breaks the protocol in one place at a time."""

    def __init__(self, fault):
        self.inner = BitSequences(BitSequencesConfig(length=3, targets=("101",)))
        self.fault = fault

    def __getattr__(self, name):
        if name == self.fault and name in ("obs_dim", "n_backward_actions"):
            return {"obs_dim": 5, "n_backward_actions": 2}[name]
        if name == self.fault == "backward_action":
            return lambda s, a: torch.ones_like(a)
        if name == self.fault == "log_reward":
            return lambda s: torch.full((s.shape[0],), float("nan"))
        if name == self.fault == "parents":
            return lambda s: self.inner.parents(self.inner.reset(s.shape[0]))
        if name == self.fault:
            raise AttributeError(name)
        return getattr(self.inner, name)


@pytest.mark.parametrize("fault,message", [
    ("encode", "missing encode"),
    ("obs_dim", "encode must return"),
    ("n_backward_actions", "backward_mask must be bool of shape"),
    ("backward_action", "backward_action points"),
    ("parents", "parents\\(child\\) must list"),
    ("log_reward", "NaN"),
])
def test_an_environment_that_breaks_the_protocol_is_refused_before_training(fault, message):
    with pytest.raises(ValueError, match=message):
        GFlowNetTrainer(TrainConfig(n_steps=1), env=Broken(fault))


@pytest.mark.parametrize("kwargs,message", [
    (dict(lr=float("nan")), "lr must be a finite number"),
    (dict(lr=float("inf")), "lr must be a finite number"),
    (dict(eta=float("nan"), intrinsic="rnd"), "eta must be"),
    (dict(epsilon=float("nan")), "epsilon must be in"),
    (dict(ndim=30, height=64), "too many to index"),
    (dict(seed=1.5), "seed must be an integer"),
])
def test_bad_grid_configs_name_the_parameter(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GridTrainConfig(**kwargs)


def test_the_run_store_refuses_unnamed_objects_in_a_config():
    from gafn_lib.runner.store import config_fields

    config = EnvTrainConfig(env="bitseq", env_kwargs={"length": 3, "targets": ("101",), "helper": object()})
    with pytest.raises(TypeError, match="unnamed object"):
        run_id(config)
    named = config_fields(GridTrainConfig(height=8, reward=Bumps()))
    assert named["reward"]["class"].endswith("Bumps") and named["reward"]["width"] == 1.0
