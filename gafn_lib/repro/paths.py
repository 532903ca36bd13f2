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
