"""A run archive: a committed copy of a run store, so that a long sweep outlives the machine it ran on.

A run store (``data/results/<experiment>/``) is a cache: git ignores it, and a new clone or a new
machine starts with none. For sweeps of hours (the paper profile) that is not good enough: a sweep
that spans several sittings must resume where the last one stopped, and a reader of the paper
figures should not have to spend ten core-hours to redraw them. The archive is a folder with the
store's layout (``runs/``, ``checkpoints/``; :class:`~gafn_lib.runner.store.ExperimentStore`) that
*is* committed, by default ``data/runs/<profile>/<experiment>/`` (:func:`gafn_lib.repro.paths.run_archive_dir`):

* :func:`save_to_archive` copies, for the runs of a sweep, every **finished** run (table, metadata
  with its config, library versions and git commit, and its arrays) whose table still matches its
  recorded SHA-256, and every **checkpoint** of a run or ensemble still in progress (with its
  members' metadata, which says how the ensemble was grouped) that is further on than the
  archive's copy and no larger than :data:`MAX_ARCHIVED_CHECKPOINT_BYTES` (5 MB, the largest file
  the project commits). Larger checkpoints stay in the local store, which resumes them as before;
  the report names them (a molecule GFlowNet in the release configuration checkpoints 12–45 MB:
  its network, Adam's moments and the molecules it has made). Checkpoints whose runs have all
  finished are removed from the archive.
* :func:`restore_from_archive` copies the other way, into a store: finished runs the store lacks
  (or holds damaged), and checkpoints further on than the store's own. It never touches a run that
  is finished in the store or held by a live sweep (:class:`~gafn_lib.runner.locks.RunLocks`).

Then :func:`gafn_lib.runner.run_sweep` finds the finished runs in its cache and resumes the
checkpointed ones, exactly as if the sweep had never left the machine. Every file is written
atomically (a kill leaves the previous copy or the new one, never half a file).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Iterable

from gafn_lib.runner.locks import RunLocks
from gafn_lib.runner.store import ExperimentStore, atomic_write_bytes

__all__ = ["ArchiveReport", "MAX_ARCHIVED_CHECKPOINT_BYTES", "save_to_archive", "restore_from_archive"]

#: The largest checkpoint :func:`save_to_archive` copies into an archive by default: 5 MB, the
#: largest file the project commits to git. A larger one is left in the store and named in the report.
MAX_ARCHIVED_CHECKPOINT_BYTES = 5_000_000


@dataclasses.dataclass
class ArchiveReport:
    """What one copy did: run ids of the finished runs copied, names (run or ensemble ids) of the
    checkpoints copied with their step, checkpoints removed as stale, and what was left alone and why."""

    runs: list[str] = dataclasses.field(default_factory=list)
    checkpoints: dict[str, int] = dataclasses.field(default_factory=dict)
    removed: list[str] = dataclasses.field(default_factory=list)
    skipped: dict[str, str] = dataclasses.field(default_factory=dict)

    def summary(self, source: os.PathLike | str, target: os.PathLike | str) -> str:
        parts = [f"{len(self.runs)} finished run(s)"]
        if self.checkpoints:
            parts.append(f"{len(self.checkpoints)} checkpoint(s) (" + ", ".join(f"{k} at step {v:,}" for k, v in sorted(self.checkpoints.items())) + ")")
        else:
            parts.append("no checkpoint")
        text = f"copied {' and '.join(parts)} from {source} to {target}"
        if self.removed:
            text += f"; removed {len(self.removed)} checkpoint(s) of finished runs"
        for name, why in sorted(self.skipped.items()):
            text += f"\n  left alone: {name}: {why}"
        return text


def _copy(source: Path, target: Path) -> None:
    atomic_write_bytes(target, source.read_bytes())


def _copy_run(source: ExperimentStore, target: ExperimentStore, rid: str) -> None:
    """A finished run's files; the metadata last, since it is what marks the run complete."""
    _copy(source.table_path(rid), target.table_path(rid))
    if source.artifacts_path(rid).exists():
        _copy(source.artifacts_path(rid), target.artifacts_path(rid))
    _copy(source.metadata_path(rid), target.metadata_path(rid))


def _in_progress(store: ExperimentStore, run_ids: Iterable[str]) -> dict[str, list[str]]:
    """``{checkpoint name: run ids}`` of the runs that are not finished in ``store`` but have a
    checkpoint there: their ensemble's (from their metadata) or their own."""
    groups: dict[str, list[str]] = {}
    for rid in run_ids:
        if store.is_complete(rid):
            continue
        meta = store.read_metadata(rid) or {}
        ens = meta.get("ensemble")
        name = str(ens["id"]) if isinstance(ens, dict) and ens.get("id") else rid
        if store.checkpoint_path(name).exists():
            groups.setdefault(name, []).append(rid)
    return groups


