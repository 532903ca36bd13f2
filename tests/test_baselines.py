"""Baselines on the hypergrid: the MH kernel (exact checks on small grids), PPO, seeding,
checkpoint round trips, validation and the command line."""

import io
import json
import math

import pytest
import torch

from gafn_lib.baselines import baseline_config_from_args
from gafn_lib.baselines.mcmc import (
    MCMCConfig,
    MCMCTrainer,
    floored_reward_table,
    mcmc_transition_matrix,
    metropolis_hastings_step,
)
from gafn_lib.baselines.ppo import PPOConfig, PPOTrainer, gae_advantages
from gafn_lib.envs import Hypergrid, HypergridConfig

# small PPO runs: the paper's algorithm, smaller networks so the tests stay fast
SMALL_PPO = dict(height=5, hidden=32, log_every=3)

KERNEL_CASES = [
    ("sparse", "edge", 1e-3),
    ("sparse", "exit", 1e-3),
    ("dense", "edge", 0.0),
    ("dense", "exit", 0.05),
]


def grid(reward="sparse", termination="edge", height=5):
    return Hypergrid(HypergridConfig(ndim=2, height=height, reward=reward, termination=termination))


def without_wall_clock(rows):
    return [{k: v for k, v in r.items() if k != "wall_seconds"} for r in rows]


def same_rows(a, b):
    assert len(a) == len(b)
    for ra, rb in zip(without_wall_clock(a), without_wall_clock(b)):
        assert ra.keys() == rb.keys()
        for k in ra:
            va, vb = ra[k], rb[k]
            assert va == vb or (isinstance(va, float) and math.isnan(va) and math.isnan(vb)), (k, va, vb)


# ---------------------------------------------------------------------- MCMC kernel
@pytest.mark.parametrize("reward,termination,floor", KERNEL_CASES)
def test_mcmc_kernel_is_stochastic_reversible_and_irreducible(reward, termination, floor):
    env = grid(reward, termination)
    kernel = mcmc_transition_matrix(env, floor)
    reachable = env.terminal_mask()
    n = env.n_states
    assert kernel.shape == (n, n)
    assert (kernel >= 0).all()
    assert torch.allclose(kernel.sum(dim=1), torch.ones(n, dtype=torch.float64), atol=1e-14)

    # unreachable cells: never entered, and their (unused) rows are the identity
    assert (kernel[reachable][:, ~reachable] == 0).all()
    unreachable = (~reachable).nonzero().squeeze(1)
    assert torch.equal(kernel[unreachable][:, unreachable], torch.eye(unreachable.numel(), dtype=torch.float64))
    if termination == "edge":
        assert unreachable.tolist() == [env.index(torch.tensor([[4, 4]])).item()]

    # detailed balance with respect to R̃ = R + floor, exactly: π_i K_ij = π_j K_ji
    pi = floored_reward_table(env, floor)
    flow = pi.unsqueeze(1) * kernel
    assert torch.allclose(flow, flow.T, rtol=0, atol=1e-15)
    assert torch.allclose(pi @ kernel, pi, atol=1e-14)  # hence π K = π

    # irreducible on the reachable cells: (I + A)^(2^k) > 0 everywhere once 2^k ≥ #cells
    adjacency = (kernel[reachable][:, reachable] > 0).double()
    reach = torch.eye(adjacency.shape[0], dtype=torch.float64) + adjacency
    for _ in range(math.ceil(math.log2(adjacency.shape[0]))):
        reach = ((reach @ reach) > 0).double()
    assert (reach > 0).all()


