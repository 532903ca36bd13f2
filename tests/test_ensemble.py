"""Ensemble training: K runs in lockstep as one batched model, each member equal to its solo run."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
import torch

from gafn_lib.core.ensemble import EnsembleTrainer, compatibility_key
from gafn_lib.core.ensemble.features import Featurizer
from gafn_lib.core.ensemble.sampling import inverse_cdf
from gafn_lib.core.ensemble.stacked import StackedMLP
from gafn_lib.core.trainer import GridTrainer
from gafn_lib.envs.hypergrid import Hypergrid, HypergridConfig
from gafn_lib.grid.config import GridTrainConfig

TINY = dict(height=6, hidden=32, n_steps=20, log_every=10, batch_size=8)
strip = lambda rows: [{k: v for k, v in r.items() if k != "wall_seconds"} for r in rows]

MIXED = [
    dict(objective="tb", augment="joint", intrinsic="rnd", seed=0),
    dict(objective="db", augment="edge", intrinsic="count", seed=1),
    dict(objective="subtb", augment="node", intrinsic="rnd", seed=2, subtb_lambda=0.5),
    dict(objective="fm", augment="none", intrinsic="none", seed=3),
    dict(objective="fm", augment="joint", intrinsic="rnd", seed=4),
    dict(objective="tb", augment="none", intrinsic="none", seed=5, uniform_pb=True),
]


@pytest.fixture(params=["table", "visited", "per-move"], autouse=True)
def mode(request, monkeypatch):
    """Every evaluation path: every state once per step with gradient (small grids); the distinct
    visited states with sampling from no-gradient tables; the distinct visited states with one
    network call per move while sampling."""
    import gafn_lib.core.ensemble.trainer as trainer_module

    if request.param in ("visited", "per-move"):
        monkeypatch.setattr(trainer_module, "TABLE_MODE_MAX_STATES", 0)
    if request.param == "per-move":
        monkeypatch.setattr(trainer_module, "MOVE_CALL_ROWS", -(10**9))
    return request.param


def test_the_mode_fixture_selects_each_path(mode):
    trainer = EnsembleTrainer([GridTrainConfig(**TINY, seed=s) for s in range(2)])
    assert (trainer.table_mode, trainer.sampling_table) == {
        "table": (True, True), "visited": (False, True), "per-move": (False, False)
    }[mode]


@pytest.mark.parametrize("walk", ["numpy", "torch"])
def test_table_sampler_draws_the_per_move_samplers_trajectories(walk, monkeypatch):
    """Given the same probabilities and uniforms, sampling on state indices from tables gives exactly
    the trajectories of the per-state sampler (zeros in the tables, forced-terminal states, 2 members),
    with the CPU's numpy walk and with the torch walk other devices use."""
    from gafn_lib.core.ensemble import sampling
    from gafn_lib.core.ensemble.sampling import draw_uniforms, sample_ensemble, sample_from_tables, transition_table
    from gafn_lib.core.exact import state_graph

    if walk == "torch":
        monkeypatch.setattr(sampling, "_walk_numpy", sampling._walk_torch)

    env = Hypergrid(HypergridConfig(ndim=3, height=5))
    graph = state_graph(env)
    n, k, batch = env.n_states, 2, 9
    g = torch.Generator().manual_seed(3)
    mask = graph.forward_mask.clone()
    mask[:, env.stop_action] |= graph.forced
    raw = torch.rand(k * n, env.n_actions, generator=g) * (torch.rand(k * n, env.n_actions, generator=g) > 0.3)
    raw[:, env.stop_action] = 0.04  # every state can stop, rarely: some trajectories reach the forced-terminal edge
    probs = raw * mask.repeat(k, 1)
    probs = probs / probs.sum(dim=1, keepdim=True)
    uniforms = draw_uniforms([torch.Generator().manual_seed(s) for s in (0, 1)], batch, env.max_moves + 1, torch.device("cpu"))
    offsets = (torch.arange(k) * n).repeat_interleave(batch)

    def state_probs(states):
        rows = offsets + env.index(states)
        return probs[rows], mask.repeat(k, 1)[rows]

    expected = sample_ensemble(env, None, k, batch, uniforms, state_probs=state_probs)
    got = sample_from_tables(graph, transition_table(graph), probs, mask, k, batch, uniforms)
    for field in ("states", "actions", "mask", "forced"):
        assert torch.equal(getattr(got, field), getattr(expected, field)), field
    assert int(expected.forced.sum()) > 0 and int((expected.lengths < env.max_moves).sum()) > 0


