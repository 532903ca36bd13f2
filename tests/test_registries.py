"""The one registry per kind of choice: intrinsic rewards (which trainers support which name)."""

from __future__ import annotations

import pytest

from gafn_lib.core.intrinsic import (
    INTRINSIC,
    INTRINSIC_REWARDS,
    STACKED_INTRINSIC,
    IntrinsicReward,
    check_intrinsic,
    intrinsic_names,
    register_intrinsic,
)


class _Zero(IntrinsicReward):
    def reward(self, features, index=None):
        return features.new_zeros(features.shape[0])

    def update(self, features, index=None):
        return features.new_zeros(())


def test_intrinsic_names_by_trainer():
    assert INTRINSIC_REWARDS == ("rnd", "count", "none")
    assert intrinsic_names(supported_by="molecules") == ("rnd", "none")
    assert set(intrinsic_names(supported_by="ppo")) == {"rnd", "none"}
    assert STACKED_INTRINSIC == intrinsic_names(supported_by="stacked") == ("rnd", "count", "none")
    assert set(INTRINSIC_REWARDS) <= set(intrinsic_names(supported_by="gflownet"))
    with pytest.raises(ValueError, match="supported_by must be one of"):
        intrinsic_names(supported_by="grid")


def test_check_intrinsic_names_the_parameter_and_allowed_values():
    check_intrinsic("rnd", supported_by="molecules")
    with pytest.raises(ValueError, match=r"intrinsic must be one of \('rnd', 'none'\) for the molecule GFlowNet.*got 'count'"):
        check_intrinsic("count", supported_by="molecules")
    with pytest.raises(ValueError, match="intrinsic must be one of .*register_intrinsic.*got 'nope'"):
        check_intrinsic("nope", supported_by="gflownet")
    with pytest.raises(ValueError, match="bonus must be one of"):
        check_intrinsic(None, parameter="bonus")


def test_the_count_bonus_is_the_engines_formula_for_one_member():
    """``make_intrinsic("count")`` is a one-member view of the engine's StackedCounts: η/√max(N, 1)."""
    import torch

    from gafn_lib.core.ensemble.intrinsic import StackedCounts
    from gafn_lib.core.intrinsic import CountBonus, make_intrinsic
    from gafn_lib.envs import Hypergrid

    env = Hypergrid(height=5)
    bonus = make_intrinsic("count", env, 0.04)
    assert isinstance(bonus, CountBonus)
    stacked = StackedCounts(env.n_states, [0.04])
    visits = torch.tensor([0, 3, 3, 7, 24, 3])
    features = env.encode(env.coords(visits))
    assert float(bonus.update(features, visits)) == 0.0
    stacked.update(visits.unsqueeze(0), torch.ones_like(visits).unsqueeze(0))
    every_state = torch.arange(env.n_states)
    r = bonus.reward(env.encode(env.all_states()), every_state)
    assert torch.equal(r, stacked.reward(every_state.unsqueeze(0))[0])
    assert torch.equal(bonus.counts, torch.bincount(visits, minlength=env.n_states))
    assert float(r[3]) == pytest.approx(0.04 / 3**0.5) and float(r[1]) == pytest.approx(0.04)
    with pytest.raises(ValueError, match="canonical state indices"):
        bonus.reward(features)
    with pytest.raises(ValueError, match="enumerable"):
        make_intrinsic("count", object(), 0.01)


def test_registered_name_is_gflownet_only_and_offered_by_the_grid_cli():
    register_intrinsic("zero_test_registry", lambda env, eta: _Zero(), overwrite=True)
    assert "zero_test_registry" in intrinsic_names(supported_by="gflownet")
    assert INTRINSIC.supported_by("zero_test_registry") == frozenset({"gflownet"})
    for trainer in ("stacked", "molecules", "ppo"):
        assert "zero_test_registry" not in intrinsic_names(supported_by=trainer)
    from gafn_lib.cli import build_parser, grid_config_from_args

    args = build_parser().parse_args(["grid", "--intrinsic", "zero_test_registry"])
    assert grid_config_from_args(args).intrinsic == "zero_test_registry"


# ------------------------------------------------------------------------------------ methods
import hashlib  # noqa: E402
from pathlib import Path  # noqa: E402

from gafn_lib.registry import (  # noqa: E402
    DOMAINS,
    METHODS,
    method_algos,
    method_by_label,
    method_config,
    method_names,
    methods_of_algo,
)
from gafn_lib.runner import run_id  # noqa: E402

COMMITTED_PAPER_RUNS = Path(__file__).resolve().parents[1] / "data" / "runs" / "paper" / "gridworld" / "runs"


def _digest(ids):
    return hashlib.sha256(",".join(ids).encode()).hexdigest()[:16]