def test_mcmc_kernel_by_hand_next_to_the_unreachable_corner():
    # edge rule, H=5, x = (3, 4): R̃(x) = floor; (3, 3) is a goal; (4, 4) is unreachable; (3, 5) is outside
    env = grid("sparse", "edge")
    kernel = mcmc_transition_matrix(env, 1e-3)
    i = lambda *s: env.index(torch.tensor([s])).item()  # noqa: E731
    row = kernel[i(3, 4)]
    assert row[i(3, 3)] == pytest.approx(0.25)
    assert row[i(2, 4)] == pytest.approx(0.25)
    assert row[i(4, 4)] == 0
    assert row[i(3, 4)] == pytest.approx(0.5)
    # leaving a goal towards a zero-reward cell: q · floor / (1 + floor)
    assert kernel[i(3, 3), i(2, 3)] == pytest.approx(0.25 * 1e-3 / (1 + 1e-3))


@pytest.mark.parametrize("reward,termination,floor", [KERNEL_CASES[0], KERNEL_CASES[3]])
def test_vectorised_mh_step_matches_the_kernel(reward, termination, floor):
    env = grid(reward, termination)
    kernel = mcmc_transition_matrix(env, floor)
    table = floored_reward_table(env, floor)
    reachable = env.terminal_mask()
    starts = env.all_states()[reachable]  # every reachable state, 20 000 chains each
    per_row = 20_000
    torch.manual_seed(0)
    states = starts.repeat_interleave(per_row, dim=0)
    nxt, accepted = metropolis_hastings_step(env, states, table)
    assert env.is_reachable(nxt).all()
    assert torch.equal(accepted, (nxt != states).any(dim=1))
    src, dst = env.index(states), env.index(nxt)
    counts = torch.zeros(env.n_states, env.n_states, dtype=torch.float64)
    counts.index_put_((src, dst), torch.ones_like(src, dtype=torch.float64), accumulate=True)
    empirical = counts[reachable] / per_row
    # binomial s.d. ≤ 0.0036 per entry; 0.02 is > 5 s.d.
    assert (empirical - kernel[reachable]).abs().max() < 0.02
    # structural zeros are exact
    assert (empirical[kernel[reachable] == 0] == 0).all()


def test_mcmc_trainer_budget_and_unreachable_cells_never_visited():
    trainer = MCMCTrainer(MCMCConfig(height=5, n_steps=200, log_every=50, seed=3))
    assert (trainer.chains == 0).all()  # chains start at the origin
    history = trainer.train(progress=False)
    final = history.final
    assert final["trajectories"] == 200 * 16
    assert 0 < final["acceptance_rate"] <= 1
    assert math.isnan(final["l1_mean_exact"]) and math.isnan(final["modes_covered"])
    counts = trainer.tracker.histogram.counts
    assert counts[~trainer.env.terminal_mask()].sum() == 0
    assert final["modes_found"] == 3
    # the logged stationary bias is the L1 between π ∝ R + floor and p ∝ R
    pi = trainer.stationary_distribution()
    assert final["l1_sum_stationary"] == pytest.approx(float((pi - trainer.tracker.p_true).abs().sum()))


def test_mcmc_default_floor_depends_on_the_reward():
    assert MCMCConfig(reward="sparse").reward_floor == 1e-3
    assert MCMCConfig(reward="dense").reward_floor == 0.0
    assert MCMCConfig(reward="dense", r0=0.0).reward_floor == 1e-3
    # H = 8: max R = r1 + r2 = 2.5 when r0 = 0
    assert MCMCTrainer(MCMCConfig(height=8, reward="dense", r0=0.0)).floor == pytest.approx(1e-3 * 2.5)


# ---------------------------------------------------------------------- PPO
def test_gae_matches_a_reference_loop():
    torch.manual_seed(0)
    batch, horizon = 5, 7
    rewards, values = torch.randn(batch, horizon), torch.randn(batch, horizon)
    last = torch.tensor([0, 3, 6, 2, 5])
    for lam in (0.0, 0.95, 1.0):
        fast = gae_advantages(rewards, values, last, lam)
        slow = torch.zeros(batch, horizon)
        for b in range(batch):
            running = 0.0
            for t in range(int(last[b]), -1, -1):
                next_value = values[b, t + 1] if t < last[b] else 0.0
                running = rewards[b, t] + next_value - values[b, t] + lam * running
                slow[b, t] = running
        assert torch.allclose(fast, slow, atol=1e-5), lam
    # λ = 1: Monte-Carlo advantage G_t − V_t with γ = 1
    mc = gae_advantages(rewards, values, last, 1.0)
    assert torch.allclose(mc[1, :4], rewards[1, :4].flip(0).cumsum(0).flip(0) - values[1, :4], atol=1e-5)


