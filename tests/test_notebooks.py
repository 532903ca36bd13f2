"""Every numbered notebook: committed clean, parameterised, and runs end to end (smoke profile)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import clean_clone, git

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
def test_language_info_makes_nbconvert_write_python(path):
    """``jupyter nbconvert --to script`` names its output from ``language_info``: without
    ``file_extension`` it writes ``.txt``."""
    from nbconvert import ScriptExporter

    info = json.loads(path.read_text())["metadata"]["language_info"]
    assert info["name"] == "python" and info["file_extension"] == ".py" and info["mimetype"] == "text/x-python"
    assert str(info["version"]).startswith("3.")
    script, resources = ScriptExporter().from_filename(str(path))
    assert resources["output_extension"] == ".py"
    assert "profile =" in script


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


@pytest.fixture
def fresh_clone(tmp_path) -> Path:
    """A clean clone of the repository (tests/conftest.py: a ``git clone`` plus the working tree's
    changes, committed), with no ``build/`` folder."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (or no git): the by-hand run uses a clean clone of the repository")
    return clean_clone(tmp_path)


def test_extending_runs_by_hand_with_papermill_from_a_fresh_clone(fresh_clone, tmp_path):
    """Exactly what a user does (issue 22): ``papermill notebooks/07_extending.ipynb out.ipynb -p
    profile smoke`` in a fresh clone, no GAFN_OUTPUT_DIR, no ``build/`` yet. It used to stop with
    FileNotFoundError on build/figures/extending_custom_reward.png. (Every notebook is run without
    pre-created output folders by the smoke runs above, see tests/conftest.py; this one also goes
    the by-hand way: papermill, outputs under build/ found from the current folder.)"""
    assert not (fresh_clone / "build").exists()
    env = {k: v for k, v in os.environ.items() if k not in ("GAFN_OUTPUT_DIR", "GAFN_PROJECT_ROOT")}
    env["PYTHONPATH"] = os.pathsep.join([str(fresh_clone), *filter(None, [os.environ.get("PYTHONPATH")])])
    out = tmp_path / "out.ipynb"
    proc = subprocess.run(
        [sys.executable, "-m", "papermill", "notebooks/07_extending.ipynb", str(out), "-p", "profile", "smoke", "--no-progress-bar"],
        cwd=fresh_clone, env=env, capture_output=True, text=True, timeout=1200,
    )
    assert proc.returncode == 0, f"papermill failed on 07_extending in a fresh clone:\n{(proc.stdout + proc.stderr)[-4000:]}"
    figures = {p.name for p in (fresh_clone / "build" / "figures").iterdir()}
    assert {"extending_custom_reward.png", "extending_bit_strings.png"} <= figures
    assert (fresh_clone / "build" / "data" / "results" / "07_extending" / "bit_strings.csv").is_file()
    status = git("status", "--porcelain", "--untracked-files=all", cwd=fresh_clone)
    assert status == "", f"running 07 by hand changed the clone outside build/:\n{status}"
