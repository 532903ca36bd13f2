"""Run profiles: how much compute a notebook spends reproducing a figure.

Every notebook takes one parameter, ``profile``, and picks its grid sizes, step counts and seeds
from plain values written next to each other, so a reader sees at a glance what each profile runs::

    profile = resolve_profile(profile)          # validates: "quick", "paper", "long" or "smoke"
    heights = profile_value(profile, quick=[8, 16], paper=[8, 16, 32, 64], smoke=[8])
    n_steps = profile_value(profile, quick=2_000, paper=20_000, smoke=20)

Profiles:

- ``"quick"``: minutes on a laptop (a few cores): smaller grids, fewer steps and seeds. The
  figures show the paper's trends, not its exact numbers.
- ``"paper"``: the paper's sizes, steps and seeds (hours to days of CPU time; see
  ``docs/distributed.md`` to spread the runs over a cluster with Ray).
- ``"long"``: between the two, for the claims that ``quick`` is too short to test (each notebook
  sets what it changes with ``long=...``; any value it does not set is the ``quick`` one).
- ``"smoke"``: seconds; tiny parameters so tests can execute every notebook end to end. Not a
  result: it only checks that the notebook runs.

``quick``, ``paper`` and ``long`` are the *committed* profiles: ``make figures`` with one of them
writes the tracked ``figures/`` and ``data/results/``. A ``smoke`` run, and any run outside the
pipeline, writes under ``build/`` instead (:mod:`gafn_lib.repro.paths`).
"""

from __future__ import annotations

from typing import Any, TypeVar

#: The profiles a user chooses between (``make figures PROFILE=...``).
PROFILES = ("quick", "paper", "long")
#: The profiles whose figures and tables are committed (``make figures`` writes the tracked folders).
COMMITTED_PROFILES = PROFILES
#: The tiny profile used by tests to smoke-run notebooks.
SMOKE = "smoke"
ALL_PROFILES = PROFILES + (SMOKE,)

PROFILE_DESCRIPTIONS = {
    "quick": "minutes on a laptop: smaller grids, fewer steps and seeds (the paper's trends)",
    "paper": "the paper's sizes, steps and seeds (hours to days; a cluster helps)",
    "long": "between quick and paper, for the claims quick is too short to test (committed results)",
    "smoke": "seconds: tiny parameters for tests, not a result",
}

T = TypeVar("T")


def resolve_profile(name: str) -> str:
    """Validate a profile name (case and surrounding spaces are ignored) and return it canonical.

    Raises:
        ValueError: naming the allowed profiles.
    """
    canonical = name.strip().lower() if isinstance(name, str) else name
    if canonical not in ALL_PROFILES:
        allowed = ", ".join(repr(p) for p in PROFILES)
        raise ValueError(f"profile must be one of {allowed} (or {SMOKE!r} for tests), got {name!r}")
    return canonical


def profile_value(profile: str, *, quick: T, paper: T, smoke: Any = None, long: Any = None) -> T:
    """The value for ``profile``: ``quick``, ``paper``, ``long`` or ``smoke`` (``long`` and ``smoke``
    default to ``quick``).

    Example:
        >>> profile_value("paper", quick=2_000, paper=20_000, smoke=20)
        20000
    """
    profile = resolve_profile(profile)
    if profile == "paper":
        return paper
    if profile == SMOKE and smoke is not None:
        return smoke
    if profile == "long" and long is not None:
        return long
    return quick
