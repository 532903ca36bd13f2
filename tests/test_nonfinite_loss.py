"""Training stops on a NaN or infinite loss, naming the step and the run (issue 22): the logged loop
every trainer uses checks each step's losses instead of training on silently."""

import math

import pytest

import gafn_lib.core.ensemble.trainer as ensemble_trainer
from gafn_lib.core.config import TrainConfig
from gafn_lib.core.ensemble import EnsembleTrainer
from gafn_lib.core.loop import CHECKED_LOSSES, NonFiniteLossError, check_step_losses
from gafn_lib.core.trainer import GFlowNetTrainer
from gafn_lib.grid.config import GridTrainConfig

from test_protocol_checks import NaNBeforeCompletion


def small(**kwargs):
    return GridTrainConfig(height=8, n_steps=30, log_every=10, hidden=16, **kwargs)


def poison(trainer, at_step, key="loss", value=math.nan, member=None):
    """Make ``trainer.step()`` report ``value`` for ``key`` at step ``at_step`` (the real step runs)."""
    real_step = trainer.step

    def step():
        infos = real_step()
        if trainer.step_count == at_step:
            if member is None:
                infos = {**infos, key: value}
            else:
                infos = [dict(info) for info in infos]
                infos[member][key] = value
        return infos

    trainer.step = step


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_solo_run_stops_at_the_step_whose_loss_is_not_finite(value):
    trainer = GFlowNetTrainer(small())
    poison(trainer, at_step=17, value=value)
    with pytest.raises(FloatingPointError, match=rf"non-finite loss \({value}\) at step 17 of run tb/joint/rnd H=8 seed=0: loss={value}, intrinsic_loss="):
        trainer.train(progress=False)
    assert trainer.step_count == 17
    assert [row["step"] for row in trainer.history.rows] == [10]  # the rows logged before the fault


def test_the_intrinsic_loss_is_checked_too():
    trainer = GFlowNetTrainer(small(objective="db"))
    poison(trainer, at_step=3, key="intrinsic_loss")
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss \(nan\) at step 3 of run db/joint/rnd H=8 seed=0"):
        trainer.train(progress=False)


def test_an_ensemble_names_the_member_its_seed_and_objective():
    configs = [small(seed=s, objective=o) for s, o in ((0, "tb"), (1, "db"), (2, "tb"))]
    trainer = EnsembleTrainer(configs)
    poison(trainer, at_step=5, member=1)
    with pytest.raises(NonFiniteLossError) as caught:
        trainer.train(progress=False)
    message = str(caught.value)
    assert message.startswith("non-finite loss (nan) at step 5 of run ensemble of 3 H=8, member 1 (seed=1, objective='db'")
    assert all(h.rows == [] for h in trainer.histories)


def test_the_check_reads_the_infos_as_trainers_return_them():
    class Run:
        step_count = 4
        configs = [TrainConfig(seed=7, objective="fm", augment="none")]

        def describe(self):
            return "my run"

    check_step_losses(Run(), {"loss": 1.0, "intrinsic_loss": 0.0, "proposal_loss": math.nan})  # other keys: not losses we check
    check_step_losses(Run(), [{"loss": 2.0}])
    check_step_losses(Run(), {"acceptance_rate": 0.5})  # trainers without a loss (MCMC)
    with pytest.raises(NonFiniteLossError, match=r"at step 4 of run my run, member 0 \(seed=7, objective='fm', augment='none'"):
        check_step_losses(Run(), [{"loss": math.nan}])
    assert CHECKED_LOSSES == ("loss", "intrinsic_loss")


def test_an_environment_whose_reward_escapes_the_checker_fails_loudly(monkeypatch):
    """Bypass check_environment (as if the NaN sat on states its probe walks never meet): the run
    stops at the first step that samples such a state as an object, instead of logging loss: nan."""
    monkeypatch.setattr(ensemble_trainer, "check_environment", lambda env: None)
    trainer = GFlowNetTrainer(TrainConfig(objective="tb", augment="none", n_steps=20, log_every=10, hidden=16), env=NaNBeforeCompletion())
    with pytest.raises(FloatingPointError, match=r"non-finite loss \(nan\) at step 1 of run tb/none/none subsets seed=0"):
        trainer.train(progress=False)
