"""objective_loss: the one dispatch by objective name equals the objective functions, and its
vocabulary check names the parameter and the allowed values."""

import pytest
import torch

from gafn_lib.core.augment import AUGMENT_MODES, augment
from gafn_lib.core.objectives import OBJECTIVES, check_objective, db_loss, fm_loss, objective_loss, subtb_loss, tb_loss
from test_objectives import random_batch


@pytest.mark.parametrize("mode", AUGMENT_MODES)
def test_dispatch_equals_each_objective_bitwise(mode):
    traj, fm, log_z = random_batch(5)
    aug, aug_fm = augment(traj, mode), augment(fm, mode)
    assert torch.equal(objective_loss("tb", aug, log_z), tb_loss(aug, log_z))
    assert torch.equal(objective_loss("db", aug, log_z), db_loss(aug, log_z))
    assert torch.equal(objective_loss("subtb", aug, log_z, subtb_lambda=0.7), subtb_loss(aug, log_z, 0.7))
    assert torch.equal(objective_loss("fm", aug_fm), fm_loss(aug_fm))
    assert torch.equal(objective_loss("fm", aug_fm, log_reg_c=1e-3, leaf_coef=10.0), fm_loss(aug_fm, log_reg_c=1e-3, leaf_coef=10.0))


def test_vocabulary_and_errors():
    assert OBJECTIVES == ("tb", "db", "subtb", "fm")
    for name in OBJECTIVES:
        check_objective(name)
    with pytest.raises(ValueError, match=r"objective must be one of \('tb', 'db', 'subtb', 'fm'\), got 'ppo'"):
        check_objective("ppo")
    with pytest.raises(ValueError, match="loss_name must be one of"):
        check_objective("x", parameter="loss_name")
    traj, fm, log_z = random_batch(0)
    aug, aug_fm = augment(traj, "none"), augment(fm, "none")
    with pytest.raises(ValueError, match="objective must be one of"):
        objective_loss("kl", aug, log_z)
    with pytest.raises(ValueError, match="needs log_z"):
        objective_loss("tb", aug)
    with pytest.raises(ValueError, match="no log Z"):
        objective_loss("fm", aug_fm, log_z)
    with pytest.raises(ValueError, match="FlowMatchingTerms"):
        objective_loss("fm", aug)
    with pytest.raises(ValueError, match="TrajectoryTerms"):
        objective_loss("db", aug_fm, log_z)
    with pytest.raises(ValueError, match="leaf_coef"):
        objective_loss("tb", aug, log_z, leaf_coef=10.0)