def _copy_checkpoints(source: ExperimentStore, target: ExperimentStore, run_ids: list[str], report: ArchiveReport,
                      busy: set[str] = frozenset(), max_bytes: int | None = None) -> None:
    for name, members in _in_progress(source, run_ids).items():
        if any(target.is_complete(rid) for rid in members):
            report.skipped[name] = "a member is already finished in the target"
            continue
        if busy & set(members):
            report.skipped[name] = "a sweep running now holds its runs"
            continue
        step = source.checkpoint_step(name)
        if step is None:
            report.skipped[name] = f"its checkpoint {source.checkpoint_path(name)} is unreadable"
            continue
        have = target.checkpoint_step(name)
        if have is not None and have >= step:
            continue
        size = source.checkpoint_path(name).stat().st_size
        if max_bytes is not None and size > max_bytes:
            report.skipped[name] = (f"its checkpoint at step {step:,} is {size / 1e6:.1f} MB, over the archive's limit of "
                                    f"{max_bytes / 1e6:.1f} MB; it stays in {source.root} (resumed from there)")
            continue
        for rid in members:  # the members' metadata first: it says how the ensemble is grouped
            if source.metadata_path(rid).exists():
                _copy(source.metadata_path(rid), target.metadata_path(rid))
        _copy(source.checkpoint_path(name), target.checkpoint_path(name))
        report.checkpoints[name] = step


def _check(run_ids: Iterable[str]) -> list[str]:
    ids = list(dict.fromkeys(run_ids))
    bad = [r for r in ids if not isinstance(r, str) or not r or "/" in r or r in (".", "..")]
    if bad:
        raise ValueError(f"run_ids must be run id strings (see gafn_lib.runner.run_id), got {bad[:3]!r}")
    return ids


def save_to_archive(store: ExperimentStore, archive: ExperimentStore, run_ids: Iterable[str],
                    max_checkpoint_bytes: int | None = MAX_ARCHIVED_CHECKPOINT_BYTES) -> ArchiveReport:
    """Copy the finished runs and the in-progress checkpoints of ``run_ids`` from ``store`` into
    ``archive`` (see the module docstring); returns what was copied.

    A checkpoint file larger than ``max_checkpoint_bytes`` (default
    :data:`MAX_ARCHIVED_CHECKPOINT_BYTES`; ``None``: no limit) is not copied and is named in
    ``report.skipped`` with its size.

    A finished run is copied when the archive lacks it or holds another table (a recomputed run);
    a run whose table no longer matches its recorded SHA-256 is left alone (named in
    ``report.skipped``). A checkpoint is copied when it is further on than the archive's. An
    archived checkpoint none of whose runs is still in progress in the archive is removed."""
    ids = _check(run_ids)
    if max_checkpoint_bytes is not None and (isinstance(max_checkpoint_bytes, bool) or not isinstance(max_checkpoint_bytes, int)
                                             or max_checkpoint_bytes < 0):
        raise ValueError(f"max_checkpoint_bytes must be a non-negative int or None, got {max_checkpoint_bytes!r}")
    if store.root.resolve() == archive.root.resolve():
        raise ValueError(f"store and archive are the same folder: {store.root}")
    report = ArchiveReport()
    for rid in ids:
        if not store.is_complete(rid):
            continue
        damage = store.damage(rid)
        if damage:
            report.skipped[rid] = damage
            continue
        if archive.is_complete(rid) and archive.damage(rid) is None and \
                archive.read_metadata(rid).get("table_sha256") == store.read_metadata(rid).get("table_sha256"):
            continue
        _copy_run(store, archive, rid)
        report.runs.append(rid)
    _copy_checkpoints(store, archive, ids, report, max_bytes=max_checkpoint_bytes)
    # checkpoints of runs that have all finished (in the archive) since they were saved
    folder = archive.root / "checkpoints"
    if folder.is_dir():
        live = set(_in_progress(archive, ids))
        for path in sorted(folder.glob("*.pt")):
            name = path.stem
            owners = [rid for rid in ids if rid == name or ((archive.read_metadata(rid) or {}).get("ensemble") or {}).get("id") == name]
            if owners and name not in live and all(archive.is_complete(rid) for rid in owners):
                path.unlink()
                report.removed.append(name)
    return report


def restore_from_archive(archive: ExperimentStore, store: ExperimentStore, run_ids: Iterable[str]) -> ArchiveReport:
    """Copy into ``store`` what ``archive`` holds for ``run_ids``: finished runs the store lacks or
    holds damaged, and checkpoints further on than the store's. Runs finished in the store and runs
    a live sweep holds are never touched; an archived run whose own table is damaged is skipped."""
    ids = _check(run_ids)
    if store.root.resolve() == archive.root.resolve():
        raise ValueError(f"store and archive are the same folder: {store.root}")
    report = ArchiveReport()
    if not archive.root.is_dir():
        return report
    busy = {rid for rid in ids if (store.root / "locks").is_dir() and RunLocks(store.root).live_owner(rid) is not None}
    for rid in ids:
        if not archive.is_complete(rid):
            continue
        if store.is_complete(rid) and store.damage(rid) is None:
            continue
        if rid in busy:
            report.skipped[rid] = "a sweep running now holds it"
            continue
        damage = archive.damage(rid)
        if damage:
            report.skipped[rid] = f"archived copy: {damage}"
            continue
        _copy_run(archive, store, rid)
        report.runs.append(rid)
    _copy_checkpoints(archive, store, ids, report, busy=busy)
    return report
