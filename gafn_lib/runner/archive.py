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
  archive's copy and no larger than :data:`MAX_ARCHIVED_CHECKPOINT_BYTES` (64 MB). A checkpoint
  larger than :data:`ARCHIVE_PART_BYTES` (5 MB, the largest file the project commits) is stored as
  numbered parts of at most that size, ``checkpoints/<name>.pt.000``, ``.001``, ..., beside a
  manifest ``checkpoints/<name>.parts.json`` (step, size, SHA-256 of the whole file) written last:
  a molecule GFlowNet in the release configuration checkpoints 12–45 MB (its network, Adam's
  moments and the molecules it has made) and runs longer than one sitting, so without parts it
  could never finish across sittings. Larger checkpoints stay in the local store, which resumes
  them as before; the report names them. Checkpoints whose runs have all finished are removed from
  the archive, parts and manifest alike.
* :func:`restore_from_archive` copies the other way, into a store: finished runs the store lacks
  (or holds damaged), and checkpoints further on than the store's own (parts joined and checked
  against the manifest's SHA-256; a mismatch is reported and the part files left alone). It never touches a run that
  is finished in the store or held by a live sweep (:class:`~gafn_lib.runner.locks.RunLocks`).

Then :func:`gafn_lib.runner.run_sweep` finds the finished runs in its cache and resumes the
checkpointed ones, exactly as if the sweep had never left the machine. Every file is written
atomically (a kill leaves the previous copy or the new one, never half a file).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Iterable

from gafn_lib.runner.locks import RunLocks
from gafn_lib.runner.store import ExperimentStore, atomic_write_bytes, atomic_write_json

__all__ = ["ARCHIVE_PART_BYTES", "ArchiveReport", "MAX_ARCHIVED_CHECKPOINT_BYTES", "save_to_archive", "restore_from_archive"]

#: The largest single file :func:`save_to_archive` writes: 5 MB, the largest file the project
#: commits to git. A larger checkpoint is archived as parts of at most this size.
ARCHIVE_PART_BYTES = 5_000_000

#: The largest checkpoint :func:`save_to_archive` copies into an archive by default (64 MB, in
#: parts): the largest molecule checkpoint seen is 45 MB. A larger one is left in the store and
#: named in the report.
MAX_ARCHIVED_CHECKPOINT_BYTES = 64_000_000


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
        if _has_checkpoint(store, name):
            groups.setdefault(name, []).append(rid)
    return groups


# ------------------------------------------------------------------ checkpoints, whole or in parts
def _manifest_path(store: ExperimentStore, name: str) -> Path:
    return store.root / "checkpoints" / f"{name}.parts.json"


def _part_path(store: ExperimentStore, name: str, index: int) -> Path:
    return store.root / "checkpoints" / f"{name}.pt.{index:03d}"


def _read_manifest(store: ExperimentStore, name: str) -> dict | None:
    path = _manifest_path(store, name)
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text())
        return manifest if isinstance(manifest, dict) and isinstance(manifest.get("parts"), int) else {}
    except (OSError, ValueError):
        return {}  # present but unreadable


def _has_checkpoint(store: ExperimentStore, name: str) -> bool:
    return store.checkpoint_path(name).exists() or _manifest_path(store, name).exists()


def _checkpoint_step(store: ExperimentStore, name: str) -> int | None:
    """The step of ``name``'s checkpoint, whole (read from the file) or in parts (from the
    manifest, if every part is there with the recorded total size); ``None`` if unreadable."""
    if store.checkpoint_path(name).exists():
        return store.checkpoint_step(name)
    manifest = _read_manifest(store, name)
    if not manifest or not isinstance(manifest.get("step"), int):
        return None
    paths = [_part_path(store, name, i) for i in range(manifest["parts"])]
    if not all(p.exists() for p in paths) or sum(p.stat().st_size for p in paths) != manifest.get("bytes"):
        return None
    return manifest["step"]


def _checkpoint_size(store: ExperimentStore, name: str) -> int:
    if store.checkpoint_path(name).exists():
        return store.checkpoint_path(name).stat().st_size
    return int((_read_manifest(store, name) or {}).get("bytes", 0))


def _read_checkpoint(store: ExperimentStore, name: str) -> bytes:
    """The checkpoint file's bytes; parts are joined and checked against the manifest's SHA-256."""
    if store.checkpoint_path(name).exists():
        return store.checkpoint_path(name).read_bytes()
    manifest = _read_manifest(store, name) or {}
    data = b"".join(_part_path(store, name, i).read_bytes() for i in range(manifest.get("parts", 0)))
    if hashlib.sha256(data).hexdigest() != manifest.get("sha256"):
        raise ValueError(f"the parts of {store.checkpoint_path(name)} do not match the SHA-256 of "
                         f"{_manifest_path(store, name)} (a part is missing, stale or damaged)")
    return data


def _remove_parts(store: ExperimentStore, name: str, keep: int = 0) -> None:
    """Remove the manifest (unless parts are kept) and every part numbered ``keep`` or above."""
    if keep == 0:
        _manifest_path(store, name).unlink(missing_ok=True)
    folder = store.root / "checkpoints"
    for path in folder.glob(f"{name}.pt.[0-9][0-9][0-9]"):
        if int(path.suffix[1:]) >= keep:
            path.unlink()


