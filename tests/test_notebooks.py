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
def test_smoke_run(path, smoke_clone):
    # the smoke pipeline, this notebook only, in a clean clone (tests/conftest.py): outputs go to the
    # clone's build/smoke/, and tests/test_outputs.py checks that no tracked file changed
    run = smoke_clone.run(path.name)
    run.check()
    written = [p.relative_to(smoke_clone.output) for p in run.written]
    figures = [p for p in written if p.parts[0] == "figures" and p.suffix == ".png"]
    assert figures, "the notebook saved no figure"
    assert {f.stem for f in figures} == {p.stem for p in written if p.parts[0] == "figures" and p.suffix == ".pdf"}
    tables = [p for p in written if p.parts[:2] == ("data", "results") and p.suffix == ".csv" and "runs" not in p.parts]
    assert tables, "the notebook saved no result table"
    if path.stem not in TUTORIALS:
        assert any(p.name == "claims.csv" for p in tables), "the notebook saved no claims table"
