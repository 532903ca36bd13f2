"""Every claim's verdict side by side across profiles: ``python -m gafn_lib.repro.report``.

Each notebook writes its claims table (:func:`gafn_lib.repro.claims.claims_table`, ``full=True``)
under the profile's results folder: ``data/results/<notebook>/`` for ``quick`` and
``data/results/<profile>/<notebook>/`` for ``long`` and ``paper``
(:func:`gafn_lib.repro.paths.profile_results_dir`). This module reads every one of those tables that
exists and lays them out as one table per notebook: a row per claim and metric, a column per
profile, each cell the verdict (*supported* / *contradicted* / *inconclusive*), the shift A − B
(Hodges–Lehmann: median pairwise difference) with its 95 % interval and the seeds per group, e.g.::

    supported: -0.015 [-0.021, -0.0088], n=5/5

Matching rows across profiles. A claim row is keyed by notebook, claim text, the two groups
compared (``label_a`` vs ``label_b``) and metric. Where one
notebook states the same claim at several grid sizes in one profile (notebook 01 at H = 8, 16, 32),
the size is part of the key (``H=8`` in the ``scope`` column): the quick profile's H = 8 row meets
the paper profile's H = 8 row, and H = 64 has a paper cell only. Where a claim has one scope per
profile (notebook 03 at H = 16 in quick, H = 32 in paper; the molecules' reduced and paper
rewards), the scope is the profile's *scale*: the rows meet and each cell names its scale.

Markers in a cell: ``stuck baseline`` (the comparison is against a run that never left its initial
value, so a win only shows that a goal was touched), ``L1s disagree`` (the cumulative-visit and
exact-policy L1 give different verdicts), ``saturated`` (every run at the metric's bound) and
``n=1`` (a single seed: no interval).

The results page, ``docs/results.md`` (``make results``, i.e. ``python -m gafn_lib.repro.report
--results-md docs/results.md --readme README.md``; :func:`write_results`): per notebook 00–07 what
the paper claims and what the notebook tests, its claims across profiles (cells as above, plus
``shared with`` and ``duplicate of`` marks), the count of *distinct* comparisons by verdict per
profile (:func:`distinct_verdict_counts`: the rule of ``claims.verdict_counts(..., distinct=True)``
on the stored tables), its figures per profile, and the training time the runs logged. Every number
on it comes from the tables; it also rewrites the README's summary table between
:data:`README_BEGIN` and :data:`README_END`. The generator takes the project root (and optionally
the results and figures folders), so tests build it from tables in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

from gafn_lib.repro.claims import CONTRADICTED, INCONCLUSIVE, SUPPORTED, VERDICTS
from gafn_lib.repro.plan_status import CURVES_FILE, PlanStatus, plan_status, planned_run_ids
from gafn_lib.repro.profiles import PROFILES
from gafn_lib.runner.durations import format_duration

#: Columns a notebook's full claims table must have for the report.
REQUIRED_COLUMNS = ("claim", "label_a", "label_b", "metric_name", "scope", "verdict_only", "difference", "ci_low", "ci_high", "n_a", "n_b")
#: File names of the full claims table, in order of preference (notebook 06 writes every column to ``claims.csv``).
CLAIMS_FILES = ("claims_full.csv", "claims.csv")


def profile_folder(results_root: str | Path, profile: str) -> Path:
    """``data/results`` for ``quick``, ``data/results/<profile>`` for ``long`` and ``paper``."""
    root = Path(results_root)
    return root if profile == "quick" else root / profile


def claims_file(notebook_dir: str | Path) -> Path | None:
    """The notebook's full claims table in ``notebook_dir`` (:data:`CLAIMS_FILES`, in order), or ``None``."""
    folder = Path(notebook_dir)
    return next((folder / f for f in CLAIMS_FILES if (folder / f).is_file()), None)


#: Columns read as text (empty cells become ``""``); per-seed values stay text, so one seed reads as ``"0.1"``.
TEXT_COLUMNS = ("scope", "notes", "reason", "shared_with", "duplicate_of", "repeats", "kind", "values_a", "values_b", "events_a", "events_b")


def read_claims_table(path: str | Path) -> pd.DataFrame:
    """One notebook's full claims table, with the text columns of :data:`TEXT_COLUMNS` that it has as
    text (``""`` for an empty cell). Older tables without ``shift``, ``test_name``, ``kind``,
    ``duplicate_of`` ... are read as they are.

    Raises:
        ValueError: naming the file, if the table lacks a column of :data:`REQUIRED_COLUMNS`
            (e.g. the display-only ``claims.csv`` of an old run without ``claims_full.csv``).
    """
    table = pd.read_csv(path, dtype={c: str for c in TEXT_COLUMNS})
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: claims table lacks column(s) {', '.join(missing)}; re-run its notebook to write the full table")
    for column in TEXT_COLUMNS:
        if column in table:
            table[column] = table[column].astype(object).where(table[column].notna(), "").astype(str)
    return table


def notebook_dirs(folder: str | Path) -> list[Path]:
    """The notebook folders (``NN_name``) directly under ``folder``, sorted; ``[]`` if it is missing."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and re.match(r"^\d\d_", p.name))


def load_claims(results_root: str | Path = "data/results", profiles: Sequence[str] = PROFILES) -> pd.DataFrame:
    """Every notebook's full claims table of every profile found under ``results_root``, stacked,
    with ``notebook`` (folder name) and ``profile`` columns. Empty (with those columns) if none exists.

    Raises:
        ValueError: naming the file, if a claims table lacks a column of :data:`REQUIRED_COLUMNS`
            (e.g. the display-only ``claims.csv`` of an old run without ``claims_full.csv``).
    """
    frames = []
    for profile in profiles:
        for notebook_dir in notebook_dirs(profile_folder(results_root, profile)):
            path = claims_file(notebook_dir)
            if path is not None:
                frames.append(read_claims_table(path).assign(notebook=notebook_dir.name, profile=profile))
    return _stack(frames)


def _stack(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The claims tables stacked; every column of :data:`TEXT_COLUMNS` present as text (``""`` where a
    table lacks it), so older and newer tables mix."""
    if not frames:
        return pd.DataFrame(columns=["notebook", "profile", *REQUIRED_COLUMNS])
    claims = pd.concat(frames, ignore_index=True)
    for column in TEXT_COLUMNS:
        claims[column] = claims[column].astype(object).where(claims[column].notna(), "").astype(str) if column in claims else ""
    return claims


