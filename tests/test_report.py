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


# ------------------------------------------------------------------------ the results page (docs/results.md)
import json  # noqa: E402
import re  # noqa: E402

from gafn_lib.repro import claims as cl  # noqa: E402

GRID_TITLE = "01 · GridWorld: GAFlowNet vs GFlowNet (TB), MCMC and PPO"


def _quick_grid_results() -> list:
    """Notebook 01 at quick: a clear win, a twin claim on the same runs (marked), a shared run, an overlap."""
    a, b = [0.01, 0.012, 0.011, 0.0105], [0.05, 0.052, 0.049, 0.051]
    win = _l1("H=8", a, b, shared_with="notebook 03")
    twin = compare("TB ends with a larger error than GAFlowNet", a, b, metric="l1_mean_visited", better="lower",
                   label_a="GAFlowNet", label_b="TB", scope="H=8", shared_with="notebook 03")
    overlap = _l1("H=16", [0.01, 0.03, 0.02, 0.015], [0.02, 0.01, 0.03, 0.025])
    modes = compare("GAFlowNet finds more modes than TB", [3, 3, 3, 3], [1, 1, 1, 2], metric="modes_found", better="higher",
                    label_a="GAFlowNet", label_b="TB", scope="H=8")
    return cl.mark_duplicates([win, twin, overlap, modes])


@pytest.fixture
def project(tmp_path):
    """A project root in a tmp dir: notebooks, claims tables of quick and paper (none of long), a notebook
    with tables but no claims, figures, and a curves table with logged wall times."""
    root = tmp_path / "project"
    (root / "notebooks").mkdir(parents=True)
    for name, heading in (("01_gridworld_comparison", GRID_TITLE), ("07_extending", "07 · Extending")):
        cells = [{"cell_type": "markdown", "metadata": {}, "source": [f"# {heading}\n", "\n", "text"]}]
        (root / "notebooks" / f"{name}.ipynb").write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    results = root / "data" / "results"
    _write(results, "01_gridworld_comparison", _quick_grid_results())
    _write(results / "paper", "01_gridworld_comparison", [
        _l1("H=8", [0.01, 0.011, 0.012, 0.0108], [0.01, 0.0105, 0.0115, 0.011]),
        _l1("H=64", [0.001, 0.0012, 0.0011, 0.0013], [0.002, 0.002, 0.002, 0.002], worst=0.002),
    ])
    pd.DataFrame({"run": ["r1", "r1", "r2", "r2", "r3"], "step": [1, 2, 1, 2, 2], "n_steps": [2] * 5,
                  "wall_seconds": [10.0, 60.0, 5.0, 120.0, 3600.0]}).to_csv(results / "01_gridworld_comparison" / "curves.csv", index=False)
    (results / "07_extending").mkdir()
    pd.DataFrame({"objective": ["tb"], "l1": [0.1]}).to_csv(results / "07_extending" / "bit_strings.csv", index=False)
    for folder in (root / "figures", root / "figures" / "paper"):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "gridworld_comparison_l1_modes.png").write_bytes(b"\x89PNG")
    (root / "figures" / "extending_bit_strings.png").write_bytes(b"\x89PNG")
    (root / "figures" / "unrelated_plot.png").write_bytes(b"\x89PNG")
    return root


