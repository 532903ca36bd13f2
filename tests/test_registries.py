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


def test_registered_name_is_gflownet_only_and_offered_by_the_grid_cli():
    register_intrinsic("zero_test_registry", lambda env, eta: _Zero(), overwrite=True)
    assert "zero_test_registry" in intrinsic_names(supported_by="gflownet")
    assert INTRINSIC.supported_by("zero_test_registry") == frozenset({"gflownet"})
    for trainer in ("stacked", "molecules", "ppo"):
        assert "zero_test_registry" not in intrinsic_names(supported_by=trainer)
    from gafn_lib.cli import build_parser, grid_config_from_args

    args = build_parser().parse_args(["grid", "--intrinsic", "zero_test_registry"])
    assert grid_config_from_args(args).intrinsic == "zero_test_registry"
