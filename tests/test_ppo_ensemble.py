"""PPO ensembles: K grid PPO runs in lockstep as one batched model, each member equal to its solo run
(bit for bit; the full histories are compared in tests/test_ppo_batch_invariance.py)."""

from __future__ import annotations

import io
from dataclasses import replace

import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from gafn_lib.baselines.ppo import PPOConfig, gae_advantages
from gafn_lib.baselines.ppo_ensemble import (
    MINIBATCH_ALIGN, PPOEnsembleTrainer, PPOTrainer, gae_advantages_stacked, minibatch_width, ppo_compatibility_key,
)

TINY = dict(height=5, hidden=32, batch_size=6, epochs=2, n_minibatches=3, n_steps=6, log_every=3)
strip = lambda rows: [{k: v for k, v in r.items() if k != "wall_seconds"} for r in rows]

# members differ in everything a member may differ in
MIXED = [
    dict(seed=0),
    dict(seed=1, intrinsic="rnd", eta=0.05),
    dict(seed=2, entropy_coef=0.01, clip=0.1, gae_lambda=1.0),
    dict(seed=3, intrinsic="rnd", eta=0.2, value_coef=1.0, max_grad_norm=None, normalize_advantages=False),
    dict(seed=4, gae_lambda=0.0, max_grad_norm=0.05),
]


@pytest.fixture(params=["table", "per-move"], autouse=True)
def mode(request, monkeypatch):
    """Both samplers: the actor evaluated once on every state, and one stacked call per move."""
    import gafn_lib.baselines.ppo_ensemble as module

    if request.param == "per-move":
        monkeypatch.setattr(module, "TABLE_MODE_MAX_STATES", 0)
        monkeypatch.setattr(module, "ADAPTIVE_TABLES", False)
    return request.param


def configs(kinds=MIXED, **extra):
    return [PPOConfig(**{**TINY, **extra}, **kw) for kw in kinds]


def first_update(trainer):
    """The first roll-out and the losses of the first minibatch of the first epoch, with their
    gradients as training computes them (by hand, each member on its own width:
    :meth:`PPOEnsembleTrainer.minibatch_gradients`)."""
    rollout = PPOEnsembleTrainer.collect(trainer)  # the stacked roll-out, also of a solo trainer
    rows, weight = trainer.minibatches(rollout.n_decisions)
    losses, diagnostics = trainer.minibatch_gradients(rollout, rows[0], weight[0])
    return rollout, rows[0], weight[0] > 0, losses, diagnostics


def test_hand_written_gradients_equal_autograd(mode):
    trainer = PPOEnsembleTrainer(configs(lr=0.03))  # large steps: ratios leave the clip range
    rollout = trainer.collect()
    clipped = 0.0
    for _ in range(3):
        rows, weight = trainer.minibatches(rollout.n_decisions)
        for j in range(TINY["n_minibatches"]):
            losses, diagnostics = trainer.ppo_gradients(rollout, rows[j], weight[j])
            by_hand = [p.grad.clone() for p in trainer.policy_net.parameters()]
            auto_losses, auto_diagnostics = trainer.ppo_losses(rollout, rows[j], weight[j])
            auto = torch.autograd.grad(auto_losses.sum(), list(trainer.policy_net.parameters()))
            assert torch.allclose(losses, auto_losses.detach(), rtol=1e-5, atol=1e-7)
            assert torch.allclose(diagnostics, auto_diagnostics, rtol=1e-5, atol=1e-7)
            for (name, _), g, h in zip(trainer.policy_net.named_parameters(), by_hand, auto):
                for k in range(trainer.n_members):
                    assert rel_err(g[k], h[k]) < 1e-5, (name, k)
            clipped += float(diagnostics[:, 4].sum())
            trainer.clip_gradients()
            trainer.optimizer.step()
    assert clipped > 0  # the clipped branch was exercised


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