def _write_checkpoint(store: ExperimentStore, name: str, data: bytes, step: int, part_bytes: int | None) -> None:
    """Write a checkpoint whole, or (when larger than ``part_bytes``) as parts and then the manifest
    that makes them count; whatever the other form left behind is removed afterwards."""
    if part_bytes is None or len(data) <= part_bytes:
        atomic_write_bytes(store.checkpoint_path(name), data)
        _remove_parts(store, name)
        return
    n = -(-len(data) // part_bytes)
    _manifest_path(store, name).unlink(missing_ok=True)  # the old parts stop counting before any is replaced
    for i in range(n):
        atomic_write_bytes(_part_path(store, name, i), data[i * part_bytes:(i + 1) * part_bytes])
    atomic_write_json(_manifest_path(store, name), {"name": name, "step": int(step), "bytes": len(data), "parts": n,
                                                   "part_bytes": part_bytes, "sha256": hashlib.sha256(data).hexdigest()})
    _remove_parts(store, name, keep=n)
    store.remove_checkpoint(name)


def _remove_checkpoint(store: ExperimentStore, name: str) -> None:
    store.remove_checkpoint(name)
    _remove_parts(store, name)


def _copy_checkpoints(source: ExperimentStore, target: ExperimentStore, run_ids: list[str], report: ArchiveReport,
                      busy: set[str] = frozenset(), max_bytes: int | None = None, part_bytes: int | None = None) -> None:
    for name, members in _in_progress(source, run_ids).items():
        if any(target.is_complete(rid) for rid in members):
            report.skipped[name] = "a member is already finished in the target"
            continue
        if busy & set(members):
            report.skipped[name] = "a sweep running now holds its runs"
            continue
        step = _checkpoint_step(source, name)
        if step is None:
            report.skipped[name] = f"its checkpoint {source.checkpoint_path(name)} is unreadable or incomplete"
            continue
        have = _checkpoint_step(target, name)
        if have is not None and have >= step:
            continue
        size = _checkpoint_size(source, name)
        if max_bytes is not None and size > max_bytes:
            report.skipped[name] = (f"its checkpoint at step {step:,} is {size / 1e6:.1f} MB, over the archive's limit of "
                                    f"{max_bytes / 1e6:.1f} MB; it stays in {source.root} (resumed from there)")
            continue
        try:
            data = _read_checkpoint(source, name)
        except ValueError as err:
            report.skipped[name] = str(err)
            continue
        for rid in members:  # the members' metadata first: it says how the ensemble is grouped
            if source.metadata_path(rid).exists():
                _copy(source.metadata_path(rid), target.metadata_path(rid))
        _write_checkpoint(target, name, data, step, part_bytes)
        report.checkpoints[name] = step


def _check(run_ids: Iterable[str]) -> list[str]:
    ids = list(dict.fromkeys(run_ids))
    bad = [r for r in ids if not isinstance(r, str) or not r or "/" in r or r in (".", "..")]
    if bad:
        raise ValueError(f"run_ids must be run id strings (see gafn_lib.runner.run_id), got {bad[:3]!r}")
    return ids


def save_to_archive(store: ExperimentStore, archive: ExperimentStore, run_ids: Iterable[str],
                    max_checkpoint_bytes: int | None = MAX_ARCHIVED_CHECKPOINT_BYTES,
                    part_bytes: int = ARCHIVE_PART_BYTES) -> ArchiveReport:
    """Copy the finished runs and the in-progress checkpoints of ``run_ids`` from ``store`` into
    ``archive`` (see the module docstring); returns what was copied.

    A checkpoint file larger than ``max_checkpoint_bytes`` (default
    :data:`MAX_ARCHIVED_CHECKPOINT_BYTES`; ``None``: no limit) is not copied and is named in
    ``report.skipped`` with its size; one larger than ``part_bytes`` (default
    :data:`ARCHIVE_PART_BYTES`) is written as parts of at most that size and a manifest.

    A finished run is copied when the archive lacks it or holds another table (a recomputed run);
    a run whose table no longer matches its recorded SHA-256 is left alone (named in
    ``report.skipped``). A checkpoint is copied when it is further on than the archive's. An
    archived checkpoint none of whose runs is still in progress in the archive is removed."""
    ids = _check(run_ids)
    if max_checkpoint_bytes is not None and (isinstance(max_checkpoint_bytes, bool) or not isinstance(max_checkpoint_bytes, int)
                                             or max_checkpoint_bytes < 0):
        raise ValueError(f"max_checkpoint_bytes must be a non-negative int or None, got {max_checkpoint_bytes!r}")
    if isinstance(part_bytes, bool) or not isinstance(part_bytes, int) or part_bytes < 1:
        raise ValueError(f"part_bytes must be a positive int, got {part_bytes!r}")
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
    _copy_checkpoints(store, archive, ids, report, max_bytes=max_checkpoint_bytes, part_bytes=part_bytes)
    # checkpoints of runs that have all finished (in the archive) since they were saved
    folder = archive.root / "checkpoints"
    if folder.is_dir():
        live = set(_in_progress(archive, ids))
        names = sorted({p.name[:-len(".pt")] for p in folder.glob("*.pt")} | {p.name[:-len(".parts.json")] for p in folder.glob("*.parts.json")})
        for name in names:
            owners = [rid for rid in ids if rid == name or ((archive.read_metadata(rid) or {}).get("ensemble") or {}).get("id") == name]
            if owners and name not in live and all(archive.is_complete(rid) for rid in owners):
                _remove_checkpoint(archive, name)
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