def test_every_method_builds_its_config_class_with_its_fields():
    for (domain, name), spec in METHODS.items():
        assert domain in DOMAINS and spec.name == name
        config = method_config(name, domain, seed=3)
        assert type(config) is spec.config_class() and config.seed == 3
        for field, value in spec.fields.items():
            assert getattr(config, field) == value, (domain, name, field)
        assert hasattr(config, spec.batch_field)
    assert method_names("grid") == ("gaflownet", "gflownet", "mcmc", "ppo", "ppo-rnd")
    assert method_names("molecules") == ("gaflownet", "gflownet", "ppo", "mars", "random")
    assert method_algos("grid") == ("gfn", "mcmc", "ppo", "ppo_rnd")
    assert method_algos("molecules") == ("gafn", "gfn", "ppo", "mars", "random")
    assert [s.name for s in methods_of_algo("gfn", "grid")] == ["gaflownet", "gflownet"]
    assert method_by_label("GFlowNet (TB)", "grid").name == "gflownet"
    assert method_config("gaflownet", "grid", objective="db").objective == "db"  # overrides win
    with pytest.raises(ValueError, match=r"method must be one of .*'mcmc'.*got 'sac'"):
        method_config("sac", "grid")
    with pytest.raises(ValueError, match=r"domain must be one of \('grid', 'molecules'\)"):
        method_config("gaflownet", "bits")


def test_the_experiments_layer_still_builds_every_committed_paper_run():
    """Every committed paper-profile GridWorld run is still one of the configs the repro layer
    builds, id for id: a refactor of how configs are built must not change a run id. Since issue 24
    the paper profile has more runs than the archive of the first sweep (117 runs, seeds 0-2): seeds
    0-9, count's η sweep in 03, the PPO tuning sweep in 01; and the archived runs are to be
    retrained with the current engine (docs/paper_profile.md), so the archive's size is not pinned."""
    from gafn_lib.repro import experiments as ex

    built = {run_id(c) for configs in ex.notebook_runs("paper").values() for c in configs}
    committed = {path.stem for path in COMMITTED_PAPER_RUNS.glob("*.json")}
    assert committed <= built


def test_notebook_gflownet_runs_sample_per_move_from_the_stated_height():
    from gafn_lib.repro import experiments as ex

    pairs = ex.notebook_labelled_runs("paper")["01"]
    per_move = {(label, c.height) for label, c in pairs if getattr(c, "sampling", None) == "per_move"}
    assert per_move == {(ex.GAFN, 128), (ex.TB, 128)}
    assert ex.PER_MOVE_FROM_HEIGHT == 128
    # a caller's own choice wins; the baselines have no such field
    assert ex.method_config(ex.GAFN, height=128, seed=0, n_steps=10, log_every=5, sampling="tables").sampling == "tables"
    assert ex.method_config(ex.TB, height=64, seed=0, n_steps=10, log_every=5).sampling == "auto"
    assert not hasattr(ex.method_config(ex.MCMC, height=128, seed=0, n_steps=10, log_every=5), "sampling")


def test_run_ids_of_every_profile_are_pinned():
    """Every run id the repro layer builds, in order, per profile (sha256 of the joined ids)."""
    from gafn_lib.repro import experiments as ex

    # Changed on purpose (issue 24): notebook 03 runs the count bonus at every η of RND's sweep (every
    # profile), the paper profile has seeds 0-9 and 01's PPO tuning sweep. Every earlier run id is
    # still built (test above; the quick and smoke ids of 01, 02, 04 and 05 are unchanged).
    # Changed on purpose again (issue 24): the paper profile's GFlowNet runs at H = 128 sample per
    # move (sampling="per_move", same draws, 1.54× faster in ensembles of 10); no H = 128 run of the
    # 10-seed sweep had started. Every other id is unchanged (the quick and smoke digests).
    expected = {"quick": "44e92b3fb30ffdc7", "paper": "19e241de1defbf90", "smoke": "6741a47f1e04d7c1"}
    for profile, digest in expected.items():
        runs = ex.notebook_runs(profile)
        assert _digest([run_id(c) for nb in ("01", "02", "03", "04", "05") for c in runs[nb]]) == digest, profile
    ppo_rnd = [run_id(ex.method_config(ex.PPO_RND, height=h, seed=0, n_steps=100, log_every=10)) for h in (8, 16, 64)]
    assert ppo_rnd == ["7dafcb55d990c162", "22b167025d91c5c1", "c4d725bd7f70d73c"]