@pytest.mark.parametrize("member", range(len(MIXED)))
def test_each_member_matches_its_solo_first_step(member, mode):
    ensemble = PPOEnsembleTrainer(configs())
    solo = PPOTrainer(configs()[member])
    ro, rows, valid, losses, diag = first_update(ensemble)
    assert ensemble.table_mode == (mode == "table")
    solo_ro, solo_rows, solo_valid, solo_losses, solo_diag = first_update(solo)
    b = TINY["batch_size"]
    assert torch.equal(ro.terminal[member * b : (member + 1) * b], solo_ro.terminal)  # same samples
    assert ro.n_decisions[member] == solo_ro.n_decisions[0]
    # the same decisions, laid out alike (B·(max_moves+1) rows), the same bits
    for name in ("actions", "valid", "log_prob_old", "advantages", "returns", "targets"):
        assert torch.equal(getattr(ro, name)[member], getattr(solo_ro, name)[0]), name
    assert ro.infos[member] == solo_ro.infos[0]
    # the same minibatch (own generator), the same loss and gradients
    assert torch.equal(rows[member][valid[member]], solo_rows[0][solo_valid[0]])
    assert torch.equal(losses[member], solo_losses[0])
    assert torch.equal(diag[member], solo_diag[0])
    ours = {name: p.grad[member].clone() for name, p in ensemble.policy_net.named_parameters()}
    theirs = {name: p.grad[0].clone() for name, p in solo.policy_net.named_parameters()}
    for name in ours:
        assert torch.equal(ours[name], theirs[name]), name
    # per-member clipping: the member's own norm and cap
    norms, solo_norms = ensemble.clip_gradients(), solo.clip_gradients()
    assert torch.equal(norms[member], solo_norms[0])
    for name, p in ensemble.policy_net.named_parameters():
        assert torch.equal(p.grad[member], dict(solo.policy_net.named_parameters())[name].grad[0]), name
    if member in ensemble.rnd_members:  # the predictor took the same first Adam step
        j = ensemble.rnd_members.index(member)
        for name, p in ensemble.rnd.predictor.named_parameters():
            q = dict(solo.rnd.predictor.named_parameters())[name][0]
            assert torch.equal(p[j], q), name


@pytest.mark.parametrize("change", [dict(seed=99), dict(eta=0.7), dict(intrinsic="none", eta=None), dict(clip=0.05, entropy_coef=0.5)])
def test_a_member_does_not_depend_on_the_others(change):
    kinds = [dict(seed=0), dict(seed=1, intrinsic="rnd", eta=0.1), dict(seed=2)]
    base = configs(kinds, n_steps=5)
    other = list(base)
    other[1] = replace(base[1], **change)
    a, b = PPOEnsembleTrainer(base), PPOEnsembleTrainer(other)
    for trainer in (a, b):
        trainer.train(progress=False)
    # member 0 and member 2 sampled the same terminal states at every step and have the same parameters
    for member in (0, 2):
        ha, hb = a.trackers[member].histogram, b.trackers[member].histogram
        assert ha.total == hb.total
        assert torch.equal(torch.as_tensor(ha.distribution()), torch.as_tensor(hb.distribution()))
        for name, p in a.policy_net.named_parameters():
            assert torch.equal(p[member], dict(b.policy_net.named_parameters())[name][member]), name
        assert strip(a.histories[member].rows) == strip(b.histories[member].rows)
    # and the changed member did change
    assert any(not torch.equal(p[1], dict(b.policy_net.named_parameters())[name][1]) for name, p in a.policy_net.named_parameters())


def test_trajectories_of_a_member_depend_only_on_its_seed():
    base = configs([dict(seed=0), dict(seed=1), dict(seed=2)])
    other = [base[0], replace(base[1], seed=50), replace(base[2], intrinsic="rnd", eta=0.3)]
    b = TINY["batch_size"]
    first, second = PPOEnsembleTrainer(base), PPOEnsembleTrainer(other)
    for _ in range(4):
        r1, r2 = first.collect(), second.collect()
        assert torch.equal(r1.terminal[:b], r2.terminal[:b])
        n = r1.n_decisions[0]
        assert torch.equal(r1.states[0, :n], r2.states[0, :n]) and torch.equal(r1.actions[0, :n], r2.actions[0, :n])
        first.update(r1)
        second.update(r2)
    assert not torch.equal(r1.terminal[b : 2 * b], r2.terminal[b : 2 * b]) or not torch.equal(r1.actions[1], r2.actions[1])


