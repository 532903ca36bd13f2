"""The side-by-side benchmark against the public release, with a stand-in for the release's script
(the project does not ship the release): loading, argument checks and the printed row."""

from __future__ import annotations

import json
import textwrap

import pytest

from gafn_lib import bench_release

FAKE_RELEASE = textwrap.dedent('''
    import argparse
    import torch

    parser = argparse.ArgumentParser()
    for name, default, kind in [("--device", "cuda", str), ("--horizon", 8, int), ("--augmented", 0, int),
                                ("--seed", 0, int), ("--mbsize", 16, int), ("--tb_lr", 1e-3, float),
                                ("--tb_z_lr", 0.1, float), ("--ri_eta", 1e-3, float)]:
        parser.add_argument(name, default=default, type=kind)
    _dev = [None]

    def set_device(dev):
        _dev[0] = dev

    def func_corners(x, horizon, kind=None):
        return 1

    class GridEnv:
        def __init__(self, horizon, ndim=2, func=None):
            assert args.ndim if hasattr(args, "ndim") else True
            self.horizon = horizon

    class TBFlowNetAgent:
        def __init__(self, args, envs):
            self.w = torch.zeros(3, requires_grad=True)
            self.Z = torch.zeros(1, requires_grad=True)
            self.calls = 0

        def parameters(self):
            return [self.w]

        def sample_many(self, mbsize, all_visited):
            self.calls += 1
            return [None, None, None, [4] * mbsize, None, None]  # 4 states: 3 moves

        def learn_from(self, it, batch):
            return (self.w.sum() - 1.0) ** 2 + self.Z.sum() ** 2
''')


def test_side_by_side_row_with_a_stand_in_release(tmp_path, capsys):
    script = tmp_path / "toy_grid_dag.py"
    script.write_text(FAKE_RELEASE)
    assert bench_release.main([str(script), "--heights", "8", "--warmup", "1", "--steps", "2", "--reps", "2", "--json"]) == 0
    row = json.loads(capsys.readouterr().out.strip())
    assert row["height"] == 8 and row["release_mean_length"] == 3.0 and row["ours_mean_length"] > 0
    assert row["ratio_min"] == pytest.approx(row["release_ms_per_step_min"] / row["ours_ms_per_step_min"], rel=0.05)


def test_refuses_a_missing_or_foreign_script_and_bad_heights(tmp_path, capsys):
    with pytest.raises(SystemExit):
        bench_release.main([str(tmp_path / "nowhere.py")])
    assert "no release script" in capsys.readouterr().err
    other = tmp_path / "other.py"
    other.write_text("x = 1\n")
    with pytest.raises(SystemExit):
        bench_release.main([str(other), "--heights", "8"])
    assert "not the release's" in capsys.readouterr().err
    script = tmp_path / "toy_grid_dag.py"
    script.write_text(FAKE_RELEASE)
    with pytest.raises(SystemExit):
        bench_release.main([str(script), "--heights", "12", "--warmup", "0", "--steps", "1", "--reps", "1"])
    assert "ri_eta_map" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench_release.main([str(script), "--heights", "eight"])