def test_molecule_run_ids_are_pinned():
    pytest.importorskip("rdkit")
    from gafn_lib.repro import mol_experiments as mx

    # The long and paper digests changed on purpose (issue 23, item 6): both GFlowNets now run in the
    # public release's configuration (MOL_PRESETS["release"]), the long profile has 62,500 steps
    # (250,000 molecules, was 30,000) and 100 metric rows, the paper profile 100 rows (was 50).
    # The smoke ids are unchanged. The quick profile has 4 seeds since 2026-12-06 (3 cannot decide
    # under the rank rule): its digest changed, its seeds 0-2 kept their run ids (only seed 3 trained).
    # The long and paper profiles added the release GFlowNet without log_reg_c (2026-12-07): their
    # digests changed, and without its runs they are the earlier ones (no other run id moved).
    expected = {"quick": "bcfd84d7a7c6d0a4", "paper": "8e4cef876b9c9afb", "smoke": "603c0a6e80d9e2e6", "long": "ff9f533e943360f0"}
    before = {"paper": "a6c782023a12ae2e", "long": "e1cb172e10799f12"}
    for profile, digest in expected.items():
        runs = mx.notebook_runs(profile)
        assert _digest([run_id(c) for _, c in runs]) == digest, profile
        if profile in before:
            assert _digest([run_id(c) for label, c in runs if label != mx.GFN_RELEASE_NO_C]) == before[profile], profile
    assert _digest([run_id(c) for _, c in mx.long_runs()]) == "f04e6781bd2405d0"
    assert _digest([run_id(c) for label, c in mx.long_runs() if label != mx.GFN_RELEASE_NO_C]) == "e6b3877ff286480e"
    assert _digest([run_id(c) for _, c in mx.decisive_runs()]) == "34238b30a1c113ae"


@pytest.mark.parametrize("argv, expected", [
    ([], "f9e8a8a52726cdbc"),
    (["--augment", "none"], "e5086e563f5f5465"),
    (["--intrinsic", "count"], "2de5e05bef204864"),
    (["--objective", "db", "--eta", "0.01"], "ea47b3141340238f"),
    (["--height", "32", "--steps", "100", "--seed", "3", "--reward", "dense"], "39c1d7cb872080f2"),
    (["--algo", "mcmc", "--batch-size", "8"], "2316fe74d18127fb"),
    (["--algo", "mcmc", "--mcmc-floor", "0.01"], "6a6695c80cfe40af"),
    (["--algo", "ppo"], "fb391f5bf47c1a37"),
    (["--algo", "ppo", "--ppo-epochs", "2", "--ppo-clip", "0.1", "--ppo-entropy", "0.2"], "dd465c746ea96912"),
    (["--algo", "ppo_rnd", "--height", "16"], "1a43880e98be54aa"),
    (["--algo", "ppo_rnd", "--eta", "0.02", "--lr", "0.01"], "9985d63d8b57a3c6"),
])
def test_grid_cli_run_ids_are_pinned(argv, expected):
    from gafn_lib.cli import build_parser, grid_config_from_args

    assert run_id(grid_config_from_args(build_parser().parse_args(["grid", *argv]))) == expected


@pytest.mark.parametrize("argv, expected", [
    ([], "4898f8282a041906"),
    (["--algo", "gfn"], "e4fe563a8ead07c1"),
    (["--algo", "gafn", "--objective", "tb", "--augment", "edge", "--eta", "0.2"], "ca580d764df13a9f"),
    (["--algo", "ppo"], "cb158e4a6242edd7"),
    (["--algo", "ppo", "--ppo-epochs", "2"], "399e11b2d2f09793"),
    (["--algo", "mars", "--batch-size", "32"], "3d2b3ef03c2009e5"),
    (["--algo", "random"], "7eeb0fb66a13da9b"),
])
def test_molecule_cli_run_ids_are_pinned(argv, expected):
    pytest.importorskip("rdkit")
    from gafn_lib.molecules.cli import build_mol_parser, config_from_args

    assert run_id(config_from_args(build_mol_parser().parse_args(argv))) == expected


def test_grid_cli_rejects_options_its_method_does_not_use():
    from gafn_lib.cli import build_parser, grid_config_from_args

    parse = lambda *a: build_parser().parse_args(["grid", *a])  # noqa: E731
    with pytest.raises(ValueError, match="--mcmc-floor is not used by --algo ppo"):
        grid_config_from_args(parse("--algo", "ppo", "--mcmc-floor", "0.01"))
    with pytest.raises(ValueError, match="--ppo-clip is not used by --algo mcmc"):
        grid_config_from_args(parse("--algo", "mcmc", "--ppo-clip", "0.1"))
    with pytest.raises(ValueError, match="use --algo ppo_rnd"):
        grid_config_from_args(parse("--algo", "ppo", "--intrinsic", "rnd"))
    with pytest.raises(ValueError, match="use --algo ppo$"):
        grid_config_from_args(parse("--algo", "ppo_rnd", "--intrinsic", "none"))
    with pytest.raises(ValueError, match="--intrinsic and --eta are not used by --algo mcmc"):
        grid_config_from_args(parse("--algo", "mcmc", "--eta", "0.1"))