def test_ensemble_checkpoint_resumes_bit_for_bit():
    cfgs = configs(MIXED[:4], n_steps=8, log_every=2)
    straight = PPOEnsembleTrainer(cfgs)
    straight.train(progress=False)
    first = PPOEnsembleTrainer(cfgs)
    first.train(n_steps=4, progress=False)
    buf = io.BytesIO()
    torch.save(first.state_dict(), buf)
    torch.manual_seed(12345)  # the resumed run must not depend on the global RNG at load time
    resumed = PPOEnsembleTrainer(cfgs)
    resumed.load_state_dict(torch.load(io.BytesIO(buf.getvalue()), weights_only=True))
    assert resumed.step_count == 4
    histories = resumed.train(progress=False)
    for a, b in zip(histories, straight.histories):
        assert strip(a.rows) == strip(b.rows)
    for p, q in zip(resumed.policy_net.parameters(), straight.policy_net.parameters()):
        assert torch.equal(p, q)
    for p, q in zip(resumed.rnd.predictor.parameters(), straight.rnd.predictor.parameters()):
        assert torch.equal(p, q)


def reference_member_loss(trainer, ro, rows, valid, k):
    """Member ``k``'s clipped PPO loss written out plainly: its own rows only, its own weight slices,
    a dense one-hot input and ``nn.functional`` layers."""
    cfg, env = trainer.configs[k], trainer.env
    idx = rows[k][valid[k]]
    states = ro.states[k, idx]
    x = env.encode(states).float()
    net = trainer.policy_net.net
    h = x
    for i in range(net.n_layers):
        w, b = net.layer(i)
        h = h @ w[k] + b[k, 0]
        if i < net.n_layers - 1:
            h = F.leaky_relu(h)
    a = env.n_actions
    logits, values = h[:, :a], h[:, a]
    mask = env.forward_mask(states)
    log_probs = torch.log_softmax(logits.masked_fill(~mask, -1e9), dim=1)
    policy_terms, entropies, value_terms = [], [], []
    for i, d in enumerate(idx.tolist()):
        lp = log_probs[i, ro.actions[k, d]]
        ratio = torch.exp(lp - ro.log_prob_old[k, d])
        adv = ro.advantages[k, d]
        policy_terms.append(torch.max(-adv * ratio, -adv * torch.clamp(ratio, 1 - cfg.clip, 1 + cfg.clip)))
        p = log_probs[i].exp()
        entropies.append(-(p[mask[i]] * log_probs[i][mask[i]]).sum())
        value_terms.append(0.5 * (values[i] - ro.returns[k, d]) ** 2)
    mean = lambda xs: torch.stack(xs).mean()
    return mean(policy_terms) - cfg.entropy_coef * mean(entropies) + cfg.value_coef * mean(value_terms)


def test_batched_loss_matches_a_per_member_reference_loop():
    trainer = PPOEnsembleTrainer(configs())
    ro, rows, valid, losses, _ = first_update(trainer)
    batched_grads = [p.grad.clone() for p in trainer.policy_net.parameters()]
    assert len(set(int(v.sum()) for v in valid)) > 1 or len(set(ro.n_decisions)) > 1  # padding is exercised
    for k in range(trainer.n_members):
        trainer.optimizer.zero_grad(set_to_none=True)
        ref = reference_member_loss(trainer, ro, rows, valid, k)
        assert float(ref.detach()) == pytest.approx(float(losses[k]), rel=1e-5, abs=1e-7)
        ref.backward()
        for p, g in zip(trainer.policy_net.parameters(), batched_grads):
            assert p.grad[k].abs().max() > 0
            assert rel_err(g[k], p.grad[k]) < 1e-5
            others = [j for j in range(trainer.n_members) if j != k]
            assert float(p.grad[others].abs().max()) == 0.0  # member k's loss touches only its own slice
    # per-member clipping against torch's clip_grad_norm_ of each member alone
    for p, g in zip(trainer.policy_net.parameters(), batched_grads):
        p.grad = g.clone()
    trainer.clip_gradients()
    for k, cfg in enumerate(trainer.configs):
        alone = [torch.nn.Parameter(g[k].clone()) for g in batched_grads]
        for x, g in zip(alone, batched_grads):
            x.grad = g[k].clone()
        if cfg.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(alone, cfg.max_grad_norm)
        for p, x in zip(trainer.policy_net.parameters(), alone):
            assert rel_err(p.grad[k], x.grad) < 1e-5