def _section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def test_results_page_has_a_section_per_notebook_with_claims_counts_and_figures(project):
    out = project / "docs" / "results.md"
    text = report.results_markdown(project, out)
    assert text.startswith("# Results") and "make results" in text
    grid = _section(text, GRID_TITLE)
    assert "**The paper's claim.**" in grid and "**What the notebook tests.**" in grid
    # one row per claim (claim, groups, metric, grid size) across profiles; the twin claim keeps its row, marked
    rows = [line for line in grid.splitlines() if line.startswith("| ") and " vs " in line and ("supported" in line or "inconclusive" in line)]
    keys = [tuple(c.strip() for c in line.split(" | ")[:3]) for line in rows]
    assert len(keys) == len(set(keys)) == 5  # H=8 L1, the twin, H=16 L1, modes (quick); H=64 L1 (paper)
    twin = next(line for line in rows if line.startswith("| TB ends with a larger error"))
    assert f"duplicate of {L1_CLAIM} (GAFlowNet vs TB)" in twin and "shared with notebook 03" in twin
    h64 = next(line for line in rows if "H=64" in line)
    assert h64.split(" | ")[3] == "—" and "(stuck baseline)" in h64  # no quick run at H=64
    # distinct comparisons per profile: the library's count on the same results
    counts = cl.verdict_counts(_quick_grid_results(), distinct=True)
    quick_counts = f"{counts['supported']} / {counts['contradicted']} / {counts['inconclusive']}"
    assert quick_counts == "2 / 0 / 1"
    assert re.search(rf"^\| quick \| \[claims_full\.csv\]\(\.\./data/results/01_gridworld_comparison/claims_full\.csv\) \(4 rows\) \| H=8, H=16 \| .* \| {quick_counts} \|$", grid, flags=re.M)
    assert f"| long | {report.NOT_RUN} |" in grid
    # figures inline, per profile that has them, linked relative to docs/ and existing; nothing unrelated
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", grid)
    assert links == ["../figures/gridworld_comparison_l1_modes.png", "../figures/paper/gridworld_comparison_l1_modes.png"]
    assert all((out.parent / link).resolve().is_file() for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text))
    assert "unrelated_plot" not in text
    # a notebook with tables but no claims, and the summary table with its all-notebook row
    extending = _section(text, "07 · Extending")
    assert "no claims table (tables: [bit_strings.csv](../data/results/07_extending/bit_strings.csv))" in extending
    assert "extending_bit_strings.png" in extending and f"| paper | {report.NOT_RUN} |" in extending
    anchor = "01--gridworld-gaflownet-vs-gflownet-tb-mcmc-and-ppo"  # GitHub's anchor of the section heading
    assert report.heading_anchor(GRID_TITLE) == anchor
    assert f"| [{GRID_TITLE}](#{anchor}) | {quick_counts} | 1 / 0 / 1 | {report.NOT_RUN} |" in text
    assert "| [07 · Extending](#07--extending) | no claims (tables only) |" in text
    # compute: each run's last logged wall time, summed (60 + 120 + 3600 s)
    assert "| quick | " + GRID_TITLE + " | 3 | 2 | 1 h 03 min |" in text


def test_results_page_shows_the_seed_by_seed_tables_of_each_profile(project):
    results = project / "data" / "results"
    quick, long = results / "06_molecule_generation", results / "long" / "06_molecule_generation"
    for folder in (quick, long):
        folder.mkdir(parents=True)
    pd.DataFrame({"method": ["GAFlowNet", "PPO"], "seeds": ["0, 1, 2", "0, 1, 2"], "hit_rate": ["x", "y"],
                  "z": ["+10.9; +15.5; +8.4", "+1.0; +2.0; +3.0"], "verdict": ["beats random", "inconclusive"]}).to_csv(long / "hit_rate_vs_random.csv", index=False)
    pd.DataFrame({"method": ["GAFlowNet"] * 2, "reference": ["GFlowNet", "GFlowNet (release, log_reg_c 0)"], "seeds": ["0, 1, 2"] * 2,
                  "z": ["+14.5; +19.1; -6.9", "-2.0; -135.4; -61.8"], "verdict": ["inconclusive", "worse than GFlowNet"]}).to_csv(long / "hit_rate_gafn_vs_gfn.csv", index=False)
    # a table written before the reference column existed (one GFlowNet), and one that cannot be read as seed by seed
    pd.DataFrame({"method": ["GAFlowNet"], "seeds": ["0, 1"], "z": ["-2.6; -0.1"], "verdict": ["inconclusive"]}).to_csv(quick / "hit_rate_gafn_vs_gfn.csv", index=False)
    pd.DataFrame({"method": ["GAFlowNet"], "seeds": ["0"]}).to_csv(quick / "hit_rate_vs_random.csv", index=False)
    text = report.results_markdown(project, project / "docs" / "results.md")
    section = _section(text, "06_molecule_generation")
    seedwise = section[section.index("**Seed by seed**"):]
    rows = [line for line in seedwise.splitlines() if line.startswith("| quick |") or line.startswith("| long |")]
    assert rows == [
        "| quick | [hit_rate_vs_random.csv](../data/results/06_molecule_generation/hit_rate_vs_random.csv): lacks the columns z, verdict | | | | |",
        "| quick | GAFlowNet | GFlowNet | 0, 1 | -2.6; -0.1 | inconclusive |",
        "| long | GAFlowNet | Random | 0, 1, 2 | +10.9; +15.5; +8.4 | beats random |",
        "| long | PPO | Random | 0, 1, 2 | +1.0; +2.0; +3.0 | inconclusive |",
        "| long | GAFlowNet | GFlowNet | 0, 1, 2 | +14.5; +19.1; -6.9 | inconclusive |",
        "| long | GAFlowNet | GFlowNet (release, log_reg_c 0) | 0, 1, 2 | -2.0; -135.4; -61.8 | worse than GFlowNet |",
    ]
    assert "**Seed by seed**" in section and "**Seed by seed**" not in _section(text, GRID_TITLE)  # only where the tables are