def _axis(claims: pd.DataFrame) -> pd.Series:
    """``scope`` where it tells rows of one claim apart within some profile (a grid size), else ``""``."""
    key = ["notebook", "claim", "label_a", "label_b", "metric_name"]
    scopes = claims.groupby([*key, "profile"])["scope"].transform("nunique")
    is_axis = scopes.groupby([claims[k] for k in key]).transform("max") > 1
    return claims["scope"].where(is_axis, "")


def _num(x: float) -> str:
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.2g}"


def _missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or (not isinstance(x, str) and bool(pd.isna(x)))


def _text(row: pd.Series, column: str) -> str:
    """``row[column]`` as text, ``""`` when the column is absent or empty (NaN: a table without the
    column concatenated with one that has it)."""
    value = row.get(column, "")
    return "" if _missing(value) else str(value)


def cell(row: pd.Series, show_scope: bool) -> str:
    """One profile's verdict of one claim row, e.g. ``supported: -0.015 [-0.021, -0.0088], n=5/5``: the
    Hodges–Lehmann shift A − B and its interval (a relative non-inferiority row: ``ratio A/B``; a
    time-to-event row: ``KM medians``, the difference of the Kaplan–Meier medians; a table from
    before the shift column: the difference of means).

    Markers in parentheses: ``saturated``, ``stuck baseline``, ``L1s disagree``, ``non-inferiority,
    margin m``, ``shared with notebook NN`` (``shared_with``: another notebook counts these runs),
    ``duplicate of <claim (A vs B)>`` (``duplicate_of``: the row repeats another row's comparison),
    ``same groups and per-seed values as <claim (A vs B)>`` (``repeats``, from :func:`mark_repeats`: a
    row its table does not mark but whose :func:`comparison_key` an earlier row has) and, with
    ``show_scope``, the row's scope."""
    verdict = str(row["verdict_only"])
    # the effect the interval belongs to: the Hodges–Lehmann shift (tables from before it: the difference of means)
    shift = row.get("shift", math.nan)
    estimate = row["difference"] if _missing(shift) else shift
    kind = str(row.get("kind", "") or "")
    relative = str(row.get("relative", "")).strip().lower() in ("true", "1", "1.0")
    prefix = "KM medians " if kind == "time to event" else ("ratio A/B " if relative else "")
    if _missing(row["ci_low"]):
        effect = f"{prefix}{_num(estimate)} [no interval]"
    else:
        effect = f"{prefix}{_num(estimate)} [{_num(row['ci_low'])}, {_num(row['ci_high'])}]"
    text = f"{verdict}: {effect}, n={int(row['n_a'])}/{int(row['n_b'])}"
    markers = []
    notes, reason = str(row.get("notes", "")), str(row.get("reason", ""))
    if "saturated" in reason:
        markers.append("saturated")
    if "stuck at initial value" in notes:
        markers.append("stuck baseline")
    if "disagrees:" in notes:
        markers.append("L1s disagree")
    if kind == "non-inferiority" and not _missing(row.get("margin", math.nan)):
        margin = float(row["margin"])
        markers.append(f"non-inferiority, margin {margin * 100:g} %" if relative else f"non-inferiority, margin {margin:g}")
    shared, duplicate = _text(row, "shared_with"), _text(row, "duplicate_of")
    repeats = str(row.get("repeats", "") or "")
    if shared:
        markers.append(f"shared with {shared}")
    if duplicate:
        markers.append(f"duplicate of {duplicate}")
    elif repeats:
        markers.append(f"same groups and per-seed values as {repeats}")
    if show_scope and row["scope"]:
        markers.append(str(row["scope"]))
    return text + (f" ({'; '.join(markers)})" if markers else "")


def verdict_matrix(claims: pd.DataFrame, profiles: Sequence[str] = PROFILES, scope_in_cells: bool = True) -> pd.DataFrame:
    """One row per (notebook, claim, compared groups, metric, grid size), one column per profile present: the cell
    of :func:`cell`, ``""`` where that profile has no such row. Rows keep the notebooks' order. With
    ``scope_in_cells=False`` a cell does not repeat its profile's scale (shown elsewhere)."""
    columns = ["notebook", "claim", "comparison", "metric", "size", *[p for p in profiles if p in set(claims["profile"])]]
    if claims.empty:
        return pd.DataFrame(columns=columns)
    claims = claims.assign(size=_axis(claims))
    rows: dict[tuple, dict] = {}
    for _, row in claims.iterrows():
        comparison = f"{row['label_a']} vs {row['label_b']}"
        key = (row["notebook"], row["claim"], comparison, row["metric_name"], row["size"])
        entry = rows.setdefault(key, {"notebook": key[0], "claim": key[1], "comparison": comparison, "metric": key[3], "size": key[4]})
        entry[row["profile"]] = cell(row, show_scope=scope_in_cells and not row["size"])
    matrix = pd.DataFrame(list(rows.values()))
    for profile in columns[5:]:
        matrix[profile] = matrix[profile].fillna("") if profile in matrix else ""
    return matrix[columns]


def verdict_totals(claims: pd.DataFrame) -> pd.DataFrame:
    """Rows of each verdict per profile (``profile × verdict`` counts)."""
    if claims.empty:
        return pd.DataFrame()
    return claims.pivot_table(index="profile", columns="verdict_only", values="claim", aggfunc="count", fill_value=0)


def to_markdown(matrix: pd.DataFrame) -> str:
    """The matrix as one markdown table per notebook (pipes in cells escaped)."""
    if matrix.empty:
        return "no claims tables found\n"
    all_profiles = [c for c in matrix.columns if c not in ("notebook", "claim", "comparison", "metric", "size")]
    out = []
    for notebook, block in matrix.groupby("notebook", sort=False):
        profiles = [p for p in all_profiles if block[p].astype(bool).any()]  # the profiles this notebook has results for
        out.append(f"### {notebook}\n")
        header = ["claim", "A vs B", "metric", *profiles]
        out.append("| " + " | ".join(header) + " |")
        out.append("| " + " | ".join("---" for _ in header) + " |")
        for _, row in block.iterrows():
            metric = row["metric"] + (f", {row['size']}" if row["size"] else "")
            cells = [row["claim"], row["comparison"], metric, *[row[p] or "—" for p in profiles]]
            out.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
        out.append("")
    return "\n".join(out) + "\n"


#: File name of the summary ``make figures`` writes into ``data/results/`` after a successful run.
SUMMARY_FILE = "claims_by_profile.md"