def grads(trainer, member):
    out = {name: p.grad[member].clone() for name, p in trainer.policy_net.named_parameters()}
    if trainer.rnd is not None and member in trainer.rnd_members:
        j = trainer.rnd_members.index(member)
        out.update({f"rnd.{name}": p.grad[j].clone() for name, p in trainer.rnd.predictor.named_parameters()})
    return out


def first_step(trainer):
    traj = trainer.sample()
    total, infos = EnsembleTrainer.loss(trainer, traj)
    trainer.optimizer.zero_grad(set_to_none=True)
    total.backward()
    return traj, infos


def test_one_member_ensemble_is_the_solo_run_bit_for_bit():
    cfg = GridTrainConfig(**TINY, seed=7)
    solo = GridTrainer(cfg).train(progress=False)
    (member,) = EnsembleTrainer([cfg]).train(progress=False)
    assert strip(member.rows) == strip(solo.rows)
    assert member.config == solo.config


@pytest.mark.parametrize("member", range(len(MIXED)))
def test_each_member_of_a_mixed_ensemble_matches_its_solo_first_step_bit_for_bit(member):
    configs = [GridTrainConfig(**TINY, **kw) for kw in MIXED]
    ensemble = EnsembleTrainer(configs)
    traj, infos = first_step(ensemble)
    solo = GridTrainer(configs[member])
    solo_traj, (solo_info,) = first_step(solo)
    rows = slice(member * TINY["batch_size"], (member + 1) * TINY["batch_size"])
    assert torch.equal(traj.terminal[rows], solo_traj.terminal)  # same samples: own generator, own policy
    assert infos[member] == solo_info
    ours, theirs = grads(ensemble, member), grads(solo, 0)
    assert ours.keys() == theirs.keys()
    for name in ours:
        assert torch.equal(ours[name], theirs[name]), name
    if configs[member].objective != "fm":
        assert torch.equal(ensemble.log_z_param.grad[member], solo.log_z_param.grad[0])


@pytest.mark.parametrize("change", [dict(seed=99), dict(eta=0.5), dict(objective="db"), dict(augment="edge")])
def test_a_member_does_not_depend_on_the_others(change):
    base = [GridTrainConfig(**TINY, seed=s) for s in range(3)]
    other = list(base)
    other[1] = replace(base[1], **change)
    first, second = EnsembleTrainer(base), EnsembleTrainer(other)
    terminals = []
    for trainer in (first, second):
        seen = []
        for _ in range(TINY["n_steps"]):
            traj = trainer.sample()
            seen.append(traj.terminal[: TINY["batch_size"]].clone())
            total, _ = trainer.loss(traj)
            trainer.optimizer.zero_grad(set_to_none=True)
            total.backward()
            trainer.optimizer.step()
        terminals.append(torch.stack(seen))
    assert torch.equal(terminals[0], terminals[1])
    for name, p in first.policy_net.named_parameters():
        assert torch.equal(p[0], dict(second.policy_net.named_parameters())[name][0]), name
    h1 = EnsembleTrainer(base).train(progress=False)[0]
    h2 = EnsembleTrainer(other).train(progress=False)[0]
    assert strip(h1.rows) == strip(h2.rows)


