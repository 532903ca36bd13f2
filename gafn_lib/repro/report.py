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
"""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path
from typing import Sequence

import pandas as pd

from gafn_lib.repro.profiles import PROFILES

#: Columns a notebook's full claims table must have for the report.
REQUIRED_COLUMNS = ("claim", "label_a", "label_b", "metric_name", "scope", "verdict_only", "difference", "ci_low", "ci_high", "n_a", "n_b")
#: File names of the full claims table, in order of preference (notebook 06 writes every column to ``claims.csv``).
CLAIMS_FILES = ("claims_full.csv", "claims.csv")


def profile_folder(results_root: str | Path, profile: str) -> Path:
    """``data/results`` for ``quick``, ``data/results/<profile>`` for ``long`` and ``paper``."""
    root = Path(results_root)
    return root if profile == "quick" else root / profile


def load_claims(results_root: str | Path = "data/results", profiles: Sequence[str] = PROFILES) -> pd.DataFrame:
    """Every notebook's full claims table of every profile found under ``results_root``, stacked,
    with ``notebook`` (folder name) and ``profile`` columns. Empty (with those columns) if none exists.

    Raises:
        ValueError: naming the file, if a claims table lacks a column of :data:`REQUIRED_COLUMNS`
            (e.g. the display-only ``claims.csv`` of an old run without ``claims_full.csv``).
    """
    frames = []
    for profile in profiles:
        folder = profile_folder(results_root, profile)
        if not folder.is_dir():
            continue
        for notebook_dir in sorted(p for p in folder.iterdir() if p.is_dir() and re.match(r"^\d\d_", p.name)):
            path = next((notebook_dir / f for f in CLAIMS_FILES if (notebook_dir / f).is_file()), None)
            if path is None:
                continue
            table = pd.read_csv(path)
            missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
            if missing:
                raise ValueError(f"{path}: claims table lacks column(s) {', '.join(missing)}; re-run its notebook to write the full table")
            frames.append(table.assign(notebook=notebook_dir.name, profile=profile))
    if not frames:
        return pd.DataFrame(columns=["notebook", "profile", *REQUIRED_COLUMNS])
    claims = pd.concat(frames, ignore_index=True)
    for column in ("scope", "notes", "reason"):  # text columns: empty cells read as NaN
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


def cell(row: pd.Series, show_scope: bool) -> str:
    """One profile's verdict of one claim row, e.g. ``supported: -0.015 [-0.021, -0.0088], n=5/5``: the
    Hodges–Lehmann shift A − B and its interval (a relative non-inferiority row: the ratio A/B)."""
    verdict = str(row["verdict_only"])
    # the effect the interval belongs to: the Hodges–Lehmann shift (tables from before it: the difference of means)
    shift = row.get("shift", math.nan)
    estimate = row["difference"] if pd.isna(shift) else shift
    if pd.isna(row["ci_low"]) or (isinstance(row["ci_low"], float) and math.isnan(row["ci_low"])):
        effect = f"{_num(estimate)} [no interval]"
    else:
        effect = f"{_num(estimate)} [{_num(row['ci_low'])}, {_num(row['ci_high'])}]"
    text = f"{verdict}: {effect}, n={int(row['n_a'])}/{int(row['n_b'])}"
    markers = []
    notes, reason = str(row.get("notes", "")), str(row.get("reason", ""))
    if "saturated" in reason:
        markers.append("saturated")
    if "stuck at initial value" in notes:
        markers.append("stuck baseline")
    if "disagrees:" in notes:
        markers.append("L1s disagree")
    if show_scope and row["scope"]:
        markers.append(str(row["scope"]))
    return text + (f" ({'; '.join(markers)})" if markers else "")


def verdict_matrix(claims: pd.DataFrame, profiles: Sequence[str] = PROFILES) -> pd.DataFrame:
    """One row per (notebook, claim, compared groups, metric, grid size), one column per profile present: the cell
    of :func:`cell`, ``""`` where that profile has no such row. Rows keep the notebooks' order."""
    columns = ["notebook", "claim", "comparison", "metric", "size", *[p for p in profiles if p in set(claims["profile"])]]
    if claims.empty:
        return pd.DataFrame(columns=columns)
    claims = claims.assign(size=_axis(claims))
    rows: dict[tuple, dict] = {}
    for _, row in claims.iterrows():
        comparison = f"{row['label_a']} vs {row['label_b']}"
        key = (row["notebook"], row["claim"], comparison, row["metric_name"], row["size"])
        entry = rows.setdefault(key, {"notebook": key[0], "claim": key[1], "comparison": comparison, "metric": key[3], "size": key[4]})
        entry[row["profile"]] = cell(row, show_scope=not row["size"])
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


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gafn_lib.repro.report [--results-dir data/results] [--profiles quick,long,paper] [--only 01,06] [--csv FILE] [--markdown FILE]``:
    print every claim's verdict per profile as markdown tables, then the verdict counts per profile."""
    parser = argparse.ArgumentParser(prog="python -m gafn_lib.repro.report", description=main.__doc__.splitlines()[1].strip())
    parser.add_argument("--results-dir", default=None, help="default: the project's data/results")
    parser.add_argument("--profiles", default=",".join(PROFILES), help=f"comma-separated, from {', '.join(PROFILES)}")
    parser.add_argument("--only", default=None, help="notebook numbers, e.g. 01,06")
    parser.add_argument("--csv", default=None, help="also write the matrix to this CSV file")
    parser.add_argument("--markdown", default=None, help=f"also write the whole report to this markdown file (make figures writes data/results/{SUMMARY_FILE})")
    args = parser.parse_args(argv)
    profiles = [p.strip().lower() for p in args.profiles.split(",") if p.strip()]
    unknown = [p for p in profiles if p not in PROFILES]
    if unknown or not profiles:
        parser.error(f"--profiles takes names from {', '.join(PROFILES)}, got {args.profiles!r}")
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
