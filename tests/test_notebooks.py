"""Every numbered notebook: committed clean, parameterised, and runs end to end (smoke profile)."""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
#: Notebooks that teach the library rather than test a claim of the paper: tables, no claims table.
TUTORIALS = {"07_extending"}


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 6


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs_and_with_parameters_cell(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and "parameters" in code[0].get("metadata", {}).get("tags", [])
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    source = "".join(code[0]["source"])
    assert "profile" in source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_smoke_run(path, tmp_path, monkeypatch):
    import papermill as pm

    monkeypatch.setenv("GAFN_OUTPUT_DIR", str(tmp_path))  # figures and tables go to tmp_path, not the repo
    out = tmp_path / "executed.ipynb"
    pm.execute_notebook(str(path), str(out), parameters={"profile": "smoke"}, cwd=str(tmp_path), progress_bar=False, kernel_name="python3")
    figures = list((tmp_path / "figures").glob("*.png"))
    assert figures, "the notebook saved no figure"
    assert {f.stem for f in figures} == {f.stem for f in (tmp_path / "figures").glob("*.pdf")}
    tables = list((tmp_path / "data" / "results").glob("*/*.csv"))
    assert tables, "the notebook saved no result table"
    if path.stem not in TUTORIALS:
        claims = list((tmp_path / "data" / "results").glob("*/claims.csv"))
        assert claims, "the notebook saved no claims table"