def summary_markdown(claims: pd.DataFrame, profiles: Sequence[str] = PROFILES) -> str:
    """The whole report as one markdown document: a title, the per-notebook tables and the verdict
    counts per profile."""
    head = (
        "# Every claim's verdict, by profile\n\n"
        "Written by `make figures` (`gafn_lib.repro.report`) from the claims tables in this folder "
        "(`<notebook>/claims_full.csv` for quick, `<profile>/<notebook>/` for long and paper). A cell: "
        "verdict, shift A − B (median pairwise difference) with its 95 % interval over seeds, seeds per group; "
        "markers: stuck baseline, L1s disagree, saturated; the scale where a claim has one per profile.\n\n"
    )
    totals = verdict_totals(claims)
    tail = ""
    if not totals.empty:
        cols = list(totals.columns)
        tail = "## Verdicts per profile (claim rows)\n\n| profile | " + " | ".join(cols) + " |\n| --- |" + " --- |" * len(cols) + "\n"
        tail += "".join(f"| {p} | " + " | ".join(str(int(totals.loc[p, c])) for c in cols) + " |\n" for p in totals.index)
    return head + to_markdown(verdict_matrix(claims, profiles)) + tail


def write_summary(results_dir: str | Path, path: str | Path | None = None) -> Path | None:
    """Write :func:`summary_markdown` of every claims table under ``results_dir`` to ``path``
    (default ``results_dir/claims_by_profile.md``); ``None`` (and nothing written) without tables."""
    claims = load_claims(results_dir)
    if claims.empty:
        return None
    from gafn_lib.runner.store import atomic_write_text

    target = Path(path) if path is not None else Path(results_dir) / SUMMARY_FILE
    atomic_write_text(target, summary_markdown(claims))
    return target


# ---------------------------------------------------------------------------- docs/results.md
#: Where ``make results`` writes the results page, relative to the project root.
RESULTS_FILE = Path("docs") / "results.md"
#: The README's generated summary table lies between these two lines (``make results`` rewrites it).
README_BEGIN = "<!-- results-summary:begin (generated by `make results` from the claims tables; edits here are overwritten) -->"
README_END = "<!-- results-summary:end -->"
#: What a cell says where a profile has no results for a notebook.
NOT_RUN = "not run at this profile"


@dataclass(frozen=True)
class NotebookIntro:
    """The header of a notebook's section: what the paper claims and what the notebook tests (plain
    words: no measured number is written by hand; every number of the page comes from the tables)."""

    paper: str
    tests: str


#: Per notebook number: the paper's claim and what the notebook tests.
NOTEBOOK_INTROS: dict[str, NotebookIntro] = {
    "00": NotebookIntro(
        "A GAFlowNet (trajectory balance with joint augmented flows from an RND novelty bonus) learns the target "
        "distribution of a sparse-reward grid, where a plain GFlowNet (TB) explores badly.",
        "A tutorial on one small grid: GAFlowNet against GFlowNet (TB) on both L1 errors (over all visited states; of "
        "the exact policy, by dynamic programming), goals found and goals the final policy covers. It also swaps the "
        "objective and the intrinsic reward (shown, not tested as claims).",
    ),
    "01": NotebookIntro(
        "On the 2-D sparse-reward GridWorld (three goals), GAFlowNet reaches a lower L1 error and finds the modes faster "
        "than GFlowNet (TB), MCMC and PPO, at every grid size (§5.1, the GridWorld comparison figure).",
        "The final value of each seed at every grid size of the profile: the paper's cumulative-visit L1 and the exact "
        "policy's L1 against each baseline (MCMC has no policy: visited L1 only), goals found, and goals covered by the "
        "final policy (our addition).",
    ),
    "02": NotebookIntro(
        "GAFlowNet's sampling distribution puts mass on all three goals, while TB concentrates on one or two of them "
        "(§5.1, heat maps of the learned distribution).",
        "The exact terminal distribution of each final policy and the histogram of visited states, per seed, on 01's "
        "GAFlowNet and TB runs (shared runs: the same evidence as 01, not new evidence): goals covered, the L1 error "
        "and the mass each goal receives.",
    ),
    "03": NotebookIntro(
        "The joint augmentation has the lowest error: edge-based augmentation explores only locally, node-based explores "
        "broadly but converges to a larger error; RND is an effective intrinsic reward; η must lie in a sensible range "
        "(§5.1, ablations).",
        "Joint vs edge vs node, RND vs a count bonus η/√N (our addition) vs none, and a sweep of η, each against TB, at "
        "one grid size per profile (the joint and none runs are 01's).",
    ),
    "04": NotebookIntro(
        "The augmented flows are not tied to trajectory balance: added to flow matching (FM) and detailed balance (DB) "
        "they improve them in the same way (§5.1).",
        "FM, DB and SubTB(λ) (SubTB: our addition), each with and without joint RND augmentation: the L1 errors and the "
        "goals covered.",
    ),
    "05": NotebookIntro(
        "On the classic hypergrid reward of Bengio et al. (2021), which is nowhere zero, GAFlowNet is still effective "
        "compared with TB (§5.1).",
        "GAFlowNet vs TB on the dense reward (its bands computed exactly) at the standard floor R0 and at a much lower "
        "one, where the modes are separated by regions of almost no reward: the L1 errors and the modes covered.",
    ),
    "06": NotebookIntro(
        "On the fragment-based molecule MDP with the sEH proxy and a sparse reward, MARS does poorly, PPO finds better "
        "molecules than MARS but both produce highly similar molecules, the GFlowNet is diverse but lower in quality, and "
        "GAFlowNet is best on both quality and diversity (the molecule experiment).",
        "GAFlowNet, GFlowNet, PPO, MARS and random search (the floor every learner must beat) on the final top-10 reward, "
        "the modes above the score threshold and the top-10 Tanimoto similarity, over seeds; and seed by seed, each "
        "learner's late-training hit rate against random search's and GAFlowNet's against each GFlowNet's. The scale "
        "(reward threshold, molecules per run) is each profile's: see the scope column.",
    ),
    "07": NotebookIntro(
        "None: the notebook shows how to extend the library.",
        "A custom hypergrid reward, a new environment (bit strings, trained with TB, DB and FM and evaluated exactly) "
        "and a new intrinsic reward (SimHash counts), each in short user code. Its tables hold measured values, not "
        "claims.",
    ),
}