def test_ensemble_checkpoint_resumes_bit_for_bit():
    configs = [GridTrainConfig(**dict(TINY, n_steps=40), **kw) for kw in MIXED[:4]]
    straight = EnsembleTrainer(configs).train(progress=False)
    first = EnsembleTrainer(configs)
    first.train(n_steps=20, progress=False)
    buf = io.BytesIO()
    torch.save(first.state_dict(), buf)
    resumed = EnsembleTrainer(configs)
    torch.manual_seed(12345)  # the resumed run must not depend on the global RNG at load time
    resumed.load_state_dict(torch.load(io.BytesIO(buf.getvalue()), weights_only=True))
    histories = resumed.train(progress=False)
    for a, b in zip(histories, straight):
        assert strip(a.rows) == strip(b.rows)


def test_incompatible_configs_are_refused_naming_the_field():
    with pytest.raises(ValueError, match="height"):
        EnsembleTrainer([GridTrainConfig(**TINY), GridTrainConfig(**dict(TINY, height=7))])
    with pytest.raises(ValueError, match="lr"):
        EnsembleTrainer([GridTrainConfig(**TINY), GridTrainConfig(**TINY, lr=3e-4)])
    assert compatibility_key(GridTrainConfig(**TINY, seed=1, eta=0.3)) == compatibility_key(GridTrainConfig(**TINY))


def test_onehot_first_layer_equals_dense_product():
    env = Hypergrid(HypergridConfig(ndim=3, height=5))
    gens = [torch.Generator().manual_seed(s) for s in range(2)]
    net = StackedMLP([env.obs_dim, 16, 4], gens)
    states = env.all_states()[::7]
    batch = states.unsqueeze(0).expand(2, *states.shape)
    onehot = Featurizer(env)(batch)
    dense = Featurizer(env, dense=True)(batch)
    assert onehot.indices is not None and dense.dense is not None
    assert torch.allclose(net.forward_inputs(onehot), net.forward_inputs(dense), atol=1e-6)


def test_inverse_cdf_never_picks_a_masked_action():
    probs = torch.tensor([[0.5, 0.0, 0.5], [0.0, 1.0, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    mask = probs > 0
    for u in (0.0, 0.25, 0.5, 0.75, 1.0 - 1e-7):
        a = inverse_cdf(probs, mask, torch.full((3,), u))
        assert bool(mask.gather(1, a.unsqueeze(1)).all())
    u = torch.rand(20000, generator=torch.Generator().manual_seed(0))
    a = inverse_cdf(probs[2:].expand(20000, -1), mask[2:].expand(20000, -1), u)
    assert torch.bincount(a, minlength=3).float().div(20000).sub(1 / 3).abs().max() < 0.02


class Unlisted:
    """A hypergrid that does not enumerate its states (no n_states / index / all_states)."""

    def __init__(self, grid):
        self._grid = grid
        for name in ("name", "n_actions", "stop_action", "n_backward_actions", "max_moves", "obs_dim", "device"):
            setattr(self, name, getattr(grid, name))
        for name in ("reset", "forward_mask", "backward_mask", "step_unchecked", "backward_action", "parents", "encode", "log_reward"):
            setattr(self, name, getattr(grid, name))


@pytest.mark.parametrize("member", [0, 1, 2])
def test_environment_without_enumeration_trains_members_like_solo(member):
    from gafn_lib.core.config import TrainConfig

    env = Unlisted(Hypergrid(HypergridConfig(height=6)))
    configs = [TrainConfig(hidden=32, batch_size=8, n_steps=10, log_every=5, seed=s, objective=o, augment=a)
               for s, o, a in ((0, "tb", "joint"), (1, "fm", "edge"), (2, "subtb", "none"))]
    ensemble = EnsembleTrainer(configs, env=env)
    assert not ensemble.enumerable and not ensemble.featurizer.uses_indices
    _, infos = first_step(ensemble)
    solo = GridTrainer(configs[member], env=env)
    _, (solo_info,) = first_step(solo)
    assert infos[member]["loss"] == pytest.approx(solo_info["loss"], rel=1e-5)
    histories = EnsembleTrainer(configs, env=env).train(progress=False)
    assert [r["step"] for r in histories[member].rows] == [5, 10]


