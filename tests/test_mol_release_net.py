"""The public release's block-graph network (``network="release"``), its presets and its run ids.

References here are deliberately slow: H×H edge weights materialised, ``nn.GRU`` run for one time
step, one state at a time, edges read from the states' junction bonds."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from gafn_lib.envs.fragment_batch import encode_states, forward_masks
from gafn_lib.envs.fragments import FragmentMDP
from gafn_lib.molecules.config import MOL_PRESETS, MolTrainConfig
from gafn_lib.molecules.graph_rnd import GraphRND
from gafn_lib.molecules.networks import build_policy, build_state_embedding
from gafn_lib.molecules.policy import BlockGraphPolicy
from gafn_lib.molecules.release_net import AncestorPathCache, ReleaseGraphNet, ReleaseStateEmbedding, ancestor_classes, rank_one_mean_messages
from gafn_lib.molecules.sampling import sample_mol_trajectories
from gafn_lib.molecules.trainer import MolTrainer

TINY = dict(hidden=8, n_rounds=2, log_every=2, reward="dense", reward_exponent=3.0, min_blocks=2, max_blocks=5)


@pytest.fixture(scope="module")
def states(mdp):
    """The empty state, random trajectories' states and all their parents (many shared nodes)."""
    rng = np.random.default_rng(0)
    out = [mdp.initial_state]
    for _ in range(6):
        for s in mdp.random_trajectory(rng, stop_prob=0.1)[1:]:
            out += [s] + [p for p, _ in mdp.parents(s)]
    return list(dict.fromkeys(out))


def net64(mdp, hidden=6, n_rounds=3, seed=0) -> ReleaseGraphNet:
    torch.manual_seed(seed)
    net = ReleaseGraphNet.for_mdp(mdp, hidden, n_rounds).double()
    with torch.no_grad():  # NNConv's bias starts at zero: make it count
        net.trunk.conv_bias.normal_()
    return net


# ------------------------------------------------------------------ the rank-one message
def materialised_mean_messages(x, src, dst, a, b):
    """NNConv(aggr="mean") message term with the H×H weight of every edge formed explicitly."""
    weight = (a[:, :, None] * b[:, None, :])  # (E, H, H): the release's outer product, reshaped
    messages = torch.bmm(x[src][:, None, :], weight)[:, 0]  # x_jᵀ W_e
    total = x.new_zeros(x.shape[0], b.shape[1]).index_add(0, dst, messages)
    degree = x.new_zeros(x.shape[0]).index_add(0, dst, x.new_ones(dst.shape[0]))
    return total / degree.clamp(min=1)[:, None]


