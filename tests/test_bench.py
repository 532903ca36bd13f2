"""The GridWorld benchmark's side-by-side comparison of the two sampling paths: its row, its use of
the ``sampling`` field, and its argument checks (timings are printed by the benchmark, never
asserted here)."""

from __future__ import annotations

import pytest

from gafn_lib import bench


class _Queue:
    def __init__(self):
        self.items = []

    def put(self, item):
        self.items.append(item)


def test_compare_sampling_row_names_both_paths_and_whether_they_agree():
    queue = _Queue()
    bench._measure_sampling(2, 40, 3, 2, 2, queue)  # H = 40: "auto" samples from tables (1,600 states)
    (row,) = queue.items
    assert row["auto_mode"] == "sampling-table"
    assert row["K"] == 2 and row["height"] == 40 and row["steps_measured"] == 3
    assert row["auto_ms_per_step"] > 0 and row["per_move_ms_per_step"] > 0
    assert row["per_move_speedup"] == pytest.approx(row["auto_ms_per_step"] / row["per_move_ms_per_step"], rel=0.05)
    assert isinstance(row["same_numbers"], bool)


def test_compare_sampling_argument_checks(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--compare-sampling"])
    assert "--compare-sampling needs --ensemble" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--compare-sampling", "--ensemble", "2", "--method", "ppo"])
    assert "--compare-sampling needs --ensemble" in capsys.readouterr().err