def test_results_page_reads_older_tables_and_marks_their_repeats(tmp_path):
    root = tmp_path / "project"
    folder = root / "data" / "results" / "01_gridworld_comparison"
    folder.mkdir(parents=True)
    old = cl.claims_table(_quick_grid_results(), full=True).drop(columns=["shift", "duplicate_of", "test", "test_name", "kind", "margin"])
    old.to_csv(folder / "claims_full.csv", index=False)
    text = report.results_markdown(root, root / "docs" / "results.md")
    # found from the groups and per-seed values, and said so (the table does not call it a duplicate)
    assert f"same groups and per-seed values as {L1_CLAIM} (GAFlowNet vs TB)" in text and "duplicate of" not in text.split("## Summary")[1]
    assert "| [01_gridworld_comparison](#01_gridworld_comparison) | 2 / 0 / 1 |" in text
    table = report.read_claims_table(folder / "claims_full.csv")
    assert report.distinct_mask(table).tolist() == [True, False, True, True]


def test_an_unreadable_table_is_named_not_raised(tmp_path):
    root = tmp_path / "project"
    _write(root / "data" / "results", "01_gridworld_comparison", [_l1("H=8", [0.1, 0.2], [0.3, 0.4])], full=False)
    text = report.results_markdown(root, root / "docs" / "results.md")
    assert "claims table unreadable" in text and "lacks column(s) label_a" in text


def test_write_results_and_readme_block(project, capsys):
    readme = project / "README.md"
    readme.write_text(f"# title\n\nbefore\n\n{report.README_BEGIN}\nold table\n{report.README_END}\n\nafter\n")
    out = project / "docs" / "results.md"
    assert report.main(["--results-md", str(out), "--root", str(project), "--readme", str(readme)]) == 0
    assert f"results page: {out}" in capsys.readouterr().out
    assert out.read_text() == report.results_markdown(project, out)
    text = readme.read_text()
    assert text.startswith("# title\n\nbefore\n\n" + report.README_BEGIN) and text.endswith(report.README_END + "\n\nafter\n")
    assert "old table" not in text and "[docs/results.md](docs/results.md)" in text
    assert f"| 01_gridworld_comparison | 2 / 0 / 1 | 1 / 0 / 1 | {report.NOT_RUN} |" in text  # compact: folder names
    again = readme.read_text()
    report.write_results(project, out, readme=readme)  # idempotent
    assert readme.read_text() == again
    # a README without the markers: an error, and neither file is touched
    readme.write_text("no markers\n")
    out.write_text("unchanged")
    with pytest.raises(ValueError, match="results-summary:begin"):
        report.write_results(project, out, readme=readme)
    assert out.read_text() == "unchanged" and readme.read_text() == "no markers\n"
    with pytest.raises(SystemExit):
        report.main(["--readme", str(readme)])
    assert "--root and --readme go with --results-md" in capsys.readouterr().err


def test_distinct_counts_read_a_missing_duplicate_column_as_none():
    """A table without ``duplicate_of`` concatenated with one that has it gets NaN there: those rows
    are distinct comparisons, not duplicates (the all-notebooks total once dropped them)."""
    import pandas as pd

    from gafn_lib.repro import report

    common = {"metric_name": ["m"], "scope": ["H=8"], "label_a": ["x"], "values_a": ["1 2 3 4"], "values_b": ["0 0 0 0"]}
    new = pd.DataFrame({**common, "claim": ["a"], "label_b": ["y"], "verdict_only": ["supported"], "duplicate_of": [""], "kind": ["superiority"]})
    old = pd.DataFrame({**common, "claim": ["b"], "label_b": ["z"], "verdict_only": ["contradicted"]})
    counts = report.distinct_verdict_counts(pd.concat([new, old], ignore_index=True))
    assert counts["supported"] == 1 and counts["contradicted"] == 1


# ---------------------------------------------------------------- tables of an earlier sweep


def _archive_run(archive, store: str, rid: str, finished: bool = True) -> None:
    folder = archive / store / "runs"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{rid}.json").write_text(json.dumps({"run_id": rid, "finished": finished}))


