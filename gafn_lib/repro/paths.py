"""Where figures and result tables go, wherever a notebook or script runs from.

Only ``make figures`` writes the project's tracked results. Everything else writes under ``build/``:

- **Committed runs** — the pipeline (``make figures``, i.e. ``python -m gafn_lib.repro.pipeline``)
  with a committed profile (``quick``, ``paper`` or ``long``, see :mod:`gafn_lib.repro.profiles`)
  and no ``-p`` parameter that changes results (``workers`` and ``backend`` only change how runs are
  executed) — write the tracked ``figures/`` and ``data/results/`` of the project root.
- **Every other run** writes under ``build/``, which git ignores: the pipeline with the ``smoke``
  profile or with result-changing ``-p`` parameters writes to ``build/<profile>/``; a notebook run
  in JupyterLab or with papermill by hand, a script, or a test writes to ``build/`` — whatever its
  profile and parameters, so a tiny test run never overwrites the published results.
- **A folder you name**: ``GAFN_OUTPUT_DIR=/some/folder`` sends figures to ``/some/folder/figures/``
  and tables (and the run store) to ``/some/folder/data/results/``. The pipeline sets this variable
  for the notebooks it executes (``--output-root`` names the folder there).

So :func:`figures_dir` is ``<output root>/figures`` and :func:`results_dir` is
``<output root>/data/results``, where :func:`output_root` is ``$GAFN_OUTPUT_DIR`` if set, else
``<project root>/build``. ``$GAFN_PROJECT_ROOT`` overrides where the project root is (default: the
first folder above the current one holding ``pyproject.toml`` and ``gafn_lib/``). The notebooks
call :func:`profile_figures_dir` / :func:`profile_results_dir`, which add a ``paper/`` or ``long/``
subfolder under whichever output root applies. These four functions *create* the folder they
return: a notebook run by hand from a fresh clone (where ``build/`` does not exist yet) saves its
figures and tables without making any folder itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from gafn_lib.repro.profiles import COMMITTED_PROFILES, resolve_profile

#: Environment variable overriding the project root (e.g. for executed notebooks in a build folder).
ROOT_ENV_VAR = "GAFN_PROJECT_ROOT"
#: Environment variable naming the folder that receives ``figures/`` and ``data/results/``.
OUTPUT_ENV_VAR = "GAFN_OUTPUT_DIR"
#: The git-ignored folder, under the project root, for every run that is not a committed run.
BUILD_DIR = "build"
#: Notebook parameters that change how runs execute, not their results: overriding them keeps a
#: pipeline run of a committed profile a committed run.
EXECUTION_PARAMETERS = frozenset({"workers", "backend"})


def project_root(start: str | os.PathLike | None = None) -> Path:
    """The folder holding the project's ``pyproject.toml``: ``$GAFN_PROJECT_ROOT`` if set, else the
    first ancestor of ``start`` (default: the current folder) that has one, else ``start`` itself."""
    if os.environ.get(ROOT_ENV_VAR):
        return Path(os.environ[ROOT_ENV_VAR]).resolve()
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").exists() and (folder / "gafn_lib").is_dir():
            return folder
    return here


def output_root() -> Path:
    """The folder receiving ``figures/`` and ``data/results/``: ``$GAFN_OUTPUT_DIR`` if set, else
    ``<project root>/build`` (never the tracked folders unless told so)."""
    named = os.environ.get(OUTPUT_ENV_VAR)
    if named:
        return Path(named).expanduser().resolve()
    return project_root() / BUILD_DIR


def figures_dir() -> Path:
    """``<output root>/figures`` (created if missing): the tracked ``figures/`` only for committed
    runs (``make figures``)."""
    return _created(output_root() / "figures")


def results_dir() -> Path:
    """``<output root>/data/results`` (created if missing): the tracked ``data/results/`` only for
    committed runs."""
    return _created(output_root() / "data" / "results")


def _created(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def is_committed_run(profile: str, parameters: Iterable[str] = ()) -> bool:
    """Whether a pipeline run of ``profile`` with the ``-p`` parameter names ``parameters``
    reproduces the committed results: a committed profile and no result-changing parameter."""
    return resolve_profile(profile) in COMMITTED_PROFILES and set(parameters) <= EXECUTION_PARAMETERS


def pipeline_output_root(project: str | os.PathLike, profile: str, parameters: Iterable[str] = ()) -> Path:
    """Where a pipeline run writes (the pipeline passes it to its notebooks as ``$GAFN_OUTPUT_DIR``):
    the project root itself for a committed run (:func:`is_committed_run`), else
    ``<project>/build/<profile>``."""
    project = Path(project).resolve()
    if is_committed_run(profile, parameters):
        return project
    return project / BUILD_DIR / resolve_profile(profile)


#: Committed profiles whose figures and tables go to a subfolder named after the profile
#: (``figures/paper/``, ``data/results/paper/``), so they sit apart from the quick profile's.
PROFILE_SUBFOLDERS = ("paper", "long")


def profile_figures_dir(profile: str) -> Path:
    """Where a notebook run with ``profile`` saves figures: :func:`figures_dir` for ``quick`` and
    ``smoke``, ``figures_dir() / profile`` for the profiles in :data:`PROFILE_SUBFOLDERS`. The
    folder is created if missing."""
    return _profile_subfolder(figures_dir(), profile)


def profile_results_dir(profile: str) -> Path:
    """Where a notebook run with ``profile`` writes its result tables (claims, summaries):
    :func:`results_dir`, or ``results_dir() / profile`` for :data:`PROFILE_SUBFOLDERS`; created if
    missing. The run store stays in :func:`results_dir` for every profile: runs are cached by
    config, not profile."""
    return _profile_subfolder(results_dir(), profile)


def _profile_subfolder(base: Path, profile: str) -> Path:
    """``base`` or ``base / profile`` (:data:`PROFILE_SUBFOLDERS`), created (with its parents)."""
    profile = resolve_profile(profile)
    return _created(base / profile if profile in PROFILE_SUBFOLDERS else base)


#: Folder (under the project root) of the committed run archives (:mod:`gafn_lib.runner.archive`).
RUN_ARCHIVE_DIR = Path("data") / "runs"


def run_archive_dir(profile: str, project: str | os.PathLike | None = None) -> Path | None:
    """The committed run archive of ``profile``, ``<project>/data/runs/<profile>/``, for the profiles
    in :data:`PROFILE_SUBFOLDERS` (hours of training: their finished runs and checkpoints are kept in
    git, so a new clone resumes the sweep or draws the figures without training); ``None`` for the
    others (minutes: their runs are a cache)."""
    profile = resolve_profile(profile)
    if profile not in PROFILE_SUBFOLDERS:
        return None
    return (Path(project) if project is not None else project_root()).resolve() / RUN_ARCHIVE_DIR / profile