#: Per notebook number: the name prefixes of the figures it saves (``plotting.save_figure``); a
#: notebook not listed here is matched by its folder name without the number.
NOTEBOOK_FIGURES: dict[str, tuple[str, ...]] = {
    "00": ("quickstart_",),
    "01": ("gridworld_comparison_",),
    "02": ("sampling_distributions_",),
    "03": ("ablation_",),
    "04": ("objectives_",),
    "05": ("dense_reward",),
    "06": ("molecules_",),
    "07": ("extending_",),
}


def _floats(text: object) -> tuple[float, ...]:
    """Per-seed values as stored in a claims table (``"0.1 0.2"``; one seed may read as a number)."""
    if _missing(text):
        return ()
    return tuple(float(v) for v in str(text).split())


def comparison_key(row: pd.Series) -> tuple:
    """What makes two rows of the claims tables the same comparison: the same test on the same runs
    (kind, metric, scope, margin and, whichever group is called A, each group's label, per-seed values
    and events), as :attr:`gafn_lib.repro.claims.ClaimResult.comparison_key` does on results (the
    tables keep the values to 4 significant digits). Tables without ``kind``/``margin``/``events``
    columns are superiority rows."""
    kind = _text(row, "kind") or "superiority"
    margin = row.get("margin", math.nan)
    relative = str(row.get("relative", "")).strip().lower() in ("true", "1", "1.0")
    margin_key = None if _missing(margin) else (float(margin), relative)

    def group(side: str) -> tuple:
        events = _text(row, f"events_{side}")
        return (str(row[f"label_{side}"]), _floats(row.get(f"values_{side}", "")), tuple(events.split()) or None)

    return (kind, str(row["metric_name"]), str(row["scope"]), margin_key, frozenset({group("a"), group("b")}))


def distinct_mask(table: pd.DataFrame) -> pd.Series:
    """One bool per row of ``table`` (in its order): True for the rows that count as distinct
    comparisons: no ``duplicate_of``, and the first row of every :func:`comparison_key` — the rule of
    :func:`gafn_lib.repro.claims.distinct_results`, applied to stored tables."""
    seen: set[tuple] = set()
    keep = []
    for _, row in table.iterrows():
        key = comparison_key(row)
        if _text(row, "duplicate_of") or key in seen:
            keep.append(False)
            continue
        seen.add(key)
        keep.append(True)
    return pd.Series(keep, index=table.index, dtype=bool)


def mark_repeats(table: pd.DataFrame) -> pd.Series:
    """For every row of ``table`` that its table does not mark ``duplicate_of`` but whose
    :func:`comparison_key` an earlier row already has: that row, named as
    :func:`gafn_lib.repro.claims.mark_duplicates` names it (``"<claim> (<A> vs <B>)"``); ``""``
    otherwise. These rows are left out of the distinct counts (:func:`distinct_mask`), as the library
    leaves them out; the page says what was found (the same groups and per-seed values) rather than
    calling them duplicates, since two different sets of runs can end with identical per-seed values
    (a saturated metric) where the scope does not tell them apart."""
    first: dict[tuple, str] = {}
    marks = []
    for _, row in table.iterrows():
        key = comparison_key(row)
        own = _text(row, "duplicate_of")
        marks.append("" if own else first.get(key, ""))
        first.setdefault(key, f"{row['claim']} ({row['label_a']} vs {row['label_b']})")
    return pd.Series(marks, index=table.index, dtype=object)


def distinct_verdict_counts(table: pd.DataFrame) -> dict[str, int]:
    """Distinct comparisons of ``table`` per verdict (every verdict listed, zeros included): what
    :func:`gafn_lib.repro.claims.verdict_counts` with ``distinct=True`` gives on the results."""
    counts = {v: 0 for v in VERDICTS}
    if table.empty:
        return counts
    for verdict in table.loc[distinct_mask(table), "verdict_only"]:
        counts[str(verdict)] = counts.get(str(verdict), 0) + 1
    return counts


def _counts_text(counts: dict[str, int]) -> str:
    return " / ".join(str(counts.get(v, 0)) for v in (SUPPORTED, CONTRADICTED, INCONCLUSIVE))


@dataclass
class NotebookResults:
    """What one notebook left at one profile: its folder, its claims table (or why there is none)
    and its other tables."""

    folder: Path | None
    claims: pd.DataFrame | None = None
    claims_path: Path | None = None
    error: str = ""
    plan: PlanStatus | None = None  # the profile's current plan and its sweep (profiles with a run archive)

    @property
    def plan_note(self) -> str:
        """Why these tables are not the current plan's, and how far its sweep is (empty if they are)."""
        return self.plan.note() if self.plan is not None and self.ran else ""

    @property
    def ran(self) -> bool:
        """The notebook wrote a folder of tables at this profile."""
        return self.folder is not None

    def other_tables(self) -> list[Path]:
        """The notebook's CSV tables other than its claims tables."""
        if self.folder is None:
            return []
        return sorted(p for p in self.folder.glob("*.csv") if p.name not in CLAIMS_FILES)


def collect_results(results_root: str | Path, notebooks: Sequence[str], profiles: Sequence[str] = PROFILES,
                    archives: dict[str, Path] | None = None,
                    plan: Callable[[str, str], dict[str, list[str]] | None] = planned_run_ids) -> dict[tuple[str, str], NotebookResults]:
    """Per (notebook, profile): the notebook's results under ``results_root`` (quick: the root
    itself, other profiles: ``<root>/<profile>``). A claims table that cannot be read is reported in
    :attr:`NotebookResults.error`, never raised, so one old table does not hide the others.

    ``archives`` (profile → its committed run archive, e.g. ``data/runs/paper``; a profile without
    one, or whose folder does not exist, gets none) adds :attr:`NotebookResults.plan`: whether the
    tables are those of the notebook's current plan (``plan(notebook, profile)``: its run ids by
    store, :func:`gafn_lib.repro.plan_status.planned_run_ids`) and how many of its runs are done."""
    found: dict[tuple[str, str], NotebookResults] = {}
    archives = {p: a for p, a in (archives or {}).items() if a is not None and Path(a).is_dir()}
    for profile in profiles:
        base = profile_folder(results_root, profile)
        for notebook in notebooks:
            folder = base / notebook
            status = plan_status(notebook, profile, folder if folder.is_dir() else None, archives[profile], plan) \
                if profile in archives else None
            if not folder.is_dir() or not any(folder.iterdir()):
                found[(notebook, profile)] = NotebookResults(None, plan=status)
                continue
            entry = NotebookResults(folder, claims_path=claims_file(folder), plan=status)
            if entry.claims_path is not None:
                try:
                    entry.claims = read_claims_table(entry.claims_path).assign(notebook=notebook, profile=profile)
                except ValueError as err:
                    entry.error = str(err)
            found[(notebook, profile)] = entry
    return found