def test_minibatches_split_each_members_decisions():
    trainer = PPOEnsembleTrainer(configs())
    n = [7, 12, 9, 6, 13]
    m = TINY["n_minibatches"]
    rows, weight = trainer.minibatches(n, max(n))
    valid = weight > 0
    assert rows.shape[:2] == (m, len(n))
    for k, n_k in enumerate(n):
        sizes = [int(valid[j, k].sum()) for j in range(m)]
        assert sizes == [len(c) for c in torch.arange(n_k).tensor_split(m)]
        assert torch.allclose(weight[:, k].sum(dim=1), torch.ones(m))  # a mean over the member's own rows
        seen = torch.cat([rows[j, k][valid[j, k]] for j in range(m)])
        assert sorted(seen.tolist()) == list(range(n_k))  # every decision exactly once per epoch
        assert not valid[:, k, minibatch_width(n_k, m):].any()  # training reads the member's own width


def test_minibatch_width_is_aligned_and_the_members_own():
    for m in (1, 3, 4):
        for n in range(1, 3000, 7):
            width = minibatch_width(n, m)
            chunk = -(-n // m)
            assert width % MINIBATCH_ALIGN == 0 and 0 <= width - chunk < max(MINIBATCH_ALIGN, chunk / 2)
    assert [minibatch_width(n, 1) for n in (1, 32, 33, 128, 129, 192, 193, 300)] == [32, 32, 64, 128, 192, 192, 256, 384]


def test_members_of_one_width_share_a_pass():
    trainer = PPOEnsembleTrainer(configs())
    rollout = trainer.collect()
    groups = trainer.width_groups(rollout)
    widths = [minibatch_width(n, TINY["n_minibatches"]) for n in rollout.n_decisions]
    if len(set(widths)) == 1:
        assert len(groups) == 1 and groups[0].members is None
    else:
        assert sorted(sum((g.members.tolist() for g in groups), [])) == list(range(len(widths)))
        for g in groups:
            assert all(widths[k] == g.width for k in g.members.tolist())


def test_stacked_gae_equals_the_solo_gae_per_member():
    torch.manual_seed(0)
    k, batch, horizon = 3, 4, 6
    rewards, values = torch.randn(k, batch, horizon), torch.randn(k, batch, horizon)
    last = torch.randint(0, horizon, (k, batch))
    lam = torch.tensor([0.0, 0.95, 1.0])
    stacked = gae_advantages_stacked(rewards, values, last, lam)
    for i in range(k):
        assert torch.allclose(stacked[i], gae_advantages(rewards[i], values[i], last[i], float(lam[i])), atol=1e-6)


def test_incompatible_configs_are_refused_naming_the_field():
    with pytest.raises(ValueError, match="height"):
        PPOEnsembleTrainer([PPOConfig(**TINY), PPOConfig(**dict(TINY, height=6))])
    with pytest.raises(ValueError, match="lr"):
        PPOEnsembleTrainer([PPOConfig(**TINY), PPOConfig(**TINY, lr=3e-4)])
    with pytest.raises(ValueError, match="n_minibatches"):
        PPOConfig(**dict(TINY, n_minibatches=7))
    with pytest.raises(TypeError, match="PPOConfig"):
        PPOEnsembleTrainer([object()])
    assert ppo_compatibility_key(PPOConfig(**TINY, seed=3, intrinsic="rnd", clip=0.1)) == ppo_compatibility_key(PPOConfig(**TINY))


def test_sweep_trains_compatible_ppo_runs_as_one_ensemble(tmp_path, mode):
    if mode != "table":
        pytest.skip("the runner test needs one sampler only")
    from gafn_lib.baselines.mcmc import MCMCConfig
    from gafn_lib.runner import run_sweep
    from gafn_lib.runner.store import ExperimentStore, run_id
    from gafn_lib.runner.sweep import _ensemble_key

    ppo = configs(MIXED[:3])
    mcmc = MCMCConfig(height=5, n_steps=6, log_every=3)
    assert _ensemble_key(ppo[0]) == _ensemble_key(ppo[2]) and _ensemble_key(mcmc) is None
    assert _ensemble_key(replace(ppo[0], height=6)) != _ensemble_key(ppo[0])
    grouped = run_sweep("grouped", ppo + [mcmc], results_dir=tmp_path, backend="serial", progress=False)
    alone = run_sweep("alone", ppo + [mcmc], results_dir=tmp_path, backend="serial", progress=False, ensemble_size=1)
    assert grouped["run"].unique().tolist() == [run_id(c) for c in ppo + [mcmc]]
    wall = [c for c in grouped.columns if "wall" in c]
    pd.testing.assert_frame_equal(grouped.drop(columns=wall), alone.drop(columns=wall), check_exact=True)
    store = ExperimentStore(tmp_path / "grouped")
    members = [store.read_metadata(run_id(c))["ensemble"] for c in ppo]
    assert {m["id"] for m in members} == {members[0]["id"]} and sorted(m["member"] for m in members) == [0, 1, 2]
    assert not store.artifacts_path(run_id(ppo[0])).exists()  # PPO keeps no arrays, alone or in an ensemble
    assert "ensemble" not in ExperimentStore(tmp_path / "alone").read_metadata(run_id(ppo[0]))


def test_sampling_only_the_live_rows_gives_the_same_trajectories():
    from gafn_lib.core.ensemble.sampling import draw_uniforms, sample_ensemble

    trainer = PPOEnsembleTrainer(configs(height=7, batch_size=16, n_minibatches=4))
    logits = lambda states: trainer.policy_net.forward_logits(trainer.featurizer(states))
    calls = []
    counted = lambda states: (calls.append(states.shape[1]), logits(states))[1]
    for _ in range(3):
        u = draw_uniforms(trainer.generators, 16, trainer.env.max_moves + 1, trainer.device)
        full = sample_ensemble(trainer.env, logits, trainer.n_members, 16, u)
        live = sample_ensemble(trainer.env, counted, trainer.n_members, 16, u, live_rows=8)
        assert torch.equal(full.states, live.states) and torch.equal(full.actions, live.actions)
        assert torch.equal(full.forced, live.forced)
    assert min(calls) == 8 and max(calls) == 16  # finished trajectories were left out


def test_tables_are_read_when_they_pay(monkeypatch):
    """The roll-out mode is the run's own: its grid and batch size, never its ensemble."""
    import gafn_lib.baselines.ppo_ensemble as module
    from gafn_lib.envs.hypergrid import Hypergrid, HypergridConfig

    monkeypatch.setattr(module, "TABLE_MODE_MAX_STATES", 2048)
    monkeypatch.setattr(module, "ADAPTIVE_TABLES", True)
    grid = lambda ndim, height: Hypergrid(HypergridConfig(ndim=ndim, height=height))
    assert module.table_mode_of(grid(2, 32), 16)  # 1024 states
    assert module.table_mode_of(grid(2, 128), 16)  # 16384 < 254 · (90 + 16)
    assert not module.table_mode_of(grid(4, 16), 16)  # 65536 > 60 · (90 + 16)
    for k in (1, 2, 12):
        assert PPOEnsembleTrainer([PPOConfig(height=32, hidden=16, seed=s) for s in range(k)]).table_mode
    monkeypatch.setattr(module, "ADAPTIVE_TABLES", False)
    assert not module.table_mode_of(grid(2, 128), 16)
    assert module.table_mode_of(grid(2, 32), 16)
