"""The cross-profile claims report (``python -m gafn_lib.repro.report``)."""

from __future__ import annotations

import pandas as pd
import pytest

from gafn_lib.repro import report
from gafn_lib.repro.claims import claims_table, compare

L1_CLAIM = "GAFlowNet reaches a lower L1 error than GFlowNet (TB)"
ABLATION = "Joint augmentation has a lower final L1 than edge"


def _l1(scope: str, a, b, **kw):
    return compare(L1_CLAIM, a, b, metric="l1_mean_visited", better="lower", label_a="GAFlowNet", label_b="TB", scope=scope, **kw)


def _write(folder, notebook: str, results, full: bool = True) -> None:
    out = folder / notebook
    out.mkdir(parents=True, exist_ok=True)
    claims_table(results, full=full).to_csv(out / ("claims_full.csv" if full else "claims.csv"), index=False)


@pytest.fixture
def results_root(tmp_path):
    root = tmp_path / "results"
    # 4 seeds per group: the fewest at which the claims rule can decide
    # quick: the L1 claim at H=8 (clear win) and H=16 (overlap); an ablation at H=16 (clear loss)
    _write(root, "01_gridworld_comparison", [
        _l1("H=8", [0.01, 0.012, 0.011, 0.0105], [0.05, 0.052, 0.049, 0.051]),
        _l1("H=16", [0.01, 0.03, 0.02, 0.015], [0.02, 0.01, 0.03, 0.025]),
    ])
    _write(root, "03_ablations", [
        compare(ABLATION, [0.5, 0.52, 0.51, 0.53], [0.1, 0.11, 0.12, 0.13], metric="l1_mean_exact", better="lower",
                label_a="joint", label_b="edge", scope="H=16"),
    ])
    # paper: the L1 claim at H=8 and H=64 (against a stuck baseline); the ablation at H=32
    paper = root / "paper"
    _write(paper, "01_gridworld_comparison", [
        _l1("H=8", [0.01, 0.011, 0.012, 0.0108], [0.01, 0.0105, 0.0115, 0.011]),
        _l1("H=64", [0.001, 0.0012, 0.0011, 0.0013], [0.002, 0.002, 0.002, 0.002], worst=0.002),
    ])
    _write(paper, "03_ablations", [
        compare(ABLATION, [0.1, 0.11, 0.12, 0.13], [0.5, 0.52, 0.51, 0.53], metric="l1_mean_exact", better="lower",
                label_a="joint", label_b="edge", scope="H=32"),
    ])
    return root


def test_rows_meet_by_grid_size_and_by_scale(results_root):
    claims = report.load_claims(results_root)
    assert set(claims["profile"]) == {"quick", "paper"}
    matrix = report.verdict_matrix(claims).set_index(["notebook", "size"])
    assert list(matrix.columns[-2:]) == ["quick", "paper"]  # profile order of PROFILES, only those present
    l1 = matrix.loc["01_gridworld_comparison"]
    # H is the key where one profile states the claim at several sizes: H=8 meets H=8, H=16 and H=64 stand alone
    assert sorted(l1.index) == ["H=16", "H=64", "H=8"]
    assert l1.loc["H=8", "quick"].startswith("supported:") and l1.loc["H=8", "paper"].startswith("inconclusive:")
    assert l1.loc["H=16", "paper"] == "" and l1.loc["H=64", "quick"] == ""
    assert "(stuck baseline)" in l1.loc["H=64", "paper"]
    # one scope per profile: the scale of that profile; the rows meet and each cell names its scale
    ablation = matrix.loc[("03_ablations", "")]
    assert ablation["quick"].startswith("contradicted:") and ablation["quick"].endswith("(H=16)")
    assert ablation["paper"].startswith("supported:") and ablation["paper"].endswith("(H=32)")


def test_cell_reports_interval_and_seeds(results_root):
    claims = report.load_claims(results_root, profiles=["quick"])
    row = claims[(claims["notebook"] == "01_gridworld_comparison") & (claims["scope"] == "H=8")].iloc[0]
    text = report.cell(row, show_scope=False)
    # the Hodges–Lehmann shift (median pairwise difference), the estimate its interval belongs to
    assert text == f"supported: {row['shift']:.2g} [{row['ci_low']:.2g}, {row['ci_high']:.2g}], n=4/4"
    old = row.drop("shift")  # a table written before the shift column: the difference of means
    assert report.cell(old, show_scope=False).startswith(f"supported: {row['mean_a'] - row['mean_b']:.2g} [")


def test_saturated_and_single_seed_cells(tmp_path):
    root = tmp_path / "results"
    _write(root, "00_quickstart", [
        compare("finds more modes", [3, 3, 3], [3, 3, 3], metric="modes_found", better="higher", bounds=(0, 3)),
        compare("lower L1", [0.1], [0.2], metric="l1_mean_visited", better="lower"),
    ])
    cells = report.verdict_matrix(report.load_claims(root))["quick"].tolist()
    assert cells[0].startswith("inconclusive:") and cells[0].endswith("(saturated)")
    assert cells[1] == "inconclusive: -0.1 [no interval], n=1/1"


def test_markdown_has_one_table_per_notebook_with_its_profiles(results_root):
    text = report.to_markdown(report.verdict_matrix(report.load_claims(results_root)))
    assert text.count("### ") == 2
    assert "| claim | A vs B | metric | quick | paper |" in text
    assert "| l1_mean_visited, H=64 | — | supported: " in text  # no quick run at H=64


def test_display_only_table_is_a_clear_error(tmp_path):
    root = tmp_path / "results"
    _write(root, "01_gridworld_comparison", [_l1("H=8", [0.1, 0.2], [0.3, 0.4])], full=False)
    with pytest.raises(ValueError, match=r"claims\.csv: claims table lacks column\(s\) label_a"):
        report.load_claims(root)


def test_no_tables_gives_an_empty_report(tmp_path):
    claims = report.load_claims(tmp_path)
    assert claims.empty
    assert report.to_markdown(report.verdict_matrix(claims)) == "no claims tables found\n"


def test_cli_prints_tables_and_counts_and_validates(results_root, tmp_path, capsys):
    out_csv = tmp_path / "matrix.csv"
    assert report.main(["--results-dir", str(results_root), "--only", "03", "--csv", str(out_csv)]) == 0
    printed = capsys.readouterr().out
    assert "### 03_ablations" in printed and "01_gridworld" not in printed
    assert "verdicts per profile" in printed
    assert len(pd.read_csv(out_csv)) == 1
    with pytest.raises(SystemExit):
        report.main(["--results-dir", str(results_root), "--profiles", "fast"])
    assert "--profiles takes names from quick, paper, long" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        report.main(["--results-dir", str(tmp_path / "missing")])
    assert "is not a folder" in capsys.readouterr().err


def test_summary_document_and_file(results_root, tmp_path):
    text = report.summary_markdown(report.load_claims(results_root))
    assert text.startswith("# Every claim's verdict, by profile")
    assert "### 01_gridworld_comparison" in text and "## Verdicts per profile (claim rows)" in text
    assert "| quick | 1 | 1 | 1 |" in text  # quick: one contradicted, one inconclusive, one supported row
    written = report.write_summary(results_root)
    assert written == results_root / report.SUMMARY_FILE and written.read_text() == text
    assert report.write_summary(tmp_path / "empty") is None and not (tmp_path / "empty" / report.SUMMARY_FILE).exists()
    out = tmp_path / "all.md"
    assert report.main(["--results-dir", str(results_root), "--markdown", str(out)]) == 0
    assert out.read_text() == text
