"""Where runs write (gafn_lib.repro.paths): only `make figures` with a committed profile touches the
tracked figures/ and data/results/; smoke runs, tests and interactive runs write under build/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from gafn_lib.repro import paths, pipeline
from gafn_lib.repro.profiles import COMMITTED_PROFILES

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def clean_env(monkeypatch):
    monkeypatch.delenv(paths.OUTPUT_ENV_VAR, raising=False)
    monkeypatch.delenv(paths.ROOT_ENV_VAR, raising=False)
    return monkeypatch


def test_default_output_is_build_never_the_tracked_folders(clean_env, tmp_path):
    project = tmp_path / "project"
    (project / "gafn_lib").mkdir(parents=True)
    (project / "pyproject.toml").write_text("")
    (project / "notebooks").mkdir()
    clean_env.chdir(project / "notebooks")  # JupyterLab's kernel runs in the notebook's folder
    assert paths.project_root() == project.resolve()
    assert paths.output_root() == project.resolve() / "build"
    assert paths.figures_dir() == project.resolve() / "build" / "figures"
    assert paths.results_dir() == project.resolve() / "build" / "data" / "results"


def test_a_named_folder_wins(clean_env, tmp_path):
    clean_env.setenv(paths.OUTPUT_ENV_VAR, str(tmp_path / "mine"))
    assert paths.figures_dir() == (tmp_path / "mine" / "figures").resolve()
    assert paths.results_dir() == (tmp_path / "mine" / "data" / "results").resolve()


def test_which_pipeline_runs_write_the_tracked_folders(tmp_path):
    assert COMMITTED_PROFILES == ("quick", "paper", "long")
    for profile in COMMITTED_PROFILES:
        assert paths.pipeline_output_root(tmp_path, profile) == tmp_path.resolve()
        # workers / backend change how runs execute, not what they compute
        assert paths.pipeline_output_root(tmp_path, profile, ["workers", "backend"]) == tmp_path.resolve()
        # anything else is an ad-hoc run
        assert paths.pipeline_output_root(tmp_path, profile, ["seeds"]) == tmp_path.resolve() / "build" / profile
    assert paths.pipeline_output_root(tmp_path, "smoke") == tmp_path.resolve() / "build" / "smoke"
    assert not paths.is_committed_run("smoke") and paths.is_committed_run(" Quick ")


def _notebook_writing_output_root(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = "quick"\nseeds = None')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(
        "from gafn_lib.repro import paths\n"
        "with open('where.log', 'a') as fh:\n"
        "    fh.write(f'{profile} {paths.figures_dir()}\\n')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_pipeline_tells_its_notebooks_where_to_write(clean_env, tmp_path):
    (tmp_path / "notebooks").mkdir()
    _notebook_writing_output_root(tmp_path / "notebooks" / "01_where.ipynb")
    base = ["--notebooks-dir", str(tmp_path / "notebooks"), "--output-dir", str(tmp_path / "build" / "notebooks"), "--no-progress"]
    assert pipeline.main([*base, "--profile", "smoke"]) == 0
    assert pipeline.main([*base, "--profile", "quick", "-p", "seeds", "[0]"]) == 0
    assert pipeline.main([*base, "--profile", "quick", "--output-root", str(tmp_path / "named")]) == 0
    assert pipeline.main([*base, "--profile", "quick"]) == 0
    root = tmp_path.resolve()
    assert (tmp_path / "where.log").read_text().splitlines() == [
        f"smoke {root / 'build' / 'smoke' / 'figures'}",
        f"quick {root / 'build' / 'quick' / 'figures'}",
        f"quick {root / 'named' / 'figures'}",
        f"quick {root / 'figures'}",  # the committed run
    ]
    assert paths.OUTPUT_ENV_VAR not in os.environ  # restored after the run


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", "-c", "user.name=gafn tests", "-c", "user.email=tests@localhost", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout


def _clean_clone(tmp_path: Path) -> Path:
    """A clone of this repository with the working tree's changes committed on top (so the check
    covers the code under test; in CI the working tree is the clone itself and nothing is added)."""
    clone = tmp_path / "gafn"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, capture_output=True)
    changed = _git("ls-files", "--modified", "--others", "--exclude-standard", "-z", cwd=ROOT).split("\0")
    deleted = set(_git("ls-files", "--deleted", "-z", cwd=ROOT).split("\0"))
    for rel in filter(None, changed):
        target = clone / rel
        if rel in deleted:
            target.unlink(missing_ok=True)
        elif (ROOT / rel).is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, target)
    if _git("status", "--porcelain", cwd=clone).strip():
        _git("add", "--all", cwd=clone)
        _git("commit", "--quiet", "--no-verify", "-m", "working tree under test", cwd=clone)
    assert _git("status", "--porcelain", cwd=clone) == ""
    # the project expects its shared folder beside the project root
    if (ROOT.parent / "shared").is_dir():
        (tmp_path / "shared").symlink_to(ROOT.parent / "shared")
    return clone


@pytest.mark.slow
def test_smoke_pipeline_in_a_clean_clone_modifies_no_tracked_file(tmp_path):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (or no git): the clean-clone check needs one")
    clone = _clean_clone(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in (paths.OUTPUT_ENV_VAR, paths.ROOT_ENV_VAR)}
    env["PYTHONPATH"] = os.pathsep.join([str(clone), *filter(None, [env.get("PYTHONPATH")])])
    where = subprocess.run([sys.executable, "-c", "import gafn_lib; print(gafn_lib.__file__)"], cwd=clone, env=env,
                           check=True, capture_output=True, text=True).stdout.strip()
    assert Path(where).resolve().is_relative_to(clone.resolve()), f"the clone's gafn_lib is not the one imported: {where}"

    run = subprocess.run([sys.executable, "-m", "gafn_lib.repro.pipeline", "--profile", "smoke", "--no-progress"],
                         cwd=clone, env=env, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, f"the smoke pipeline failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"

    status = _git("status", "--porcelain", "--untracked-files=all", cwd=clone)
    assert status == "", f"the smoke pipeline changed the clean clone (git status --porcelain):\n{status}"
    out = clone / "build" / "smoke"
    notebooks = pipeline.find_notebooks(clone / "notebooks")
    assert notebooks and all((clone / "build" / "notebooks" / nb.name).is_file() for nb in notebooks)
    assert list((out / "figures").glob("*.png")), f"no figure under {out / 'figures'}"
    assert list((out / "data" / "results").rglob("claims.csv")), f"no claims table under {out / 'data' / 'results'}"
