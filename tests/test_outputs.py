"""Where runs write (gafn_lib.repro.paths): only `make figures` with a committed profile touches the
tracked figures/ and data/results/; smoke runs, tests and interactive runs write under build/."""

from __future__ import annotations

import os
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


def test_the_output_folders_exist_once_asked_for(clean_env, tmp_path):
    """A notebook run by hand in a fresh clone (no build/ yet) gets folders it can write into."""
    project = tmp_path / "project"
    (project / "gafn_lib").mkdir(parents=True)
    (project / "pyproject.toml").write_text("")
    clean_env.chdir(project)
    build = project.resolve() / "build"
    assert not build.exists()
    for folder, expected in ((paths.profile_figures_dir("smoke"), build / "figures"),
                             (paths.profile_results_dir("paper"), build / "data" / "results" / "paper"),
                             (paths.profile_figures_dir("long"), build / "figures" / "long"),
                             (paths.results_dir(), build / "data" / "results")):
        assert folder == expected and folder.is_dir()


def test_save_figure_creates_the_folder_of_the_file(clean_env, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from gafn_lib.repro import plotting

    clean_env.setenv(paths.OUTPUT_ENV_VAR, str(tmp_path / "out"))
    fig = plotting.plt.figure()
    try:
        default = plotting.save_figure(fig, "a")  # default folder: paths.figures_dir(), never the current folder
        assert default == [(tmp_path / "out" / "figures" / "a.png").resolve(), (tmp_path / "out" / "figures" / "a.pdf").resolve()]
        nested = plotting.save_figure(fig, "sub/b", tmp_path / "named")
        full = plotting.save_figure(fig, tmp_path / "deep" / "c")  # a full path as the name (07 used to do this)
    finally:
        plotting.plt.close(fig)
    assert all(p.is_file() for p in default + nested + full)
    assert nested[0] == tmp_path / "named" / "sub" / "b.png" and full[0] == tmp_path / "deep" / "c.png"


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


@pytest.mark.slow
def test_smoke_pipeline_in_a_clean_clone_modifies_no_tracked_file(smoke_clone):
    """The smoke pipeline runs every notebook in a clean clone (each notebook once per session,
    shared with tests/test_notebooks.py) and `git status --porcelain` stays empty."""
    assert smoke_clone.imported_gafn_lib().is_relative_to(smoke_clone.path.resolve()), "the clone's gafn_lib is not the one imported"
    runs = [smoke_clone.run(name) for name in smoke_clone.notebooks()]
    status = smoke_clone.status()
    assert status == "", f"the smoke pipeline changed the clean clone (git status --porcelain):\n{status}"
    for run in runs:
        run.check()
    assert all((smoke_clone.path / "build" / "notebooks" / run.notebook).is_file() for run in runs)
    assert list((smoke_clone.output / "figures").glob("*.png")), f"no figure under {smoke_clone.output / 'figures'}"