def test_ppo_rollout_decisions_and_rewards():
    trainer = PPOTrainer(PPOConfig(**SMALL_PPO, seed=1))
    rollout = trainer.collect()
    # every decision is a valid action in its state
    assert rollout.action_mask.gather(1, rollout.actions.unsqueeze(1)).all()
    # one decision per move, plus the stop unless the last move was forced terminal
    env = trainer.env
    n_stops = int((rollout.actions == env.stop_action).sum())
    assert n_stops == int((~env.is_forced_terminal(rollout.terminal)).sum())
    assert rollout.info["mean_reward"] == pytest.approx(float(env.reward(rollout.terminal).mean()))
    assert torch.isfinite(rollout.advantages).all() and torch.isfinite(rollout.log_prob_old).all()


def test_ppo_raises_the_reward_of_its_samples_on_the_dense_grid():
    trainer = PPOTrainer(PPOConfig(height=8, reward="dense", n_steps=30, log_every=10, seed=0))
    before = trainer.evaluate()
    history = trainer.train(progress=False)
    after = history.final
    first_sample_reward = history.rows[0]["mean_reward"]
    # exact expected reward of the policy: ≈ 0.57 at initialisation, > 2 after 30 steps (max 2.6)
    assert before["expected_reward_exact"] < 1.0
    assert after["expected_reward_exact"] > 2.0
    assert sum(history.column("mean_reward")[-2:]) / 2 > 2 * before["expected_reward_exact"]
    assert first_sample_reward > before["expected_reward_exact"]
    assert not math.isnan(after["l1_mean_exact"])


def test_ppo_rnd_gives_a_positive_decaying_bonus():
    trainer = PPOTrainer(PPOConfig(**SMALL_PPO, intrinsic="rnd", eta=0.1, n_steps=12, seed=0))
    history = trainer.train(progress=False)
    bonus = history.column("mean_intrinsic")
    assert all(b > 0 for b in bonus)
    assert history.column("rnd_loss")[-1] < history.column("rnd_loss")[0]
    assert PPOConfig(height=32, intrinsic="rnd").eta == 0.001  # the paper's η by height


# ---------------------------------------------------------------------- seeding and checkpoints
TRAINERS = [
    pytest.param(MCMCTrainer, dict(height=5, log_every=3), id="mcmc"),
    pytest.param(PPOTrainer, dict(SMALL_PPO), id="ppo"),
    pytest.param(PPOTrainer, dict(SMALL_PPO, intrinsic="rnd"), id="ppo_rnd"),
]


def make(trainer_cls, kwargs, **extra):
    config_cls = MCMCConfig if trainer_cls is MCMCTrainer else PPOConfig
    return trainer_cls(config_cls(**kwargs, **extra))


@pytest.mark.parametrize("trainer_cls,kwargs", TRAINERS)
def test_same_seed_same_metrics(trainer_cls, kwargs):
    a = make(trainer_cls, kwargs, n_steps=6, seed=7).train(progress=False)
    b = make(trainer_cls, kwargs, n_steps=6, seed=7).train(progress=False)
    c = make(trainer_cls, kwargs, n_steps=6, seed=8).train(progress=False)
    same_rows(a.rows, b.rows)
    assert without_wall_clock(a.rows) != without_wall_clock(c.rows)


