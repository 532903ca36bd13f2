"""The public release's molecule options (docs/method.md, molecules): FM epsilon, balanced loss,
early-stop regulariser, block-graph RND, release terminal term; and the random-search baseline."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gafn_lib import registry
from gafn_lib.baselines.random_search import RandomSearchConfig, RandomSearchTrainer, sample_uniform_trajectories, uniform_valid_actions
from gafn_lib.core.augment import augment
from gafn_lib.core.objectives import fm_loss
from gafn_lib.core.terms import NEG_INF, FlowMatchingTerms
from gafn_lib.envs.fragment_batch import forward_masks
from gafn_lib.envs.fragments import STOP
from gafn_lib.molecules.graph_rnd import GraphRND
from gafn_lib.molecules.policy import BlockGraphPolicy
from gafn_lib.molecules.sampling import draw_early_stops, sample_mol_trajectories
from gafn_lib.molecules.trainer import MolTrainConfig, MolTrainer

SMALL = dict(hidden=16, n_rounds=1, log_every=2, reward="dense", reward_exponent=3.0)
L = math.log


def tiny_terms() -> FlowMatchingTerms:
    """Two trajectories. b=0: two moves, stopped (in/out flows 2→4 then 4→2, F(x→⊤)=0.5, R=0.25).
    b=1: one move, forced terminal (in-flow 1, no out edges, R=0.5)."""
    t = lambda rows: torch.tensor(rows, dtype=torch.float64)
    return FlowMatchingTerms(
        log_inflow=t([[[L(2)], [L(4)]], [[L(1)], [NEG_INF]]]),
        log_outflow=t([[[L(1), L(3)], [L(1), L(1)]], [[NEG_INF, NEG_INF], [NEG_INF, NEG_INF]]]),
        log_stop_flow=t([L(0.5), NEG_INF]),
        forced=torch.tensor([False, True]),
        log_reward=t([L(0.25), L(0.5)]),
        mask=torch.tensor([[True, True], [True, False]]),
        log_intrinsic=torch.full((2, 2), NEG_INF, dtype=torch.float64),
        log_intrinsic_terminal=torch.full((2,), NEG_INF, dtype=torch.float64),
    )


def hand_deltas(c: float) -> tuple[list[float], list[float]]:
    """(non-terminal δ, terminal δ) of :func:`tiny_terms` with ``c`` inside both logs."""
    flow = [L(2 + c) - L(4 + c), L(4 + c) - L(2 + c)]
    terminal = [L(1 + c) - L(0.5 + c), L(0.5 + c) - L(0.25 + c)]  # forced state b=1, sink of b=0
    return flow, terminal


@pytest.mark.parametrize("c", [0.0, 0.1, 2.5e-5])
def test_fm_epsilon_enters_both_logs(c):
    flow, terminal = hand_deltas(c)
    expected = sum(d * d for d in flow + terminal) / 4
    assert float(fm_loss(augment(tiny_terms(), "none"), log_reg_c=c)) == pytest.approx(expected, rel=1e-12)


def test_fm_epsilon_changes_the_loss():
    terms = augment(tiny_terms(), "none")
    assert float(fm_loss(terms, log_reg_c=0.1)) < float(fm_loss(terms)) - 1e-3


@pytest.mark.parametrize("c,leaf_coef", [(0.0, 10.0), (0.1, 10.0), (0.0, 1.0)])
def test_balanced_loss_equals_hand_computed_value(c, leaf_coef):
    flow, terminal = hand_deltas(c)
    expected = leaf_coef * sum(d * d for d in terminal) / 2 + sum(d * d for d in flow) / 2
    got = float(fm_loss(augment(tiny_terms(), "none"), log_reg_c=c, leaf_coef=leaf_coef))
    assert got == pytest.approx(expected, rel=1e-12)
    assert got != pytest.approx(float(fm_loss(augment(tiny_terms(), "none"), log_reg_c=c)), rel=1e-3)


def test_draw_early_stops_range_and_rate():
    torch.manual_seed(0)
    draws = [d for _ in range(500) for d in draw_early_stops(4, 0.25, 2, 8)]
    hits = [d for d in draws if d is not None]
    assert set(hits) == set(range(2, 9))
    assert abs(len(hits) / len(draws) - 0.25) < 0.04  # 2000 draws: sd 0.0097
    assert draw_early_stops(3, 0.0, 2, 8) == [None, None, None]
    with pytest.raises(ValueError, match="early_stop_reg"):
        draw_early_stops(3, 1.5, 2, 8)


def test_early_stop_regulariser_stops_at_the_drawn_length(mdp):
    torch.manual_seed(1)
    policy = BlockGraphPolicy.for_mdp(mdp, 16, 1)
    stop_at = [2, 3, 4, None, 2, 5]
    trajs = sample_mol_trajectories(mdp, policy, len(stop_at), epsilon=0.0, stop_at=stop_at)
    for length, forced, want, actions in zip(trajs.lengths, trajs.forced, stop_at, trajs.actions):
        if want is None:
            continue
        # stops exactly at the drawn length unless the molecule ran out of stems first (forced)
        assert length == want or (forced and length < want)
        assert STOP not in actions


def test_early_stop_changes_lengths_in_training(mdp, proxy):
    torch.manual_seed(0)
    trainer = MolTrainer(MolTrainConfig(min_blocks=2, max_blocks=5, early_stop_reg=1.0, **SMALL), proxy=proxy, mdp=mdp)
    lengths = [length for _ in range(5) for length in trainer.sample().lengths]
    assert all(2 <= n <= 5 for n in lengths) and len(set(lengths)) > 1


def test_uniform_valid_actions_chi_square(mdp):
    """Counts of each valid action at three states (stop allowed, several stems) against uniform."""
    torch.manual_seed(0)
    rng = np.random.default_rng(3)
    states = []
    while len(states) < 3:
        s = mdp.random_trajectory(rng)[-1]
        if mdp.can_stop(s) and not mdp.is_forced_terminal(s) and mdp.n_stems(s) >= 2:
            states.append(s)
    valid = forward_masks(mdp, states)
    n_draws = 400
    counts = torch.zeros_like(valid, dtype=torch.float64)
    for _ in range(n_draws):
        a = uniform_valid_actions(valid)
        assert bool(valid[torch.arange(len(states)), a].all())
        counts[torch.arange(len(states)), a] += 1
    for row in range(len(states)):
        k = int(valid[row].sum())
        expected = n_draws * len(states) / len(states) / k
        observed = counts[row][valid[row]]
        chi2 = float(((observed - expected) ** 2 / expected).sum())
        # df = k - 1 (hundreds); mean df, sd sqrt(2 df): reject beyond 5 sd
        assert abs(chi2 - (k - 1)) < 5 * math.sqrt(2 * (k - 1)), (row, k, chi2)
    # a skewed sampler (always the first valid column) fails the same statistic
    k = int(valid[0].sum())
    skewed = torch.zeros(k, dtype=torch.float64)
    skewed[0] = n_draws
    assert float(((skewed - n_draws / k) ** 2 / (n_draws / k)).sum()) > (k - 1) + 5 * math.sqrt(2 * (k - 1))


def test_random_search_stop_probability_is_uniform_share(mdp):
    """From s_0 the first action is never stop; at a stop-allowed state stop has probability 1/count."""
    torch.manual_seed(0)
    trajs = sample_uniform_trajectories(mdp, 200)
    assert all(2 <= n <= mdp.max_blocks for n in trajs.lengths)
    assert sum(trajs.lengths) / 200 > 4.0  # stop is one of >100 choices: most molecules are long


def test_random_search_trainer_registered_and_resumes(mdp, proxy):
    config = RandomSearchConfig(min_blocks=2, max_blocks=5, n_steps=4, log_every=2, reward="dense", reward_exponent=3.0)
    assert registry.trainer_class(config) is RandomSearchTrainer
    full = RandomSearchTrainer(config, proxy=proxy, mdp=mdp)
    full.train(progress=False)
    half = RandomSearchTrainer(config, proxy=proxy, mdp=mdp)
    half.train(n_steps=2, progress=False)
    state = half.state_dict()
    resumed = RandomSearchTrainer(config, proxy=proxy, mdp=mdp)
    resumed.load_state_dict(state)
    resumed.train(progress=False)
    assert resumed.tracker.molecules == full.tracker.molecules
    assert full.history.final["molecules_generated"] == 16
    with pytest.raises(ValueError, match="early_stop_reg"):
        RandomSearchConfig(early_stop_reg=2.0)


def test_graph_rnd_trains_predictor_only(mdp):
    torch.manual_seed(0)
    rnd = GraphRND(mdp, 16, 1, eta=0.1)
    states = [t[-1] for t in (mdp.random_trajectory(np.random.default_rng(i)) for i in range(4))]
    reward, loss = rnd.reward_and_loss(states)
    assert reward.shape == (4,) and not reward.requires_grad and bool((reward > 0).all())
    assert torch.allclose(reward, 0.1 * rnd.error(states).detach())
    loss.backward()
    assert all(p.grad is None for p in rnd.target.parameters())
    assert any(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in rnd.predictor.parameters())
    opt = torch.optim.Adam(rnd.predictor.parameters(), lr=1e-2)
    before = float(rnd.error(states).mean().detach())
    for _ in range(30):
        opt.zero_grad()
        rnd.reward_and_loss(states)[1].backward()
        opt.step()
    assert float(rnd.error(states).mean().detach()) < 0.5 * before  # novelty of visited states decays


@pytest.mark.parametrize("kw", [dict(terminal="release"), dict(rnd_features="graph"), dict(log_reg_c=2.5e-5, leaf_coef=10.0, early_stop_reg=0.1),
                                dict(dtype="float64", rnd_features="graph", terminal="release")])
def test_release_options_train_and_resume(mdp, proxy, kw):
    config = MolTrainConfig(min_blocks=2, max_blocks=5, n_steps=4, **{**SMALL, **kw})
    full = MolTrainer(config, proxy=proxy, mdp=mdp)
    full.train(progress=False)
    half = MolTrainer(config, proxy=proxy, mdp=mdp)
    half.train(n_steps=2, progress=False)
    state = half.state_dict()  # before building another trainer: the RNGs are global
    resumed = MolTrainer(config, proxy=proxy, mdp=mdp)
    resumed.load_state_dict(state)
    resumed.train(progress=False)
    assert resumed.history.final["loss"] == pytest.approx(full.history.final["loss"], rel=1e-6)
    assert math.isfinite(full.history.final["loss"])


def test_release_terminal_uses_the_empty_state_novelty(mdp, proxy):
    """terminal='release': R̃(x) = R(x) + r(s_0) for a stopped x, R(x) for a forced one."""
    torch.manual_seed(0)
    trainer = MolTrainer(MolTrainConfig(min_blocks=2, max_blocks=5, terminal="release", **SMALL), proxy=proxy, mdp=mdp)
    captured = {}
    import gafn_lib.molecules.trainer as mt

    original = mt.flow_matching_terms

    def spy(trajs, parents, fwd, log_reward, log_intrinsic, log_intrinsic_terminal):
        captured["terminal"], captured["forced"] = log_intrinsic_terminal.detach(), list(trajs.forced)
        captured["r0"] = float(trainer.intrinsic.reward(trainer._rnd_features(trajs, fwd, fwd.traj_rows[:1, 0]))[0])
        return original(trajs, parents, fwd, log_reward, log_intrinsic, log_intrinsic_terminal)

    mt.flow_matching_terms = spy
    try:
        for _ in range(3):
            trainer.step()
    finally:
        mt.flow_matching_terms = original
    for value, forced in zip(captured["terminal"].tolist(), captured["forced"]):
        assert value == (NEG_INF if forced else pytest.approx(math.log(captured["r0"]), rel=1e-5))


def test_option_validation():
    with pytest.raises(ValueError, match="terminal"):
        MolTrainConfig(terminal="release", augment="edge")
    assert MolTrainConfig(terminal="release", augment="none").intrinsic == "none"  # inert without augmentation
    with pytest.raises(ValueError, match="terminal"):
        MolTrainConfig(terminal="sometimes")
    with pytest.raises(ValueError, match="log_reg_c"):
        MolTrainConfig(objective="tb", log_reg_c=1e-5)
    with pytest.raises(ValueError, match="leaf_coef"):
        MolTrainConfig(leaf_coef=0.0)
    with pytest.raises(ValueError, match="early_stop_reg"):
        MolTrainConfig(early_stop_reg=-0.1)
    with pytest.raises(ValueError, match="dtype"):
        MolTrainConfig(dtype="float16")
    with pytest.raises(ValueError, match="rnd_features"):
        MolTrainConfig(rnd_features="fingerprint")


def test_cli_release_options_and_random(capsys):
    import json

    from gafn_lib.molecules.cli import build_mol_parser, config_from_args, main_mols

    parse = build_mol_parser().parse_args
    cfg = config_from_args(parse(["--algo", "gafn", "--log-reg-c", "2.5e-5", "--leaf-coef", "10", "--terminal", "release", "--rnd-features", "graph"]))
    assert (cfg.log_reg_c, cfg.leaf_coef, cfg.terminal, cfg.rnd_features, cfg.early_stop_reg) == (2.5e-5, 10.0, "release", "graph", 0.1)
    with pytest.raises(ValueError, match="early-stop-reg"):
        config_from_args(parse(["--algo", "ppo", "--early-stop-reg", "0.2"]))
    with pytest.raises(ValueError, match="GFlowNet option"):
        config_from_args(parse(["--algo", "random", "--leaf-coef", "10"]))
    assert main_mols(["--algo", "random", "--steps", "2", "--log-every", "1", "--max-blocks", "3", "--reward", "dense", "--json", "--no-progress"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["algo"] == "random" and result["molecules_generated"] == 8


def test_bounded_caches_survive_overflow(mdp, proxy):
    """Each state cache clears when full and still answers for every state of the batch."""
    from gafn_lib.molecules.scoring import StateScorer

    rng = np.random.default_rng(0)
    states = [t[-1] for t in (mdp.random_trajectory(rng) for _ in range(6))]
    scorer = StateScorer(mdp, proxy, max_size=4)
    first = scorer(states[:3])
    again = scorer(states[:3] + states[3:5])  # 3 cached + 2 new > 4: cleared, all five recomputed
    assert again[0][:3] == first[0] and np.allclose(again[1][:3], first[1])
    assert len(scorer) == 5
    rnd = GraphRND(mdp, 16, 1, eta=0.1)
    rnd._target(states[:3])
    rnd._target_cache._values.update({s: torch.zeros(16) for s in range(200_000)})  # fill it up
    assert rnd._target(states).shape == (6, 16) and len(rnd._target_cache) == 6
