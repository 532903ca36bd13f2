"""The release GFlowNet's collapse probe (gafn_lib.repro.molecules.probe): rows, verdicts, the CLI."""

from __future__ import annotations

import pandas as pd
import pytest

from gafn_lib.repro.molecules import probe


def test_collapse_probe_rows_and_cli(tmp_path, capsys, monkeypatch):
    variants = {"release": {}, "log_reg_c 0": {"log_reg_c": 0.0}}
    table = probe.collapse_probe(variants, n_steps=4, seeds=[0], progress=False)
    assert list(table["variant"]) == ["release", "log_reg_c 0"]
    assert list(table["log_reg_c"]) == [2.5e-5, 0.0] and list(table["leaf_coef"]) == [10.0, 10.0]
    assert (table["molecules"] == 16).all() and table["unique_fraction"].between(0, 1).all()
    assert (table["collapsed"] == (table["blocks_last_quarter"] < probe.COLLAPSED_BELOW_BLOCKS)).all()
    assert table["blocks_first_quarter"].between(0, 8).all()

    out = tmp_path / "probe.csv"
    monkeypatch.setattr(probe, "COLLAPSE_PROBES", variants)
    assert probe.main(["collapse", "--steps", "4", "--seeds", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "release: collapsed in 0 of 1 seeds" in printed or "release: collapsed in 1 of 1 seeds" in printed
    written = pd.read_csv(out)
    assert written["seed"].tolist() == [1, 1]

    summary = probe.collapse_summary(pd.concat([table, written])).set_index("variant")
    assert list(summary.index) == ["release", "log_reg_c 0"] and summary.loc["release", "seeds"] == "0, 1"
    n_collapsed = int(table["collapsed"].iloc[0]) + int(written["collapsed"].iloc[0])
    assert summary.loc["release", "collapsed"] == f"{n_collapsed} of 2"
    with pytest.raises(ValueError, match="empty"):
        probe.collapse_summary(table.iloc[:0])
    assert probe.read_collapse_probe(tmp_path) is None
    (tmp_path / "long" / "06_molecule_generation").mkdir(parents=True)
    written.to_csv(tmp_path / "long" / "06_molecule_generation" / probe.COLLAPSE_TABLE, index=False)
    pd.testing.assert_frame_equal(probe.read_collapse_probe(tmp_path), written)


def test_collapse_probe_rejects_bad_input():
    with pytest.raises(ValueError, match="n_steps"):
        probe.collapse_probe(n_steps=2)
    with pytest.raises(ValueError, match="seeds"):
        probe.collapse_probe(n_steps=4, seeds=[])
    with pytest.raises(SystemExit):
        probe.main(["collapse", "--steps", "1"])
