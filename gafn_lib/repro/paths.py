"""Where figures and result tables go, wherever a notebook or script runs from."""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable overriding the project root (e.g. for executed notebooks in a build folder).
ROOT_ENV_VAR = "GAFN_PROJECT_ROOT"


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


def figures_dir() -> Path:
    return project_root() / "figures"


def results_dir() -> Path:
    return project_root() / "data" / "results"


#: Committed profiles whose figures and tables go to a subfolder named after the profile
#: (``figures/paper/``, ``data/results/paper/``), so they sit apart from the quick profile's.
PROFILE_SUBFOLDERS = ("paper", "long")


def profile_figures_dir(profile: str) -> Path:
    """Where a notebook run with ``profile`` saves figures: :func:`figures_dir` for ``quick`` and
    ``smoke``, ``figures_dir() / profile`` for the profiles in :data:`PROFILE_SUBFOLDERS`."""
    return _profile_subfolder(figures_dir(), profile)


def profile_results_dir(profile: str) -> Path:
    """Where a notebook run with ``profile`` writes its result tables (claims, summaries):
    :func:`results_dir`, or ``results_dir() / profile`` for :data:`PROFILE_SUBFOLDERS`. The run
    store stays in :func:`results_dir` for every profile: runs are cached by config, not profile."""
    return _profile_subfolder(results_dir(), profile)


def _profile_subfolder(base: Path, profile: str) -> Path:
    from gafn_lib.repro.profiles import resolve_profile

    profile = resolve_profile(profile)
    return base / profile if profile in PROFILE_SUBFOLDERS else base