def discover_notebooks(root: str | Path, results_root: str | Path, profiles: Sequence[str] = PROFILES) -> list[str]:
    """The notebooks to report, by folder name (``01_gridworld_comparison``): every ``notebooks/NN_*.ipynb``
    of the project and every notebook folder of the results, sorted."""
    names = {p.stem for p in (Path(root) / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    for profile in profiles:
        names.update(p.name for p in notebook_dirs(profile_folder(results_root, profile)))
    return sorted(names)


def notebook_title(root: str | Path, notebook: str) -> str:
    """The first heading of ``notebooks/<notebook>.ipynb`` (e.g. ``01 · GridWorld: ...``), else the folder name."""
    path = Path(root) / "notebooks" / f"{notebook}.ipynb"
    try:
        cells = json.loads(path.read_text())["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return notebook
    for c in cells:
        if c.get("cell_type") == "markdown":
            source = "".join(c.get("source", []))
            match = re.search(r"^#\s+(.+)$", source, flags=re.M)
            if match:
                return match.group(1).strip()
    return notebook


def _natural(path: Path) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def notebook_figures(figures_root: str | Path, notebook: str, profile: str) -> list[Path]:
    """The PNG figures ``notebook`` saved at ``profile`` (``figures/`` for quick, ``figures/<profile>/``
    otherwise), matched by :data:`NOTEBOOK_FIGURES`; sorted with numbers in order (H16 before H128)."""
    folder = profile_folder(figures_root, profile)
    prefixes = NOTEBOOK_FIGURES.get(notebook[:2], (notebook[3:],))
    found = {p for prefix in prefixes for p in folder.glob(f"{prefix}*.png") if p.is_file()}
    return sorted(found, key=_natural)


def logged_compute(results_root: str | Path, notebooks: Sequence[str], profiles: Sequence[str] = PROFILES) -> pd.DataFrame:
    """The training time the runs themselves logged: for every notebook's ``curves.csv`` with ``run``
    and ``wall_seconds`` columns, the last row of each run (``wall_seconds`` there is the run's share of
    its trainer's time in training steps — an ensemble's time divided by its members — summed over
    resumes; evaluation, set-up and notebook execution are not in it). One row per (profile,
    notebook, run): ``profile``, ``notebook``, ``run``, ``wall_seconds``, ``n_steps`` (NaN if absent)."""
    rows = []
    for profile in profiles:
        for notebook in notebooks:
            path = profile_folder(results_root, profile) / notebook / CURVES_FILE
            if not path.is_file():
                continue
            wanted = ("run", "wall_seconds", "step", "n_steps")
            curves = pd.read_csv(path, usecols=lambda c: c in wanted, dtype={"run": str})
            if "run" not in curves or "wall_seconds" not in curves:
                continue
            if "step" in curves:
                curves = curves.sort_values("step", kind="stable")
            last = curves.groupby("run", sort=False).tail(1)
            rows.append(pd.DataFrame({
                "profile": profile, "notebook": notebook, "run": last["run"].astype(str).to_numpy(),
                "wall_seconds": last["wall_seconds"].astype(float).to_numpy(),
                "n_steps": last["n_steps"].astype(float).to_numpy() if "n_steps" in last else math.nan,
            }))
    if not rows:
        return pd.DataFrame(columns=["profile", "notebook", "run", "wall_seconds", "n_steps"])
    return pd.concat(rows, ignore_index=True)


def _steps_text(steps: pd.Series) -> str:
    values = sorted({int(s) for s in steps.dropna()})
    if not values:
        return "—"
    return f"{values[0]:,}" if len(values) == 1 else f"{values[0]:,}–{values[-1]:,}"


def _link(target: Path, base: Path) -> str:
    """``target`` relative to the folder ``base``, with ``/`` separators (a markdown link)."""
    return Path(os.path.relpath(Path(target).resolve(), Path(base).resolve())).as_posix()


def _escape(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def heading_anchor(title: str) -> str:
    """The anchor GitHub gives a markdown heading: lower case, punctuation dropped (letters, digits,
    ``_`` and ``-`` kept), each space a ``-``."""
    kept = "".join(ch for ch in title.strip().lower() if ch.isalnum() or ch in " -_")
    return kept.replace(" ", "-")


def _profile_cell(entry: NotebookResults) -> str:
    """A notebook × profile cell of the summary table: the distinct verdict counts, or why there are
    none; where the tables are not the current plan's, what they are and how far the plan is."""
    if not entry.ran:
        return f"not run yet; {entry.plan.progress()}" if entry.plan is not None and entry.plan.archived else NOT_RUN
    if entry.error:
        text = "claims table unreadable"
    elif entry.claims is None:
        text = "no claims (tables only)"
    else:
        text = _counts_text(distinct_verdict_counts(entry.claims))
    return text + (f" ({entry.plan_note})" if entry.plan_note else "")


def summary_table(found: dict[tuple[str, str], NotebookResults], notebooks: Sequence[str], profiles: Sequence[str],
                  titles: dict[str, str] | None = None) -> str:
    """The notebook × profile table of distinct comparisons by verdict (supported / contradicted /
    inconclusive), with a last row counting each comparison once across all notebooks of a profile.
    With ``titles`` each notebook is named by its title, linked to its section of the same page."""
    head = ["notebook", *profiles]
    out = ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    for notebook in notebooks:
        name = f"[{titles[notebook]}](#{heading_anchor(titles[notebook])})" if titles and notebook in titles else notebook
        cells = [_escape(name), *[_profile_cell(found[(notebook, p)]) for p in profiles]]
        out.append("| " + " | ".join(cells) + " |")
    totals = []
    for profile in profiles:
        tables = [found[(n, profile)].claims for n in notebooks if found[(n, profile)].claims is not None]
        earlier = any(found[(n, profile)].plan_note for n in notebooks if found[(n, profile)].claims is not None)
        totals.append((f"**{_counts_text(distinct_verdict_counts(pd.concat(tables, ignore_index=True)))}**"
                       + (" (with earlier sweeps)" if earlier else "")) if tables else f"**{NOT_RUN}**")
    out.append("| **all notebooks** (a comparison counted once, whichever notebook states it) | " + " | ".join(totals) + " |")
    return "\n".join(out) + "\n"


def _compute_section(compute: pd.DataFrame, notebooks: Sequence[str], profiles: Sequence[str], titles: dict[str, str]) -> str:
    if compute.empty:
        return ""
    out = [
        "## Compute the runs logged\n",
        "Training time each run logged in its notebook's `curves.csv` (`wall_seconds` of its last row: the run's share "
        "of its trainer's time in training steps, an ensemble's time divided by its members, one torch thread per run; "
        "evaluation, set-up and notebook execution are not in it), summed over runs. A run two notebooks share "
        "(same run id) is counted once in the profile's total. Measured wall-clock times of whole sweeps and of "
        "`make figures` (dates, machine load) are in [notes.md](notes.md) and [paper_profile.md](paper_profile.md).\n",
        "| profile | notebook | runs | steps per run | training time |",
        "| --- | --- | --- | --- | --- |",
    ]
    for profile in profiles:
        block = compute[compute["profile"] == profile]
        if block.empty:
            continue
        for notebook in notebooks:
            rows = block[block["notebook"] == notebook]
            if not rows.empty:
                out.append(f"| {profile} | {_escape(titles.get(notebook, notebook))} | {len(rows)} | {_steps_text(rows['n_steps'])} | "
                           f"{format_duration(float(rows['wall_seconds'].sum()))} |")
        unique = block.drop_duplicates("run")
        out.append(f"| **{profile}** | **all** (each run once) | **{len(unique)}** | {_steps_text(unique['n_steps'])} | "
                   f"**{format_duration(float(unique['wall_seconds'].sum()))}** |")
    without = [n for n in notebooks if not any(((compute["profile"] == p) & (compute["notebook"] == n)).any() for p in profiles)]
    if without:
        out.append("\nNo per-run log in the tables of: " + ", ".join(f"`{n}`" for n in without)
                   + " (a notebook that draws another's runs, or trains small runs of its own without a curves table).")
    return "\n".join(out) + "\n\n"


def _statistics(table: pd.DataFrame) -> str:
    """The interval methods (and tests, where the table names them) a claims table used."""
    parts = sorted({str(m) for m in table.get("interval_method", pd.Series(dtype=object)).dropna() if str(m) and str(m) != "none"})
    text = "; ".join(parts) or "—"
    if "test_name" in table:
        tests = sorted({str(t) for t in table["test_name"].dropna() if str(t)})
        if tests:
            text += " · test: " + "; ".join(tests)
    return text


#: Per notebook number: its seed-by-seed tables (file name, and the reference method of a row
#: without a ``reference`` column: tables of one reference, or written before the column existed).
#: Each row compares one method with a reference, seed against seed (a pooled two-proportion z per
#: seed; columns ``method``, ``seeds``, ``z``, ``verdict``): this decides about the runs at any
#: number of seeds, where the claims over seeds need 4 seeds per group.
SEEDWISE_TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "06": (("hit_rate_vs_random.csv", "Random"), ("hit_rate_gafn_vs_gfn.csv", "GFlowNet")),
}
SEEDWISE_COLUMNS = ("method", "seeds", "z", "verdict")


def _seedwise_section(out_dir: Path, notebook: str, found: dict[tuple[str, str], NotebookResults], profiles: Sequence[str]) -> list[str]:
    """The rows of the notebook's :data:`SEEDWISE_TABLES` of every profile that wrote them, as one
    markdown table (empty when there are none). A table without the columns is named, not raised."""
    lines: list[str] = []
    for profile in profiles:
        folder = found[(notebook, profile)].folder
        for name, reference in SEEDWISE_TABLES.get(notebook[:2], ()):
            path = None if folder is None else folder / name
            if path is None or not path.is_file():
                continue
            table = pd.read_csv(path, dtype=str).fillna("")
            missing = [c for c in SEEDWISE_COLUMNS if c not in table.columns]
            link = f"[{name}]({_link(path, out_dir)})"
            if missing:
                lines.append(f"| {profile} | {link}: lacks the columns {', '.join(missing)} | | | | |")
                continue
            for _, row in table.iterrows():
                against = row.get("reference") or reference
                lines.append("| " + " | ".join(_escape(c) for c in (profile, row["method"], against, row["seeds"], row["z"], row["verdict"])) + " |")
    if not lines:
        return []
    return [
        "**Seed by seed** (late-training hit rate, seed against the same seed of the reference: pooled two-proportion "
        "z, one-sided 5 % at z > 1.645; *beats* or *worse than* only when every seed agrees). This decides about these "
        "runs at any number of seeds; the claims above are over seeds.\n",
        "| profile | method | against | seeds | z per seed | verdict |",
        "| --- | --- | --- | --- | --- | --- |",
        *lines,
        "",
    ]


def _notebook_section(out_dir: Path, notebook: str, title: str, found: dict[tuple[str, str], NotebookResults],
                      figures_root: Path, profiles: Sequence[str]) -> str:
    intro = NOTEBOOK_INTROS.get(notebook[:2])
    out = [f"## {title}\n"]
    if intro is not None:
        out.append(f"**The paper's claim.** {intro.paper}\n")
        out.append(f"**What the notebook tests.** {intro.tests}\n")
    # per profile: where the table is, the scopes, the statistics, the distinct verdict counts
    out.append("| profile | claims table | scope | interval (and test) | distinct comparisons: supported / contradicted / inconclusive |")
    out.append("| --- | --- | --- | --- | --- |")
    for profile in profiles:
        entry = found[(notebook, profile)]
        if not entry.ran:
            out.append(f"| {profile} | {NOT_RUN} | | | |")
        elif entry.error:
            out.append(f"| {profile} | unreadable: {_escape(entry.error)} | | | |")
        elif entry.claims is None:
            tables = ", ".join(f"[{p.name}]({_link(p, out_dir)})" for p in entry.other_tables()) or "none"
            out.append(f"| {profile} | no claims table (tables: {tables}) | | | |")
        else:
            table = entry.claims
            scopes = ", ".join(dict.fromkeys(str(s) for s in table["scope"] if str(s))) or "—"
            link = f"[{entry.claims_path.name}]({_link(entry.claims_path, out_dir)})"
            note = f" · **{_escape(entry.plan_note)}**" if entry.plan_note else ""
            out.append(f"| {profile} | {link} ({len(table)} rows){note} | {_escape(scopes)} | {_escape(_statistics(table))} | "
                       f"{_counts_text(distinct_verdict_counts(table))} |")
    out.append("")
    tables = [found[(notebook, p)].claims for p in profiles if found[(notebook, p)].claims is not None]
    if tables:
        marked = [t.assign(repeats=mark_repeats(t)) for t in tables]
        matrix = verdict_matrix(_stack(marked), profiles, scope_in_cells=False)
        shown = [p for p in profiles if p in matrix.columns]
        header = ["claim", "A vs B", "metric", *shown]
        out.append("| " + " | ".join(header) + " |")
        out.append("| " + " | ".join("---" for _ in header) + " |")
        for _, row in matrix.iterrows():
            metric = row["metric"] + (f", {row['size']}" if row["size"] else "")
            cells = [row["claim"], row["comparison"], metric, *[row[p] or "—" for p in shown]]
            out.append("| " + " | ".join(_escape(c) for c in cells) + " |")
        missing = [p for p in profiles if p not in shown]
        if missing:
            out.append("\n" + "; ".join(f"{p}: {NOT_RUN if not found[(notebook, p)].ran else 'no claims table'}" for p in missing) + ".")
        out.append("")
    out.extend(_seedwise_section(out_dir, notebook, found, profiles))
    figures = {p: notebook_figures(figures_root, notebook, p) for p in profiles}
    if any(figures.values()):
        out.append(f"### Figures of {notebook}\n")
        for profile in profiles:
            if figures[profile]:
                out.append(f"**{profile}**\n")
                out.extend(f"![{f.stem} ({profile})]({_link(f, out_dir)})\n" for f in figures[profile])
    return "\n".join(out) + "\n"


def run_archives(root: Path, profiles: Sequence[str]) -> dict[str, Path]:
    """Profile → its committed run archive under the project ``root`` (the profiles that have one)."""
    from gafn_lib.repro.paths import run_archive_dir

    return {p: a for p in profiles if (a := run_archive_dir(p, root)) is not None}


def results_markdown(root: str | Path, out_path: str | Path, profiles: Sequence[str] = PROFILES,
                     results_root: str | Path | None = None, figures_root: str | Path | None = None,
                     plan: Callable[[str, str], dict[str, list[str]] | None] = planned_run_ids) -> str:
    """The results page (``docs/results.md``), generated from the tables alone.

    Args:
        root: the project root (its ``notebooks/`` give the notebooks' titles).
        out_path: where the page will be written; links to tables and figures are relative to its folder.
        profiles: the profiles to show, in column order.
        results_root: the claims tables (default ``<root>/data/results``; other profiles in ``<profile>/``).
        figures_root: the figures (default ``<root>/figures``; other profiles in ``<profile>/``).
        plan: a notebook's current run ids by store at a profile (default: its notebook's default
            parameters); with the run archives under ``<root>/data/runs/`` it marks the tables of
            an earlier sweep (:mod:`gafn_lib.repro.plan_status`).

    Returns:
        The page: how to read it, a summary of distinct comparisons per notebook and profile, the
        compute the runs logged, then per notebook a header (the paper's claim, what the notebook
        tests), its tables per profile, every claim row across profiles and its figures.
    """
    root = Path(root)
    results_root = Path(results_root) if results_root is not None else root / "data" / "results"
    figures_root = Path(figures_root) if figures_root is not None else root / "figures"
    out_dir = Path(out_path).parent
    notebooks = discover_notebooks(root, results_root, profiles)
    titles = {n: notebook_title(root, n) for n in notebooks}
    found = collect_results(results_root, notebooks, profiles, run_archives(root, profiles), plan)
    head = (
        "# Results: every claim of the paper, by notebook and profile\n\n"
        "*Generated by `make results` (`python -m gafn_lib.repro.report --results-md docs/results.md`) from the "
        "committed claims tables in `data/results/` (quick), `data/results/paper/` and `data/results/long/`, and the "
        "figures in `figures/`, `figures/paper/`, `figures/long/`. Do not edit by hand: regenerate it after new runs. "
        "Notes that are not numbers (what the results mean, caveats, history): [notes.md](notes.md).*\n\n"
        "**Reading a cell.** `verdict: effect [95 % interval], n=A/B`. The verdict is *supported*, *contradicted* or "
        "*inconclusive* (the rule: `gafn_lib/repro/claims.py`). The effect is A − B: the Hodges–Lehmann shift where "
        "the table has one (the current rule), else the difference of means (tables written under an earlier rule; "
        "each notebook's table below names its interval method); `ratio A/B` for a relative non-inferiority row, "
        "`KM medians` for a time-to-event row. `n` is seeds per group. Markers: *saturated* (every run at the "
        "metric's bound), *stuck baseline* (against a run that never left its initial value), *L1s disagree* (the "
        "visited and exact L1 give different verdicts), *shared with notebook NN* (another notebook counts the same "
        "runs: not independent evidence), *duplicate of …* (the notebook marked the row as repeating another row's "
        "comparison), *same groups and per-seed values as …* (a row its table does not mark, with the same groups, "
        "metric, scope and per-seed values as an earlier row: usually a claim restated on the same runs; two "
        "different run sets with identical values, e.g. a saturated metric, also meet this), and the scale "
        "where a claim has one per profile. `—`: this profile has the notebook's table but not this row (e.g. a grid "
        "size it does not run).\n\n"
        "**Counting.** *Distinct comparisons* count each test on the same runs once: rows marked duplicate and "
        "rows with the same groups, metric, scope and per-seed values as an earlier row are left out, as "
        "`gafn_lib.repro.claims.verdict_counts(..., distinct=True)` does.\n\n"
        "**Earlier sweeps.** The paper and long profiles are trained over many sittings into a committed run "
        "archive (`data/runs/<profile>/`), and a notebook's tables are redrawn only when its sweep is complete. "
        "A table marked *earlier sweep* was drawn from other runs than the notebook's current plan (e.g. 3 seeds "
        "where the plan has 10); the mark says how many of the plan's runs are done "
        "(`gafn_lib/repro/plan_status.py`).\n\n"
        "## Summary: distinct comparisons by verdict (supported / contradicted / inconclusive)\n\n"
    )
    body = summary_table(found, notebooks, profiles, titles) + "\n"
    body += _compute_section(logged_compute(results_root, notebooks, profiles), notebooks, profiles, titles)
    for notebook in notebooks:
        body += _notebook_section(out_dir, notebook, titles[notebook], found, figures_root, profiles)
    return head + body


def readme_summary(root: str | Path, results_md: str | Path, readme_dir: str | Path, profiles: Sequence[str] = PROFILES,
                   results_root: str | Path | None = None,
                   plan: Callable[[str, str], dict[str, list[str]] | None] = planned_run_ids) -> str:
    """The README's summary block: the notebook × profile table of distinct verdict counts and a link
    to the results page (relative to ``readme_dir``), between :data:`README_BEGIN` and :data:`README_END`."""
    root = Path(root)
    results_root = Path(results_root) if results_root is not None else root / "data" / "results"
    notebooks = discover_notebooks(root, results_root, profiles)
    found = collect_results(results_root, notebooks, profiles, run_archives(root, profiles), plan)
    link = _link(Path(results_md), Path(readme_dir))
    return (
        f"{README_BEGIN}\n"
        f"Distinct comparisons per notebook and profile, **supported / contradicted / inconclusive** "
        f"(every claim, interval and figure: [{link}]({link})):\n\n"
        + summary_table(found, notebooks, profiles)
        + f"{README_END}"
    )


def replace_readme_block(text: str, block: str) -> str:
    """``text`` with the lines from :data:`README_BEGIN` to :data:`README_END` replaced by ``block``.

    Raises:
        ValueError: if the markers are missing, repeated or out of order.
    """
    begin, end = text.find(README_BEGIN), text.find(README_END)
    if begin < 0 or end < begin or text.count(README_BEGIN) != 1 or text.count(README_END) != 1:
        raise ValueError(f"the README needs one line {README_BEGIN!r} and, after it, one line {README_END!r}")
    return text[:begin] + block + text[end + len(README_END):]


def write_results(root: str | Path, out_path: str | Path | None = None, readme: str | Path | None = None,
                  profiles: Sequence[str] = PROFILES, results_root: str | Path | None = None,
                  figures_root: str | Path | None = None,
                  plan: Callable[[str, str], dict[str, list[str]] | None] = planned_run_ids) -> Path:
    """Write :func:`results_markdown` to ``out_path`` (default ``<root>/docs/results.md``) and, with
    ``readme``, rewrite that file's summary block (:func:`readme_summary`). Returns the page's path.

    Raises:
        ValueError: if ``readme`` lacks the summary markers (nothing is written then).
    """
    root = Path(root)
    target = Path(out_path) if out_path is not None else root / RESULTS_FILE
    page = results_markdown(root, target, profiles, results_root, figures_root, plan)
    new_readme = None
    if readme is not None:
        readme = Path(readme)
        new_readme = replace_readme_block(readme.read_text(), readme_summary(root, target, readme.parent, profiles, results_root, plan))
    from gafn_lib.runner.store import atomic_write_text

    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target, page)
    if new_readme is not None:
        atomic_write_text(readme, new_readme)
    return target


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gafn_lib.repro.report [--results-dir data/results] [--profiles quick,paper,long] [--only 01,06] [--csv FILE] [--markdown FILE] [--results-md FILE [--root DIR] [--readme FILE]]``:
    print every claim's verdict per profile as markdown tables, then the verdict counts per profile.

    With ``--results-md FILE`` (``make results``: ``--results-md docs/results.md --readme README.md``)
    it writes the results page instead (:func:`write_results`: every notebook's claims across
    profiles, distinct verdict counts, figures, logged compute) and, with ``--readme``, rewrites that
    file's generated summary table.
    """
    parser = argparse.ArgumentParser(prog="python -m gafn_lib.repro.report", description=main.__doc__.splitlines()[1].strip())
    parser.add_argument("--results-dir", default=None, help="default: the project's data/results (with --results-md: <root>/data/results)")
    parser.add_argument("--profiles", default=",".join(PROFILES), help=f"comma-separated, from {', '.join(PROFILES)}")
    parser.add_argument("--only", default=None, help="notebook numbers, e.g. 01,06")
    parser.add_argument("--csv", default=None, help="also write the matrix to this CSV file")
    parser.add_argument("--markdown", default=None, help=f"also write the whole report to this markdown file (make figures writes data/results/{SUMMARY_FILE})")
    parser.add_argument("--results-md", default=None, help=f"write the results page to this file (make results: {RESULTS_FILE.as_posix()}) and print nothing else")
    parser.add_argument("--root", default=None, help="with --results-md: the project root (notebooks/, figures/, data/results/); default: this project")
    parser.add_argument("--readme", default=None, help="with --results-md: rewrite this README's generated summary table")
    args = parser.parse_args(argv)
    profiles = [p.strip().lower() for p in args.profiles.split(",") if p.strip()]
    unknown = [p for p in profiles if p not in PROFILES]
    if unknown or not profiles:
        parser.error(f"--profiles takes names from {', '.join(PROFILES)}, got {args.profiles!r}")
    if args.results_md is not None:
        from gafn_lib.repro import paths

        root = Path(args.root) if args.root is not None else paths.project_root()
        if not root.is_dir():
            parser.error(f"--root {str(root)!r} is not a folder")
        try:
            written = write_results(root, args.results_md, readme=args.readme, profiles=profiles, results_root=args.results_dir)
        except (ValueError, OSError) as err:
            parser.error(str(err))
        print(f"results page: {written}" + (f"; summary table in {args.readme}" if args.readme else ""))
        return 0
    if args.root is not None or args.readme is not None:
        parser.error("--root and --readme go with --results-md")
    if args.results_dir is None:
        from gafn_lib.repro import paths

        results = paths.project_root() / "data" / "results"
    else:
        results = Path(args.results_dir)
    if not results.is_dir():
        parser.error(f"--results-dir {str(results)!r} is not a folder")
    try:
        claims = load_claims(results, profiles)
    except ValueError as err:
        parser.error(str(err))
    if args.only:
        from gafn_lib.repro.notebook_selection import parse_only

        try:
            numbers = parse_only(args.only)
        except ValueError as err:
            parser.error(str(err))
        claims = claims[claims["notebook"].str[:2].isin(numbers)]
    matrix = verdict_matrix(claims, profiles)
    print(to_markdown(matrix), end="")
    totals = verdict_totals(claims)
    if not totals.empty:
        print("verdicts per profile (claim rows):")
        print(totals.to_string())
    if args.csv:
        matrix.to_csv(args.csv, index=False)
    if args.markdown:
        Path(args.markdown).write_text(summary_markdown(claims, profiles))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
