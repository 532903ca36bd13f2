"""The molecule benchmark runs and reports steps and molecules per second for every method."""

from __future__ import annotations

import json

import pytest

from gafn_lib import bench_mols


def test_bench_mols_json_has_every_method(capsys):
    assert bench_mols.main(["--json", "--steps", "1", "--warmup", "0", "--n-proxy", "8", "--methods", "Random", "MARS"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(result["steps"]) == {"Random", "MARS"}
    for row in result["steps"].values():
        assert row["steps_per_second"] > 0 and row["molecules_per_second"] > 0 and row["cpu_steps_per_second"] > 0
    assert result["steps"]["Random"]["molecules_per_step"] == 4 and result["steps"]["MARS"]["molecules_per_step"] == 16
    assert result["proxy"]["molecules"] == 8


def test_bench_mols_rejects_bad_arguments():
    with pytest.raises(ValueError, match="steps"):
        bench_mols.benchmark_steps(["Random"], steps=0)
    with pytest.raises(ValueError, match="method"):
        bench_mols.make_trainer("SAC", None, None)


def test_bench_mols_release_preset_compares_node_sharing(capsys):
    args = ["--json", "--steps", "2", "--warmup", "0", "--n-proxy", "0", "--methods", "GFlowNet", "--preset", "release", "--compare-sharing", "--rounds", "2"]
    assert bench_mols.main(args) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["preset"] == "release" and set(result["sharing"]) == {"GFlowNet"}
    row = result["sharing"]["GFlowNet"]
    assert row["speedup_shared_nodes"] > 0 and len(row["speedup_per_round"]) == 2
    with pytest.raises(SystemExit):
        bench_mols.main(["--compare-sharing"])  # needs --preset release


def test_bench_mols_release_preset_compares_the_sampling_cache(capsys):
    args = ["--json", "--steps", "2", "--warmup", "0", "--n-proxy", "0", "--methods", "GFlowNet", "--preset", "release",
            "--compare-sampling-cache", "--rounds", "2"]
    assert bench_mols.main(args) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["sampling_cache"]["GFlowNet"]
    assert row["speedup_sampling_cache"] > 0 and len(row["speedup_per_round"]) == 2
    assert row["cpu_steps_per_second_with_cache"] > 0 and row["cpu_steps_per_second_without_cache"] > 0
    with pytest.raises(SystemExit):
        bench_mols.main(["--compare-sampling-cache"])  # needs --preset release