def test_plan_status_by_hand(tmp_path):
    from gafn_lib.repro.plan_status import plan_status

    plan = lambda notebook, profile: {"gridworld": ["r1", "r2", "r3", "r4"]} if notebook.startswith("01") else None
    archive, table = tmp_path / "runs" / "paper", tmp_path / "results" / "01_x"
    table.mkdir(parents=True)
    pd.DataFrame({"run": ["old1", "old1", "old2"], "step": [1, 2, 2]}).to_csv(table / "curves.csv", index=False)
    _archive_run(archive, "gridworld", "r1")
    _archive_run(archive, "gridworld", "r2", finished=False)  # checkpointed only
    status = plan_status("01_x", "paper", table, archive, plan)
    assert (status.planned, status.archived, status.table_runs, status.table_is_plan) == (4, 1, 2, False)
    assert status.note() == "earlier sweep of 2 runs; current plan: 1 of 4 runs done" and not status.current
    # every planned run archived, but the table not redrawn: still marked
    for rid in ("r2", "r3", "r4"):
        _archive_run(archive, "gridworld", rid)
    assert plan_status("01_x", "paper", table, archive, plan).note() == (
        "earlier sweep of 2 runs; current plan: all 4 runs done, tables not redrawn yet")
    # the table drawn from exactly the plan's runs: current, no mark
    pd.DataFrame({"run": ["r1", "r2", "r3", "r4"], "step": [2] * 4}).to_csv(table / "curves.csv", index=False)
    redrawn = plan_status("01_x", "paper", table, archive, plan)
    assert redrawn.current and redrawn.note() == ""
    # no archive, or a notebook without a plan: nothing to say
    assert plan_status("01_x", "quick", table, None, plan) is None
    assert plan_status("07_x", "paper", table, archive, plan) is None


def test_results_page_marks_the_tables_of_an_earlier_sweep(project):
    plan = lambda notebook, profile: {"gridworld": [f"p{i}" for i in range(10)]} if notebook.startswith("01") else None
    archive = project / "data" / "runs" / "paper"
    for i in range(3):
        _archive_run(archive, "gridworld", f"p{i}")
    pd.DataFrame({"run": ["a", "b"], "step": [2, 2]}).to_csv(
        project / "data" / "results" / "paper" / "01_gridworld_comparison" / "curves.csv", index=False)
    text = report.results_markdown(project, project / "docs" / "results.md", plan=plan)
    mark = "earlier sweep of 2 runs; current plan: 3 of 10 runs done"
    assert f"| 1 / 0 / 1 ({mark}) |" in text  # summary cell
    assert "**1 / 0 / 1** (with earlier sweeps)" in text  # the paper column's total
    assert re.search(rf"^\| paper \| \[claims_full\.csv\]\([^)]+\) \(2 rows\) · \*\*{re.escape(mark)}\*\* \|", _section(text, GRID_TITLE), flags=re.M)
    # the quick profile has no archive: never marked
    assert "| [" + GRID_TITLE + "](#01--gridworld-gaflownet-vs-gflownet-tb-mcmc-and-ppo) | 2 / 0 / 1 | " in text
    # a profile with runs archived but no tables yet says how far it is
    _archive_run(project / "data" / "runs" / "long", "gridworld", "p0")
    text = report.results_markdown(project, project / "docs" / "results.md", plan=plan)
    assert f"| 1 / 0 / 1 ({mark}) | not run yet; 1 of 10 runs done |" in text
    # the plan's own runs in the table and all archived: no mark
    for i in range(3, 10):
        _archive_run(archive, "gridworld", f"p{i}")
    pd.DataFrame({"run": [f"p{i}" for i in range(10)], "step": [2] * 10}).to_csv(
        project / "data" / "results" / "paper" / "01_gridworld_comparison" / "curves.csv", index=False)
    assert "earlier sweep" not in report.results_markdown(project, project / "docs" / "results.md", plan=plan).split("## Summary")[1]


def test_committed_results_page_and_readme_summary_are_current():
    """``docs/results.md`` and the README's summary block are what ``make results`` writes from the
    committed tables and run archive: a commit that adds archived runs or tables without rerunning
    ``make results`` leaves a stale page (it once said "4 of 18 runs done" with 6 archived)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    page = root / report.RESULTS_FILE
    assert page.read_text() == report.results_markdown(root, page), "docs/results.md is stale: run `make results` and commit it"
    readme = (root / "README.md").read_text()
    block = report.readme_summary(root, page, root)
    assert report.replace_readme_block(readme, block) == readme, "the README's summary table is stale: run `make results` and commit it"
