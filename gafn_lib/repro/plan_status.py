"""Are a profile's committed tables those of its current plan, and how far is the plan's sweep?

The paper and long profiles train for days, over many sittings, into a committed run archive
(``data/runs/<profile>/<store>/``, :mod:`gafn_lib.runner.archive`). Their committed tables
(``data/results/<profile>/<notebook>/``) are redrawn only when a notebook's sweep is complete, so
while a new plan is being trained (more seeds, another configuration) the tables on the results
page are those of an *earlier* sweep. :func:`plan_status` says so from the files alone:

- the notebook's current plan: the run ids its default parameters train at the profile
  (:func:`planned_run_ids`);
- how many of them the run archive holds finished;
- which runs the committed tables were drawn from: the distinct ``run`` ids of the notebook's
  ``curves.csv`` (a notebook without a per-run log, e.g. 02, which draws 01's runs, cannot say).

The tables are *current* when every planned run is archived and, where the notebook logs its runs,
the table's runs are exactly the plan's. The results page (:mod:`gafn_lib.repro.report`) marks
every other table as an earlier sweep, with the plan's progress.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

#: The per-run log a notebook writes next to its claims table (column ``run``: run ids; the
#: results page also sums its ``wall_seconds``).
CURVES_FILE = "curves.csv"


@dataclass(frozen=True)
class PlanStatus:
    """Where a notebook's current plan stands at one profile (see the module docstring).

    Attributes:
        planned: runs of the current plan.
        archived: of them, finished in the committed run archive.
        table_runs: distinct runs in the committed ``curves.csv`` (``None``: no per-run log, or no
            table yet).
        table_is_plan: the committed table's runs are exactly the plan's (``None``: cannot tell).
    """

    planned: int
    archived: int
    table_runs: int | None
    table_is_plan: bool | None

    @property
    def complete(self) -> bool:
        """Every planned run is finished in the archive."""
        return self.archived >= self.planned

    @property
    def current(self) -> bool:
        """The committed tables are those of the current plan."""
        return self.complete and self.table_is_plan is not False

    def note(self) -> str:
        """One phrase for a table that is not current, e.g. ``"earlier sweep of 60 runs; current
        plan: 50 of 214 runs done"``; empty when the tables are current."""
        if self.current:
            return ""
        earlier = "earlier sweep" + (f" of {self.table_runs} runs" if self.table_runs else "")
        if self.complete:
            return f"{earlier}; current plan: all {self.planned} runs done, tables not redrawn yet"
        return f"{earlier}; current plan: {self.archived} of {self.planned} runs done"

    def progress(self) -> str:
        """The plan's progress alone, e.g. ``"50 of 214 runs done"`` (for a notebook not drawn yet)."""
        return f"{self.archived} of {self.planned} runs done"


def planned_run_ids(notebook: str, profile: str) -> dict[str, list[str]] | None:
    """``{store: run ids}`` the notebook (``"01"`` or ``"01_gridworld_comparison"``) trains with its
    default parameters at ``profile``; ``None`` for a notebook without stored runs (00, 07)."""
    from gafn_lib.repro import mol_experiments as mx
    from gafn_lib.repro.prefetch import GRID_NOTEBOOKS, MOLECULE_NOTEBOOKS, planned_runs
    from gafn_lib.runner import run_id

    number = notebook[:2]
    if number in GRID_NOTEBOOKS:
        plan = planned_runs([number], profile)
    elif number in MOLECULE_NOTEBOOKS:  # prefetch leaves the long molecule runs to mol_experiments: ask it directly
        plan = {mx.MOL_STORE: [c for _, c in mx.notebook_runs(profile)]}
    else:
        return None
    return {store: list(dict.fromkeys(run_id(c) for c in configs)) for store, configs in plan.items()}


def archived_finished(archive: Path, store: str, run_ids: list[str]) -> int:
    """How many of ``run_ids`` the archive's ``<store>/runs/<id>.json`` marks finished."""
    count = 0
    for rid in run_ids:
        path = archive / store / "runs" / f"{rid}.json"
        try:
            count += bool(json.loads(path.read_text()).get("finished"))
        except (OSError, ValueError):
            continue
    return count


def table_run_ids(folder: Path | None) -> set[str] | None:
    """The distinct ``run`` ids of ``folder/curves.csv``, or ``None`` if it has none."""
    path = None if folder is None else folder / CURVES_FILE
    if path is None or not path.is_file():
        return None
    try:
        runs = pd.read_csv(path, usecols=["run"], dtype={"run": str})["run"]
    except (ValueError, OSError):
        return None
    return set(runs.dropna().astype(str))


def plan_status(notebook: str, profile: str, table_folder: Path | None, archive: Path | None,
                plan: Callable[[str, str], dict[str, list[str]] | None] = planned_run_ids) -> PlanStatus | None:
    """:class:`PlanStatus` of ``notebook`` at ``profile`` from its committed table folder (``None``:
    no tables) and the profile's run archive; ``None`` for a profile without an archive or a
    notebook without a plan (``plan(notebook, profile)``: ``{store: run ids}``)."""
    if archive is None:
        return None
    planned = plan(notebook, profile)
    if not planned:
        return None
    ids = [rid for run_ids in planned.values() for rid in run_ids]
    archived = sum(archived_finished(archive, store, run_ids) for store, run_ids in planned.items())
    in_table = table_run_ids(table_folder)
    return PlanStatus(planned=len(ids), archived=archived, table_runs=None if in_table is None else len(in_table),
                      table_is_plan=None if in_table is None else in_table == set(ids))