def test_rank_one_message_equals_materialised_nnconv():
    torch.manual_seed(0)
    x = torch.randn(6, 5, dtype=torch.float64)
    src = torch.tensor([0, 1, 2, 0, 4])
    dst = torch.tensor([1, 2, 3, 3, 3])  # node 3: three incoming edges; nodes 0, 4, 5: none
    a, b = torch.randn(5, 5, dtype=torch.float64), torch.randn(5, 5, dtype=torch.float64)
    got = rank_one_mean_messages(x, src, dst, a, b)
    torch.testing.assert_close(got, materialised_mean_messages(x, src, dst, a, b), rtol=1e-12, atol=1e-12)
    assert torch.equal(got[[0, 4, 5]], torch.zeros(3, 5, dtype=torch.float64))
    # node 3 by hand: the mean of (x_j · a_e) b_e over its three edges
    hand = sum(float(x[j] @ a[e]) * b[e] for e, j in ((2, 2), (3, 0), (4, 4))) / 3
    torch.testing.assert_close(got[3], hand, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ the network against a slow reference
def slow_reference(net: ReleaseGraphNet, mdp: FragmentMDP, state):
    """(flat logits, log F, embedding) of ONE state: materialised NNConv weights, ``nn.GRU``."""
    trunk, vocab = net.trunk, mdp.vocab
    h = trunk.hidden
    gru = nn.GRU(h, h).double()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(gru, f"{name}_l0").copy_(getattr(trunk.gru, name))
    if state.n_blocks == 0:
        types, stems, stem_types = [vocab.n_frags], [0], [vocab.n_stem_types]
        src = dst = type_src = type_dst = []
    else:
        smiles = [vocab.frag_smiles[f] for f in state.frags]
        types = list(state.frags)
        # the release's edges: from the block that held the stem to the block attached there
        src = [a for a, _, _, _ in state.jbonds]
        dst = [b for _, _, b, _ in state.jbonds]
        type_src = [vocab.stem_type[(smiles[a], aa)] for a, aa, _, _ in state.jbonds]
        type_dst = [vocab.stem_type[(smiles[b], ba)] for _, _, b, ba in state.jbonds]
        stems = [b for b, _ in state.stems]
        stem_types = [vocab.stem_type[(smiles[b], a)] for b, a in state.stems]
    t = lambda v: torch.tensor(v, dtype=torch.long)  # noqa: E731
    x = trunk.block2emb(trunk.block_emb(t(types)))
    hidden_state = x[None]
    edge_attr = trunk.bond_emb(t(type_src)) if src else torch.zeros(0, h, dtype=x.dtype)
    edge_attr2 = trunk.bond_emb(t(type_dst)) if src else torch.zeros(0, h, dtype=x.dtype)
    for _ in range(trunk.n_rounds):
        conv = materialised_mean_messages(x, t(src), t(dst), edge_attr, edge_attr2) + x @ trunk.conv_root.weight.T + trunk.conv_bias
        out, hidden_state = gru(F.leaky_relu(conv)[None], hidden_state)
        x = out[0]
    g = x.mean(dim=0)
    stem_logits = [net.stem2pred(torch.cat([x[node], net.stem_emb.weight[st]])) for node, st in zip(stems, stem_types)]
    stop, log_flow = net.global2pred(g)
    return torch.cat([stop[None], *stem_logits]), log_flow, g


def test_network_equals_slow_reference(mdp, states):
    net = net64(mdp)
    batch = encode_states(mdp, states)
    out = net(batch, forward_masks(mdp, states))
    for i, s in enumerate(states):
        logits, log_flow, g = slow_reference(net, mdp, s)
        valid = torch.isfinite(out.logits[i])
        n = logits.shape[0]
        torch.testing.assert_close(out.logits[i, :n], logits.masked_fill(~valid[:n], -math.inf), rtol=1e-10, atol=1e-10)
        assert not bool(valid[n:].any())
        torch.testing.assert_close(out.log_flow[i], log_flow, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(out.embedding[i], g, rtol=1e-10, atol=1e-10)


def test_shared_nodes_equal_the_plain_computation(mdp, states):
    net = net64(mdp)
    batch = encode_states(mdp, states)
    node_class, rep, parent_class = ancestor_classes(batch)
    assert rep.shape[0] < batch.node_type.shape[0] / 2  # most nodes of a state and its parents are shared
    torch.testing.assert_close(net.trunk.node_states(batch), net.trunk.plain_node_states(batch), rtol=1e-12, atol=1e-12)
    # a node with two incoming edges (no state of this MDP has one) falls back to the plain path
    two_in = dataclasses.replace(batch, edge_index=batch.edge_index.clone())
    first = int((batch.edge_index[1, 0::2] > 0).nonzero()[0])  # an edge into a non-first node
    two_in.edge_index[1, 2 * first] = two_in.edge_index[1, 2 * first + 2]  # now two edges enter one node
    torch.testing.assert_close(net.trunk.node_states(two_in), net.trunk.plain_node_states(two_in), rtol=1e-12, atol=1e-12)


def test_sampling_cache_gives_the_network_outputs_and_computes_only_new_paths(mdp):
    net = net64(mdp)
    torch.manual_seed(1)
    trajs = sample_mol_trajectories(mdp, net, 6, epsilon=0.3)
    cache = net.sampling_cache()
    with torch.no_grad():
        for t in range(max(len(s) for s in trajs.states)):
            current = [s[t] for s in trajs.states if len(s) > t]
            batch, mask = encode_states(mdp, current), forward_masks(mdp, current)
            known = len(cache)
            plain, cached = net(batch, mask), net(batch, mask, cache=cache)
            torch.testing.assert_close(cached.logits, plain.logits, rtol=1e-12, atol=1e-12)
            torch.testing.assert_close(cached.log_flow, plain.log_flow, rtol=1e-12, atol=1e-12)
            torch.testing.assert_close(cached.embedding, plain.embedding, rtol=1e-12, atol=1e-12)
            # the states at t are those at t-1 plus one block each: at most one new path per state
            assert len(cache) - known <= len(current)
            seen = [s for tr in trajs.states for s in tr[: t + 1]]  # every state met so far
            assert len(cache) == ancestor_classes(encode_states(mdp, seen))[1].numel()  # its distinct paths, each computed once
    # a batch whose paths were all met computes nothing new
    with torch.no_grad():
        known = len(cache)
        net(encode_states(mdp, trajs.terminal), forward_masks(mdp, trajs.terminal), cache=cache)
    assert len(cache) == known


def test_sampling_with_and_without_the_cache_draws_the_same_molecules(mdp):
    net = ReleaseGraphNet.for_mdp(mdp, 16, 4)
    drawn = {}
    for cached in (True, False):
        net.cached_sampling = cached
        assert (net.sampling_cache() is None) is (not cached)
        torch.manual_seed(3)
        drawn[cached] = [sample_mol_trajectories(mdp, net, 4, epsilon=0.05).actions for _ in range(5)]
    assert drawn[True] == drawn[False]


def test_sampling_cache_refuses_gradients_changed_parameters_and_other_networks(mdp, states):
    net, other = net64(mdp), net64(mdp, seed=1)
    batch, mask = encode_states(mdp, states[:3]), forward_masks(mdp, states[:3])
    cache = net.sampling_cache()
    with pytest.raises(RuntimeError, match="no_grad"):
        net(batch, mask, cache=cache)
    with torch.no_grad():
        net(batch, mask, cache=cache)
        with pytest.raises(ValueError, match="another network"):
            other(batch, mask, cache=cache)
        net.trunk.conv_bias.add_(1.0)  # what an optimiser step does
        with pytest.raises(RuntimeError, match="parameters changed"):
            net(batch, mask, cache=cache)
    with pytest.raises(TypeError, match="ReleaseStateEmbedding"):
        AncestorPathCache(net)


def test_edges_are_directed_from_the_stem_holder(mdp, states):
    """The even-indexed edges of encode_states are the release's (stem holder → attached block): in
    placement order the holder comes first, and every block but the first has one such edge."""
    for s in states:
        if s.n_blocks < 2:
            continue
        batch = encode_states(mdp, [s])
        src, dst = batch.edge_index[:, 0::2]
        assert bool((src < dst).all())
        assert sorted(dst.tolist()) == list(range(1, s.n_blocks))


# ------------------------------------------------------------------ hand-computed values
def gru_by_hand(gru: nn.GRUCell, m: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    wi_r, wi_z, wi_n = gru.weight_ih.chunk(3)
    wh_r, wh_z, wh_n = gru.weight_hh.chunk(3)
    bi_r, bi_z, bi_n = gru.bias_ih.chunk(3)
    bh_r, bh_z, bh_n = gru.bias_hh.chunk(3)
    r = torch.sigmoid(wi_r @ m + bi_r + wh_r @ x + bh_r)
    z = torch.sigmoid(wi_z @ m + bi_z + wh_z @ x + bh_z)
    n = torch.tanh(wi_n @ m + bi_n + r * (wh_n @ x + bh_n))
    return (1 - z) * n + z * x


def test_zero_rounds_one_block_by_hand(mdp):
    net = net64(mdp, hidden=5, n_rounds=0)
    s = mdp.attach(mdp.initial_state, 0, 7)
    with torch.no_grad():
        e = net.trunk.block_emb.weight[s.frags[0]]
        lin1, lin2 = net.trunk.block2emb[0], net.trunk.block2emb[2]
        x = lin2.weight @ F.leaky_relu(lin1.weight @ e + lin1.bias) + lin2.bias  # one node: g = x
        g1, g2 = net.global2pred[0], net.global2pred[2]
        stop, log_flow = g2.weight @ F.leaky_relu(g1.weight @ x + g1.bias) + g2.bias
        out = net(encode_states(mdp, [s]))
    torch.testing.assert_close(out.embedding[0], x, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out.logits[0, 0], stop, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out.log_flow[0], log_flow, rtol=1e-12, atol=1e-12)


def test_one_round_two_blocks_by_hand(mdp):
    """Root r and attached block c: r gets no message, c gets (x_r · a) b; then the GRU cell."""
    net = net64(mdp, hidden=4, n_rounds=1)
    trunk, vocab = net.trunk, mdp.vocab
    one = mdp.attach(mdp.initial_state, 0, 3)
    two = mdp.attach(one, 0, 11)
    (p, pa, c, ca), = two.jbonds
    smiles = [vocab.frag_smiles[f] for f in two.frags]
    with torch.no_grad():
        x0 = trunk.block2emb(trunk.block_emb(torch.tensor(two.frags)))
        a = trunk.bond_emb.weight[vocab.stem_type[(smiles[p], pa)]]
        b = trunk.bond_emb.weight[vocab.stem_type[(smiles[c], ca)]]
        theta, beta = trunk.conv_root.weight, trunk.conv_bias
        x_root = gru_by_hand(trunk.gru, F.leaky_relu(theta @ x0[p] + beta), x0[p])
        x_child = gru_by_hand(trunk.gru, F.leaky_relu(theta @ x0[c] + beta + (x0[p] @ a) * b), x0[c])
        x = trunk.node_states(encode_states(mdp, [two]))
        g = net.embed(encode_states(mdp, [two]))
        alone = trunk.node_states(encode_states(mdp, [one]))
    torch.testing.assert_close(x[p], x_root, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(x[c], x_child, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g[0], (x_root + x_child) / 2, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(alone[0], x_root, rtol=1e-12, atol=1e-12)  # attaching c leaves r unchanged


# ------------------------------------------------------------------ interface
def test_shapes_masks_and_batching(mdp, states):
    torch.manual_seed(0)
    net = ReleaseGraphNet.for_mdp(mdp, hidden=16, n_rounds=2)
    batch, mask = encode_states(mdp, states), forward_masks(mdp, states)
    out = net(batch, mask)
    assert out.logits.shape == mask.shape and torch.equal(torch.isfinite(out.logits), mask)
    assert out.log_flow.shape == (len(states),) and out.embedding.shape == (len(states), 16)
    torch.testing.assert_close(net.embed(batch), out.embedding)
    unmasked = net(batch)
    assert unmasked.logits.shape[1] == 1 + batch.max_stems * mdp.n_block_types
    single = net(encode_states(mdp, states[5:6]), forward_masks(mdp, states[5:6]))
    width = single.logits.shape[1]
    torch.testing.assert_close(single.logits[0], out.logits[5, :width], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(single.log_flow[0], out.log_flow[5], atol=1e-5, rtol=1e-5)
    loss = out.logits[mask].sum() + out.log_flow.sum()
    loss.backward()
    assert all(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in net.parameters())
    assert isinstance(build_policy("release", mdp, 8, 1), ReleaseGraphNet)
    assert isinstance(build_policy("compact", mdp, 8, 1), BlockGraphPolicy)
    assert isinstance(build_state_embedding("release", mdp, 8, 1), ReleaseStateEmbedding)


def test_bad_network_and_preset_values():
    with pytest.raises(ValueError, match="network must be one of"):
        MolTrainConfig(network="gat")
    with pytest.raises(ValueError, match="network must be one of"):
        build_policy("gat", None, 8, 1)
    with pytest.raises(ValueError, match="preset must be one of .*'release'"):
        MolTrainConfig.preset("relase")
    with pytest.raises(ValueError, match="n_rounds"):
        ReleaseStateEmbedding(3, 3, hidden=4, n_rounds=-1)
    with pytest.raises(ValueError, match="hidden"):
        ReleaseGraphNet(3, 3, 5, hidden=0)


# ------------------------------------------------------------------ RND and the trainer
def test_graph_rnd_with_the_release_network(mdp, states):
    torch.manual_seed(0)
    rnd = GraphRND(mdp, 16, 2, eta=0.1, network="release")
    assert isinstance(rnd.target, ReleaseStateEmbedding) and isinstance(rnd.predictor, ReleaseStateEmbedding)
    sample = states[1:9]
    reward, loss = rnd.reward_and_loss(sample)
    assert reward.shape == (8,) and not reward.requires_grad and bool((reward > 0).all())
    one = encode_states(mdp, sample[:1])
    torch.testing.assert_close(rnd.predictor.embed(one)[0], rnd.predictor.node_states(one).mean(dim=0))  # mean pool
    loss.backward()
    assert all(p.grad is None for p in rnd.target.parameters())
    opt = torch.optim.Adam(rnd.predictor.parameters(), lr=1e-2)
    before = float(rnd.error(sample).mean().detach())
    for _ in range(30):
        opt.zero_grad()
        rnd.reward_and_loss(sample)[1].backward()
        opt.step()
    assert float(rnd.error(sample).mean().detach()) < 0.5 * before


@pytest.mark.parametrize("rnd_features", ["graph", "fixed", "policy"])
def test_trainer_with_the_release_network_trains_and_resumes(mdp, proxy, rnd_features):
    config = MolTrainConfig(network="release", rnd_features=rnd_features, n_steps=4, **TINY)
    full = MolTrainer(config, proxy=proxy, mdp=mdp)
    assert isinstance(full.policy, ReleaseGraphNet)
    if rnd_features == "fixed":
        assert isinstance(full.rnd_encoder, ReleaseStateEmbedding)
    full.train(progress=False)
    half = MolTrainer(config, proxy=proxy, mdp=mdp)
    half.train(n_steps=2, progress=False)
    state = half.state_dict()
    resumed = MolTrainer(config, proxy=proxy, mdp=mdp)
    resumed.load_state_dict(state)
    resumed.train(progress=False)
    assert math.isfinite(full.history.final["loss"])
    assert resumed.history.final["loss"] == pytest.approx(full.history.final["loss"], rel=1e-6)


# ------------------------------------------------------------------ presets
def test_presets():
    release = MolTrainConfig.preset("release")
    expected = dict(objective="fm", augment="joint", intrinsic="rnd", log_reg_c=2.5e-5, leaf_coef=10.0, rnd_features="graph",
                    terminal="release", network="release", hidden=256, n_rounds=10, early_stop_reg=0.1, dtype="float32",
                    eta=0.1, lr=5e-4, batch_size=4, epsilon=0.05)
    assert {k: getattr(release, k) for k in expected} == expected
    assert MolTrainConfig.preset("paper") == MolTrainConfig()
    assert MolTrainConfig.preset("release", hidden=16, seed=3).hidden == 16  # overrides win
    gfn = MolTrainConfig.preset("release", augment="none")  # the release's GFlowNet: intrinsic fields inert
    assert (gfn.augment, gfn.intrinsic, gfn.terminal, gfn.network) == ("none", "none", "release", "release")
    assert set(MOL_PRESETS) == {"paper", "release"} and not {"augment", "intrinsic"} & set(MOL_PRESETS["release"])
    with pytest.raises(ValueError, match="terminal"):
        MolTrainConfig.preset("release", augment="edge")


def test_release_gflownet_preset_trains(mdp, proxy):
    config = MolTrainConfig.preset("release", augment="none", n_steps=2, **TINY)
    trainer = MolTrainer(config, proxy=proxy, mdp=mdp)
    trainer.train(progress=False)
    assert math.isfinite(trainer.history.final["loss"]) and trainer.history.final["intrinsic_loss"] == 0.0


def test_float32_loss_matches_float64(mdp, proxy):
    """The release trained in float64; on a fixed batch of the release preset (full width and rounds)
    float32 gives the float64 loss to a relative 1e-5 (measured: ≤ 2e-7, gradients ≤ 1e-6)."""
    trainers = {}
    for dtype in ("float64", "float32"):
        trainers[dtype] = MolTrainer(MolTrainConfig.preset("release", dtype=dtype, max_blocks=5), proxy=proxy, mdp=mdp)
    t64, t32 = trainers["float64"], trainers["float32"]
    t32.policy.load_state_dict(t64.policy.state_dict())
    t32.intrinsic.load_state_dict(t64.intrinsic.state_dict())
    torch.manual_seed(1)
    trajs = t64.sample()
    rewards = t64.score(trajs)[2]
    losses, grads = {}, {}
    for dtype, trainer in trainers.items():
        total, info = trainer.loss(trajs, torch.as_tensor(np.log(rewards), dtype=trainer.dtype))
        trainer.optimizer.zero_grad()
        total.backward()
        losses[dtype] = (float(total.detach()), info["loss"], info["intrinsic_loss"])
        grads[dtype] = torch.cat([p.grad.double().flatten() for p in trainer.policy.parameters() if p.grad is not None])
    for f64, f32 in zip(losses["float64"], losses["float32"]):
        assert f32 == pytest.approx(f64, rel=1e-5)
    assert float((grads["float32"] - grads["float64"]).norm() / grads["float64"].norm()) < 1e-4


# ------------------------------------------------------------------ command line
def test_cli_preset_release(capsys):
    from gafn_lib.molecules.cli import build_mol_parser, config_from_args, main_mols

    parse = build_mol_parser().parse_args
    assert config_from_args(parse(["--preset", "release"])) == MolTrainConfig.preset("release", n_steps=250_000, log_every=500)
    gfn = config_from_args(parse(["--algo", "gfn", "--preset", "release", "--leaf-coef", "5", "--hidden", "64"]))
    assert (gfn.augment, gfn.network, gfn.leaf_coef, gfn.hidden, gfn.n_rounds) == ("none", "release", 5.0, 64, 10)  # flags win
    assert config_from_args(parse(["--network", "release"])).network == "release"
    with pytest.raises(ValueError, match="--preset must be one of"):
        config_from_args(parse(["--preset", "fast"]))
    with pytest.raises(ValueError, match="--preset is a GFlowNet option"):
        config_from_args(parse(["--algo", "ppo", "--preset", "release"]))
    argv = ["--algo", "gafn", "--preset", "release", "--hidden", "8", "--n-rounds", "2", "--steps", "3", "--log-every", "3",
            "--max-blocks", "4", "--reward", "dense", "--json", "--no-progress"]
    assert main_mols(argv) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["steps"] == 3 and math.isfinite(result["loss"])
    assert {k: result["config"][k] for k in ("network", "log_reg_c", "rnd_features", "terminal", "hidden")} == dict(
        network="release", log_reg_c=2.5e-5, rnd_features="graph", terminal="release", hidden=8)


# ------------------------------------------------------------------ run ids
def test_network_field_keeps_earlier_run_ids():
    """``network`` came after runs were stored: at "compact" it is left out of the run id (the id a
    config without the field had), any other value enters it."""
    from gafn_lib.registry import config_key
    from gafn_lib.runner.store import RUN_ID_SCHEMA, config_fields, hashed_fields, run_id

    config = MolTrainConfig(seed=4)
    fields = config_fields(config)
    assert fields["network"] == "compact" and "network" not in hashed_fields(config)
    del fields["network"]
    canonical = {k: (int(v) if isinstance(v, float) and v.is_integer() else v) for k, v in fields.items()}
    text = json.dumps({"schema": RUN_ID_SCHEMA, "class": config_key(config), "fields": canonical}, sort_keys=True, separators=(",", ":"))
    assert run_id(config) == hashlib.sha256(text.encode()).hexdigest()[:16]
    release = MolTrainConfig(seed=4, network="release")
    assert hashed_fields(release)["network"] == "release" and run_id(release) != run_id(config)
