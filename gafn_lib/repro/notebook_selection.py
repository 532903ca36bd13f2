"""Which numbered notebooks a command selects: ``notebooks/NN_*.ipynb`` and ``--only 01,03``.

Shared by :mod:`gafn_lib.repro.pipeline`, :mod:`gafn_lib.repro.prefetch` and
:mod:`gafn_lib.repro.report` (a leaf module, so none of them imports another for it).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

NOTEBOOK_PATTERN = re.compile(r"^(\d{2})_.+\.ipynb$")


def find_notebooks(notebooks_dir: str | os.PathLike) -> list[Path]:
    """The numbered notebooks ``NN_*.ipynb`` of a folder, in order (none if the folder is missing)."""
    folder = Path(notebooks_dir)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and NOTEBOOK_PATTERN.match(p.name))


def parse_only(only: str) -> list[str]:
    """``"01,3"`` → ``["01", "03"]``; raises ValueError for anything but notebook numbers."""
    numbers = []
    for token in only.split(","):
        token = token.strip()
        if not token.isdigit() or len(token) > 2:
            raise ValueError(f"--only takes notebook numbers separated by commas (e.g. 01 or 01,03), got {only!r}")
        numbers.append(token.zfill(2))
    return numbers


def select_notebooks(notebooks: list[Path], only: str | None) -> list[Path]:
    """The notebooks whose number is listed in ``only`` (all of them if ``only`` is None)."""
    if only is None:
        return notebooks
    wanted = parse_only(only)
    by_number: dict[str, list[Path]] = {}
    for nb in notebooks:
        by_number.setdefault(NOTEBOOK_PATTERN.match(nb.name).group(1), []).append(nb)
    missing = [n for n in wanted if n not in by_number]
    if missing:
        available = ", ".join(sorted(by_number)) or "none"
        raise ValueError(f"--only: no notebook numbered {', '.join(missing)} (available: {available})")
    return [nb for nb in notebooks if NOTEBOOK_PATTERN.match(nb.name).group(1) in wanted]
