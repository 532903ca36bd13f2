"""Molecule baselines (PPO, MARS): runner, MARS acceptance and proposal probabilities, determinism,
resume, configuration errors, command line, and the notebook-06 helpers."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from gafn_lib.repro import mol_experiments as mx
from gafn_lib.baselines.mars import ADD, REMOVE, REPLACE, MARSConfig, MARSTrainer, mars_log_acceptance
from gafn_lib.baselines.mol_ppo import MolPPOConfig, MolPPOTrainer
from gafn_lib.envs.fragment_batch import encode_states, forward_masks
from gafn_lib.envs.fragments import FragmentMDP
from gafn_lib.molecules.cli import main_mols

TINY = dict(hidden=16, n_rounds=1, min_blocks=2, max_blocks=4, reward="dense", reward_exponent=3.0)
METRICS = ("step", "top10_reward", "n_modes", "top10_tanimoto", "molecules_generated", "unique_molecules", "wall_seconds")


@pytest.fixture(scope="module")
def mdp() -> FragmentMDP:
    return FragmentMDP(min_blocks=2, max_blocks=4)


def ppo(mdp, proxy, **kw) -> MolPPOTrainer:
    return MolPPOTrainer(MolPPOConfig(**{**TINY, "batch_size": 4, "n_steps": 4, "log_every": 2, **kw}), proxy=proxy, mdp=mdp)


def mars(mdp, proxy, **kw) -> MARSTrainer:
    return MARSTrainer(MARSConfig(**{**TINY, "n_chains": 6, "n_steps": 6, "log_every": 2, "train_batch": 4, **kw}), proxy=proxy, mdp=mdp)


def without_wall(rows):
    return [{k: v for k, v in r.items() if k != "wall_seconds"} for r in rows]


# ------------------------------------------------------------------------------- runner
@pytest.mark.parametrize("config", [
    MolPPOConfig(**TINY, batch_size=3, n_steps=3, log_every=1),
    MARSConfig(**TINY, n_chains=4, n_steps=3, log_every=1, train_batch=2),
], ids=["ppo", "mars"])
def test_runs_through_the_runner_with_metric_columns_and_molecules(config, tmp_path):
    from gafn_lib.runner import load_artifacts, run_sweep

    table = run_sweep("mols", [config], results_dir=tmp_path, backend="serial", progress=False)
    for column in METRICS:
        assert column in table.columns
    assert list(table["step"]) == [1, 2, 3]
    per_step = config.batch_size if isinstance(config, MolPPOConfig) else config.n_chains
    initial = 0 if isinstance(config, MolPPOConfig) else config.n_chains  # MARS scores its starting molecules
    assert table["molecules_generated"].iloc[-1] == initial + 3 * per_step
    arrays = load_artifacts("mols", config, results_dir=tmp_path)
    assert arrays["top_smiles"].dtype.kind == "U" and len(arrays["top_smiles"]) == len(arrays["top_scores"]) > 0
    assert np.all(np.diff(arrays["top_rewards"]) <= 0)  # best first


# ------------------------------------------------------------------------------- MARS acceptance
def test_mars_acceptance_formula_by_hand():
    # (R'/R)^(1/T) · q(x|x') / q(x'|x), capped at 1
    def acceptance(reward, reward_proposed, temperature, q_forward, q_reverse):
        return math.exp(mars_log_acceptance(math.log(reward), math.log(reward_proposed), temperature, math.log(q_forward), math.log(q_reverse)))

    assert acceptance(0.2, 0.1, 0.5, 0.1, 0.3) == pytest.approx(0.5**2 * 3.0)  # 0.75
    assert acceptance(0.2, 0.5, 0.5, 0.1, 0.01) == pytest.approx(2.5**2 * 0.1)  # 0.625: the reverse move is unlikely
    assert acceptance(0.2, 0.5, 0.5, 0.1, 0.3) == 1.0  # 18.75, capped at 1
    assert acceptance(0.2, 0.2, 1.0, 0.4, 0.1) == pytest.approx(0.25)  # equal rewards: only the proposal ratio
    assert acceptance(1e-9, 1e-9, 0.01, 0.5, 0.5) == pytest.approx(1.0)  # flat floor: a pure random walk
    # annealing: a lower temperature punishes a worse molecule more
    assert acceptance(0.5, 0.25, 0.25, 0.1, 0.1) == pytest.approx(0.5**4)
    log_a = mars_log_acceptance(np.log([0.2, 0.2]), np.log([0.1, 0.5]), 0.5, np.log([0.1, 0.1]), np.log([0.3, 0.3]))
    np.testing.assert_allclose(log_a, [math.log(0.75), 0.0])


def _single_log_pi(trainer, state, slots=None):
    """Slow reference: the proposal softmax of ONE state over its attachments (optionally some stem slots)."""
    mask = forward_masks(trainer.mdp, [state])
    logits = trainer.policy(encode_states(trainer.mdp, [state]), mask).logits[0]
    allowed = mask[0].clone()
    allowed[0] = False
    if slots is not None:
        cols = torch.zeros_like(allowed)
        for k in slots:
            cols[1 + k * trainer.n_types : 1 + (k + 1) * trainer.n_types] = True
        allowed &= cols
    return logits.masked_fill(~allowed, -torch.inf).log_softmax(0), allowed


def test_mars_proposal_probabilities_match_slow_reference(mdp, proxy):
    """Forward and reverse log q of every proposal, recomputed one state at a time from the definitions."""
    trainer = mars(mdp, proxy, n_chains=16, seed=2, move_weights=(1.0, 2.0, 1.5))
    trainer.train(n_steps=3, progress=False)  # chains of several sizes, a trained proposal
    seen = set()
    for _ in range(3):
        chains = list(trainer.chains)
        proposals = trainer.propose()
        for x, prop in zip(chains, proposals):
            new, leaves = prop.new_state, mdp.removable_leaves(x)
            new_leaves = mdp.removable_leaves(new)
            p_x, p_new = trainer.move_probabilities(x, len(leaves)), trainer.move_probabilities(new, len(new_leaves))
            with torch.no_grad():
                if prop.move == ADD:
                    log_pi, allowed = _single_log_pi(trainer, x)
                    same = [a for a in torch.nonzero(allowed).flatten().tolist() if mdp.step(x, a) == new]
                    fwd = math.log(p_x[ADD]) + float(torch.logsumexp(log_pi[same], 0))
                    rev = math.log(p_new[REMOVE] / len(new_leaves))
                elif prop.move == REMOVE:
                    (leaf,) = [j for j in leaves if mdp.remove_leaf(x, j)[0] == new][:1]
                    undo = mdp.remove_leaf(x, leaf)[1]
                    log_pi, _ = _single_log_pi(trainer, new)
                    fwd = math.log(p_x[REMOVE] / len(leaves))
                    rev = math.log(p_new[ADD]) + float(torch.logsumexp(log_pi[undo], 0))
                else:
                    parent = mdp.remove_leaf(new, new.n_blocks - 1)[0]  # the new block is the last one
                    (leaf,) = [j for j in leaves if mdp.remove_leaf(x, j)[0] == parent][:1]
                    undo = mdp.remove_leaf(x, leaf)[1]
                    slots = sorted({mdp.decode_action(a)[0] for a in undo})
                    log_pi, allowed = _single_log_pi(trainer, parent, slots)
                    same = [a for a in torch.nonzero(allowed).flatten().tolist() if mdp.step(parent, a) == new]
                    back = [a for a in torch.nonzero(allowed).flatten().tolist() if mdp.stem_smiles(mdp.step(parent, a)) == mdp.stem_smiles(x)]
                    assert set(back) >= set(undo)
                    fwd = math.log(p_x[REPLACE] / len(leaves)) + float(torch.logsumexp(log_pi[same], 0))
                    rev = math.log(p_new[REPLACE] / len(new_leaves)) + float(torch.logsumexp(log_pi[undo], 0))
            assert prop.log_q_forward == pytest.approx(fwd, abs=1e-5)
            assert prop.log_q_reverse == pytest.approx(rev, abs=1e-5)
            seen.add(prop.move)
        trainer.step()
    assert seen == {ADD, REMOVE, REPLACE}


def test_mars_chains_stay_valid_and_every_proposal_counts(mdp, proxy):
    trainer = mars(mdp, proxy, n_chains=8, n_steps=5)
    history = trainer.train(progress=False)
    assert history.final["molecules_generated"] == 8 * (5 + 1)
    assert all(mdp.min_blocks <= x.n_blocks <= mdp.max_blocks for x in trainer.chains)
    assert trainer.config.temperature(0) == 1.0 and trainer.config.temperature(5) == pytest.approx(0.1)
    assert 0 <= history.final["acceptance_rate_total"] <= 1


# ------------------------------------------------------------------------------- determinism, resume
@pytest.mark.parametrize("make", [ppo, mars], ids=["ppo", "mars"])
def test_same_seed_same_rows(mdp, proxy, make):
    a = make(mdp, proxy, seed=7).train(progress=False).rows
    b = make(mdp, proxy, seed=7).train(progress=False).rows
    assert without_wall(a) == without_wall(b)
    c = make(mdp, proxy, seed=8).train(progress=False).rows
    assert without_wall(a) != without_wall(c)


@pytest.mark.parametrize("make", [ppo, mars], ids=["ppo", "mars"])
def test_state_dict_round_trip_resumes_identically(mdp, proxy, make):
    straight = make(mdp, proxy, seed=5, n_steps=6)
    straight.train(progress=False)
    first = make(mdp, proxy, seed=5, n_steps=6)
    first.train(n_steps=4, progress=False)
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    resumed = make(mdp, proxy, seed=99, n_steps=6)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    resumed.train(progress=False)
    assert len(straight.history.rows) == len(resumed.history.rows)
    for a, b in zip(without_wall(straight.history.rows), without_wall(resumed.history.rows)):
        assert a.keys() == b.keys()
        for key in a:
            if isinstance(a[key], float) and math.isnan(a[key]):
                assert math.isnan(b[key]), key
            else:
                assert a[key] == pytest.approx(b[key], rel=1e-6, abs=1e-9), key


# ------------------------------------------------------------------------------- configuration
@pytest.mark.parametrize("cls, kwargs, field", [
    (MolPPOConfig, {"clip": 0.0}, "clip"),
    (MolPPOConfig, {"batch_size": 0}, "batch_size"),
    (MolPPOConfig, {"gae_lambda": 1.5}, "gae_lambda"),
    (MolPPOConfig, {"entropy_coef": -0.1}, "entropy_coef"),
    (MolPPOConfig, {"reward": "medium"}, "reward"),
    (MolPPOConfig, {"reward_threshold": -1.0}, "reward_threshold"),
    (MolPPOConfig, {"min_blocks": 4, "max_blocks": 3}, "max_blocks"),
    (MARSConfig, {"n_chains": 0}, "n_chains"),
    (MARSConfig, {"temperature_final": 0.0}, "temperature_final"),
    (MARSConfig, {"anneal_steps": 0}, "anneal_steps"),
    (MARSConfig, {"move_weights": (0.0, 1.0, 1.0)}, "move_weights"),
    (MARSConfig, {"move_weights": (1.0, 1.0)}, "move_weights"),
    (MARSConfig, {"lr": 0.0}, "lr"),
    (MARSConfig, {"reward_exponent": 0.0}, "reward_exponent"),
])
def test_bad_parameters_fail_naming_the_field(cls, kwargs, field):
    with pytest.raises(ValueError, match=field):
        cls(**kwargs)


def test_experiment_helpers_validate_and_budget():
    with pytest.raises(ValueError, match="method"):
        mx.method_config("SAC", seed=0, molecules=64)
    with pytest.raises(ValueError, match="molecules"):
        mx.method_config(mx.PPO, seed=0, molecules=0)
    with pytest.raises(ValueError, match="reward"):
        mx.method_config(mx.PPO, seed=0, molecules=64, reward={"threshold": 6})
    runs = dict(mx.molecule_runs([0], 64, n_logs=4, reward=mx.REDUCED_REWARD, hidden=16))
    assert {m: c.n_steps for m, c in runs.items()} == {mx.GAFN: 16, mx.GFN: 16, mx.PPO: 4, mx.MARS: 4, mx.RANDOM: 16}
    assert all(c.reward_threshold == 6.0 and c.hidden == 16 for c in runs.values())
    assert runs[mx.GAFN].augment == "joint" and runs[mx.GFN].augment == "none" and runs[mx.GAFN].objective == "fm"
    assert "REDUCED" in mx.reward_label(mx.REDUCED_REWARD) and "paper" in mx.reward_label(mx.PAPER_REWARD)


def test_claims_from_a_synthetic_table():
    from gafn_lib.repro import claims as cl

    final = {  # method: (top10_reward, top10_tanimoto, n_modes) — the paper's ordering, random the floor
        mx.GAFN: (0.9, 0.30, 5), mx.GFN: (0.6, 0.35, 2), mx.PPO: (0.7, 0.6, 1), mx.MARS: (0.2, 0.7, 0), mx.RANDOM: (0.1, 0.25, 0),
    }
    rows = [{"method": m, "run": f"{m}{s}", "seed": s, "step": 1, "top10_reward": r + 0.01 * s, "top10_tanimoto": t + 0.002 * s, "n_modes": n + (s % 2)}
            for m, (r, t, n) in final.items() for s in range(4)]  # 4 seeds: the fewest the claims rule decides with
    claims = mx.molecule_claims(pd.DataFrame(rows), scope="test")
    verdicts = {(c.claim, c.label_b): c.verdict for c in claims}
    assert all(c.scope == "test" for c in claims)
    assert verdicts[("GAFlowNet finds the best molecules (highest top-10 reward)", mx.RANDOM)] == cl.SUPPORTED
    # random search's top molecules are more diverse than GAFlowNet's here: the claim comes out contradicted
    assert verdicts[("GAFlowNet's top molecules are the most diverse (lowest top-10 Tanimoto)", mx.RANDOM)] == cl.CONTRADICTED
    assert sum(c.verdict == cl.SUPPORTED for c in claims) >= len(claims) - 2
    flat = pd.DataFrame(rows).assign(n_modes=0)
    mode_claims = [c for c in mx.molecule_claims(flat) if c.metric == "n_modes"]
    assert mode_claims and all(c.verdict == cl.INCONCLUSIVE and c.reason == "saturated" for c in mode_claims)
    without_random = mx.molecule_claims(pd.DataFrame([r for r in rows if r["method"] != mx.RANDOM]))
    assert all(mx.RANDOM not in (c.label_a, c.label_b) for c in without_random)


# ------------------------------------------------------------------------------- command line
@pytest.mark.parametrize("algo, per_step", [("ppo", 3), ("mars", 3)])
def test_cli_json_last_line(capsys, algo, per_step):
    code = main_mols(["--algo", algo, "--steps", "2", "--log-every", "1", "--batch-size", str(per_step), "--hidden", "16",
                      "--max-blocks", "3", "--reward", "dense", "--json", "--no-progress"])
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("top10_reward", "n_modes", "top10_tanimoto", "molecules_generated", "wall_seconds", "steps", "config"):
        assert key in result
    assert result["algo"] == algo and result["steps"] == 2
    assert result["molecules_generated"] == 2 * per_step + (per_step if algo == "mars" else 0)


@pytest.mark.parametrize("argv", [["--algo", "ppo", "--eta", "0.1"], ["--algo", "mars", "--ppo-epochs", "2"], ["--algo", "gafn", "--mars-temperature-final", "0.5"]])
def test_cli_rejects_options_of_other_algorithms(argv, capsys):
    with pytest.raises(SystemExit) as err:
        main_mols([*argv, "--steps", "1"])
    assert err.value.code == 2
    assert "not used by --algo" in capsys.readouterr().err


def test_cli_gflownet_defaults_unchanged():
    from gafn_lib.molecules.cli import build_mol_parser, config_from_args
    from gafn_lib.molecules.trainer import MolTrainConfig

    config = config_from_args(build_mol_parser().parse_args(["--steps", "10"]))
    assert config == MolTrainConfig(n_steps=10, log_every=10)
    gfn = config_from_args(build_mol_parser().parse_args(["--algo", "gfn", "--objective", "tb", "--eta", "0.2", "--steps", "10"]))
    assert (gfn.objective, gfn.augment, gfn.eta, gfn.batch_size) == ("tb", "none", 0.2, 4)


def test_long_command_runs_in_a_pool_and_reports_status(tmp_path, monkeypatch, capsys):
    """``mol_experiments long --workers 2``: every run trained in a process pool and stored; ``--status``
    says so without training (tiny budgets instead of the long profile's 250,000 molecules)."""
    def tiny_long_runs(methods, seeds):
        return [run for s in seeds for run in mx.molecule_runs([s], 8, methods, n_logs=2, reward=mx.PAPER_REWARD,
                                                                hidden=16, n_rounds=1)
                if run[0] in (mx.GFN, mx.RANDOM)]

    monkeypatch.setattr(mx, "long_runs", tiny_long_runs)
    args = ["long", "--methods", mx.GFN, mx.RANDOM, "--seeds", "0", "--results-dir", str(tmp_path)]
    assert mx.main(args + ["--status"]) == 0
    assert "0 of 2 runs done" in capsys.readouterr().out
    assert mx.main(args + ["--workers", "2"]) == 0
    assert mx.main(args + ["--status"]) == 0
    assert "2 of 2 runs done" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        mx.main(args + ["--workers", "0"])
    assert "--workers must be >= 1" in capsys.readouterr().err


def test_serial_sweep_goes_past_a_run_another_live_sweep_holds(tmp_path, monkeypatch, capsys):
    """Two long sweeps share the store (the sixth method on its own core). A serial sweep that meets
    a run the other holds trains the next run first and takes the held one over when its holder dies."""
    import subprocess
    import sys

    from gafn_lib.runner import ExperimentStore, run_id
    from gafn_lib.runner.locks import RunLocks

    def tiny_long_runs(methods, seeds):
        return [run for s in seeds for run in mx.molecule_runs([s], 8, methods, n_logs=2, reward=mx.PAPER_REWARD,
                                                                hidden=16, n_rounds=1)]

    monkeypatch.setattr(mx, "long_runs", tiny_long_runs)
    runs = tiny_long_runs([mx.GFN, mx.RANDOM], [0])
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3)"])  # holds the GFlowNet run, then dies
    try:
        locks = RunLocks(ExperimentStore.open(mx.MOL_STORE, tmp_path).root)
        locks.pid = holder.pid
        locks.acquire([run_id(runs[0][1])])
        args = ["long", "--methods", mx.GFN, mx.RANDOM, "--seeds", "0", "--results-dir", str(tmp_path), "--no-archive"]
        assert mx.main(args) == 0
    finally:
        holder.kill()
        holder.wait()
    out = capsys.readouterr().out
    assert "another live sweep is training it" in out and "waiting for the 1 run(s)" in out
    store = ExperimentStore.open(mx.MOL_STORE, tmp_path)
    assert all(store.is_complete(run_id(c)) for _, c in runs)
    started = {label: store.read_metadata(run_id(c))["started_at"] for label, c in runs}
    assert started[mx.RANDOM] <= started[mx.GFN]  # the held run was trained last, after its holder died
