"""Training core end to end: exact flows give zero loss, seeded runs, resume, bad configs."""

import math

import pytest
import torch

from gafn_lib.grid.config import GridTrainConfig
from gafn_lib.core.exact import exact_flows
from gafn_lib.core.objectives import OBJECTIVES
from gafn_lib.core.policies import TabularPolicy
from gafn_lib.core.trainer import GridTrainer

TINY = dict(hidden=32, log_every=10)


def trainer_with_exact_policy(objective, termination, perturb=0.0):
    cfg = GridTrainConfig(ndim=2, height=5, reward="dense", termination=termination, objective=objective,
                          augment="none", batch_size=64, seed=0)
    trainer = GridTrainer(cfg)
    flows = exact_flows(trainer.env)
    logits_pf = flows.log_edge_flow if objective == "fm" else flows.log_pf
    logits_pf = logits_pf.nan_to_num(neginf=-1e9).clone()
    if perturb:
        logits_pf = logits_pf + perturb * torch.randn(logits_pf.shape, generator=torch.Generator().manual_seed(1), dtype=logits_pf.dtype)
    trainer.policy = TabularPolicy(trainer.env, logits_pf, flows.log_pb.nan_to_num(neginf=-1e9), flows.log_flow.nan_to_num(neginf=0.0))
    with torch.no_grad():
        trainer.log_z.fill_(flows.log_z)
    return trainer


@pytest.mark.parametrize("termination", ["edge", "exit"])
@pytest.mark.parametrize("objective", OBJECTIVES)
def test_exact_flows_have_zero_loss_and_perturbed_do_not(objective, termination):
    torch.manual_seed(0)
    trainer = trainer_with_exact_policy(objective, termination)
    loss, _ = trainer.loss(trainer.sample())
    assert float(loss.detach()) < 1e-8
    perturbed = trainer_with_exact_policy(objective, termination, perturb=0.5)
    loss, _ = perturbed.loss(perturbed.sample())
    assert float(loss.detach()) > 1e-3


@pytest.mark.parametrize("termination", ["edge", "exit"])
def test_exact_policy_has_exact_distribution(termination):
    trainer = trainer_with_exact_policy("tb", termination)
    row = trainer.evaluate()
    assert row["l1_sum_exact"] < 1e-6
    assert row["modes_covered"] == row["n_modes"]


def test_gafn_finds_all_three_modes_on_sparse_h8_and_is_deterministic():
    cfg = GridTrainConfig(height=8, objective="tb", augment="joint", intrinsic="rnd", n_steps=300, log_every=100, seed=0)
    first = GridTrainer(cfg).train(progress=False)
    second = GridTrainer(cfg).train(progress=False)
    assert first.final["modes_found"] == 3
    strip = lambda rows: [{k: v for k, v in r.items() if k != "wall_seconds"} for r in rows]
    assert strip(first.rows) == strip(second.rows)


@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("augment, intrinsic", [("none", "none"), ("joint", "rnd"), ("node", "count"), ("edge", "rnd")])
def test_every_combination_trains_and_logs(objective, augment, intrinsic):
    cfg = GridTrainConfig(height=6, objective=objective, augment=augment, intrinsic=intrinsic, n_steps=20, **TINY)
    history = GridTrainer(cfg).train(progress=False)
    assert [r["step"] for r in history.rows] == [10, 20]
    final = history.final
    for key in ("modes_found", "modes_covered", "n_modes", "l1_mean_visited", "l1_sum_exact", "l1_mean_exact", "log_z", "trajectories", "wall_seconds", "loss"):
        assert key in final and final[key] is not None
    assert math.isfinite(final["loss"]) and final["trajectories"] == 20 * 16


def test_resume_from_state_dict_is_bit_for_bit():
    cfg = GridTrainConfig(height=8, n_steps=40, seed=3, **TINY)
    straight = GridTrainer(cfg).train(progress=False)
    first = GridTrainer(cfg)
    first.train(n_steps=20, progress=False)
    state = first.state_dict()
    import io

    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    resumed = GridTrainer(cfg)
    resumed.load_state_dict(torch.load(buf, weights_only=True))
    torch.manual_seed(12345)  # the resumed run must not depend on the global RNG at load time
    resumed.load_state_dict(torch.load(io.BytesIO(buf.getvalue()), weights_only=True))
    history = resumed.train(progress=False)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "wall_seconds"} for r in rows]
    assert strip(history.rows) == strip(straight.rows)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"objective": "xyz"}, "objective"),
        ({"augment": "both"}, "augment"),
        ({"eta": -0.1}, "eta"),
        ({"batch_size": 0}, "batch_size"),
        ({"n_steps": 0}, "n_steps"),
        ({"lr": 0.0}, "lr"),
        ({"epsilon": 1.5}, "epsilon"),
        ({"intrinsic": "curiosity"}, "intrinsic"),
        ({"augment": "joint", "intrinsic": "none"}, "augment"),
        ({"augment": "none", "intrinsic": "rnd"}, "intrinsic"),
        ({"height": 2}, "height"),
        ({"subtb_lambda": 0.0}, "subtb_lambda"),
    ],
)
def test_bad_config_fails_at_once(kwargs, field):
    with pytest.raises(ValueError, match=field):
        GridTrainConfig(**kwargs)


def test_paper_eta_by_height():
    assert GridTrainConfig(height=32).eta == 0.001
    assert GridTrainConfig(height=64).eta == 0.005
    assert GridTrainConfig(augment="none").intrinsic == "none"