@pytest.mark.parametrize("trainer_cls,kwargs", TRAINERS)
def test_checkpoint_round_trip_resumes_identically(trainer_cls, kwargs):
    uninterrupted = make(trainer_cls, kwargs, n_steps=12, seed=5)
    uninterrupted.train(progress=False)

    first = make(trainer_cls, kwargs, n_steps=12, seed=5)
    first.train(n_steps=6, progress=False)
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    torch.manual_seed(1234)  # the fresh trainer must not depend on the ambient RNG
    resumed = make(trainer_cls, kwargs, n_steps=12, seed=99)
    resumed.load_state_dict(state)
    assert resumed.step_count == 6
    resumed.train(progress=False)

    same_rows(uninterrupted.history.rows, resumed.history.rows)
    if trainer_cls is MCMCTrainer:
        assert torch.equal(uninterrupted.chains, resumed.chains)
    else:
        for p, q in zip(uninterrupted.policy.parameters(), resumed.policy.parameters()):
            assert torch.equal(p, q)


# ---------------------------------------------------------------------- validation and CLI
@pytest.mark.parametrize(
    "factory,field",
    [
        (lambda: MCMCConfig(n_chains=0), "n_chains"),
        (lambda: MCMCConfig(reward_floor=-1e-3), "reward_floor"),
        (lambda: MCMCTrainer(MCMCConfig(height=5, reward_floor=0.0)), "reward_floor"),
        (lambda: MCMCConfig(termination="wall"), "termination"),
        (lambda: PPOConfig(clip=0.0), "clip"),
        (lambda: PPOConfig(clip=-0.2), "clip"),
        (lambda: PPOConfig(epochs=0), "epochs"),
        (lambda: PPOConfig(n_minibatches=0), "n_minibatches"),
        (lambda: PPOConfig(intrinsic="count"), "intrinsic"),
        (lambda: PPOConfig(intrinsic="bogus"), "intrinsic"),
        (lambda: PPOConfig(eta=0.01), "eta"),
        (lambda: PPOConfig(intrinsic="rnd", eta=-1.0), "eta"),
        (lambda: PPOConfig(gae_lambda=1.5), "gae_lambda"),
        (lambda: PPOConfig(entropy_coef=-0.1), "entropy_coef"),
        (lambda: PPOConfig(lr=0), "lr"),
    ],
)
def test_bad_parameters_fail_clearly(factory, field):
    with pytest.raises(ValueError, match=field):
        factory()


def test_cli_configs_and_json_runs(capsys):
    from gafn_lib.cli import build_parser, grid_config_from_args, main
    from gafn_lib.registry import make_trainer

    parse = lambda *a: build_parser().parse_args(["grid", *a])  # noqa: E731
    mcmc = grid_config_from_args(parse("--algo", "mcmc", "--batch-size", "8"))
    assert isinstance(mcmc, MCMCConfig) and mcmc.n_chains == 8
    assert isinstance(make_trainer(mcmc), MCMCTrainer)
    ppo_rnd = grid_config_from_args(parse("--algo", "ppo_rnd", "--height", "16"))
    assert ppo_rnd.intrinsic == "rnd" and ppo_rnd.eta == 0.005
    assert grid_config_from_args(parse("--algo", "ppo")).intrinsic == "none"
    with pytest.raises(ValueError, match="ppo_rnd"):
        grid_config_from_args(parse("--algo", "ppo", "--intrinsic", "rnd"))
    with pytest.raises(ValueError, match="epsilon"):
        grid_config_from_args(parse("--algo", "mcmc", "--epsilon", "0.1"))
    with pytest.raises(ValueError, match="algo"):
        baseline_config_from_args(parse("--algo", "gfn"), {})

    for algo, steps in (("mcmc", 20), ("ppo", 2), ("ppo_rnd", 2)):
        capsys.readouterr()
        assert main(["grid", "--algo", algo, "--height", "5", "--steps", str(steps), "--json", "--no-progress"]) == 0
        result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert result["algo"] == algo and result["steps"] == steps
        assert result["trajectories"] == 16 * steps and result["n_modes"] == 3
        assert (result["l1_mean_exact"] is None) == (algo == "mcmc")
