"""Run locks: two sweeps on the same store never train the same run at the same time.

A long sweep trains in the background for hours (``nohup python -m gafn_lib.repro.prefetch ...``);
starting ``make figures`` on the same runs meanwhile would train them a second time, and the two
would overwrite each other's checkpoints. So :func:`gafn_lib.runner.run_sweep` first takes a lock
on every run it is about to train: ``<experiment>/locks/<run_id>.lock``, created atomically
(``O_CREAT | O_EXCL``) and holding the owner's pid, host and start time as JSON. A run locked by
another live process is left alone: the sweep trains the others, then waits for it (and trains it if
its owner dies first), or with ``wait=False`` raises :class:`RunsInProgressError` naming the owner.
The locks are removed when the sweep ends, however it ends.

A lock whose owner is gone is *stale* and is taken over: on the same host, when no process has
that pid, when it is a zombie (exited, not yet reaped), or when the process with that pid started at
another time than the owner (the pid was reused; both from Linux ``/proc``). A lock written by another host cannot be checked from here: it is respected, and
the error names its file so that it can be deleted if that process is known to be dead.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

#: Sub-folder of an experiment holding the locks.
LOCK_DIR = "locks"
#: A lock file still empty or unreadable after this many seconds is stale (its writer died mid-write).
UNREADABLE_LOCK_SECONDS = 60.0


def _proc_stat(pid: int) -> list[str] | None:
    """Fields 3… of ``/proc/<pid>/stat`` (state first), or ``None`` without ``/proc`` or process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2 :].split()  # the command name (field 2) may contain spaces


def process_start(pid: int) -> str | None:
    """When process ``pid`` started, as the kernel's clock-tick count (field 22 of ``/proc/<pid>/stat``),
    or ``None`` where ``/proc`` is not available or the process does not exist."""
    fields = _proc_stat(pid)
    return fields[19] if fields is not None and len(fields) > 19 else None


def process_alive(pid: int, started: str | None = None) -> bool:
    """Whether ``pid`` names a live process on this host (the same process, if ``started`` is known)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    fields = _proc_stat(pid)
    if fields is not None and fields[0] in ("Z", "X"):
        return False  # exited, not yet reaped by its parent (a zombie holds its pid but runs nothing)
    if started is not None and fields is not None and len(fields) > 19 and fields[19] != started:
        return False  # the pid was reused by a newer process
    return True


@dataclass(frozen=True)
class LockOwner:
    """Who holds a run's lock."""

    pid: int
    host: str
    started_at: str
    process_start: str | None
    path: Path

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host} since {self.started_at}"

    def status(self) -> str:
        """The status a progress table shows for a run this owner holds: ``"in a live sweep (pid … on … since …)"``."""
        return f"in a live sweep ({self.describe()})"


class RunsInProgressError(RuntimeError):
    """Some runs of a sweep are being trained by another process; the sweep trained the others.

    Attributes:
        busy: run id → :class:`LockOwner`.
    """

    def __init__(self, experiment: str, n_runs: int, busy: dict[str, LockOwner]):
        self.busy = busy
        owners = sorted({owner.describe() for owner in busy.values()})
        files = sorted(str(owner.path) for owner in busy.values())
        super().__init__(
            f"{len(busy)} of {n_runs} runs of experiment {experiment!r} are being trained by another process "
            f"({'; '.join(owners)}): the other runs are done; run the same command again when that process has "
            f"finished (or stop it: its checkpoints let this sweep resume its runs). A lock whose process is gone is "
            f"taken over automatically on the same host; a lock from another host that is known to be stale can be "
            f"deleted: {', '.join(files[:3])}{' ...' if len(files) > 3 else ''}"
        )


class RunLocks:
    """The locks this process holds on runs of one experiment folder (``root``)."""

    def __init__(self, root: str | os.PathLike):
        self.folder = Path(root) / LOCK_DIR
        self.held: list[Path] = []
        self.host = socket.gethostname()
        self.pid = os.getpid()

    def path(self, run: str) -> Path:
        return self.folder / f"{run}.lock"

    def owner(self, run: str) -> LockOwner | None:
        """The lock's owner, or ``None`` if there is no lock or it is unreadable and old (stale)."""
        path = self.path(run)
        try:
            data = json.loads(path.read_text())
            return LockOwner(int(data["pid"]), str(data["host"]), str(data["started_at"]), data.get("process_start"), path)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):  # being written, or left half-written by a killed process
            try:
                age = time.time() - path.stat().st_mtime
            except FileNotFoundError:
                return None
            if age > UNREADABLE_LOCK_SECONDS:
                return None
            return LockOwner(-1, "?", "a moment ago (lock being written)", None, path)

    def is_stale(self, owner: LockOwner) -> bool:
        """Whether a lock's owner is gone (same host only: another host's process cannot be checked)."""
        if owner.host != self.host:
            return False  # cannot check another machine's processes
        if owner.pid == self.pid:
            return True  # left by an earlier sweep of this very process (e.g. interrupted in a notebook)
        return not process_alive(owner.pid, owner.process_start)

    def live_owner(self, run: str) -> LockOwner | None:
        """The owner of ``run``'s lock if another live process (or one still writing it) holds it, else ``None``."""
        owner = self.owner(run)
        if owner is None or (owner.pid >= 0 and self.is_stale(owner)):
            return None
        return owner

    def acquire(self, runs: Iterable[str]) -> dict[str, LockOwner]:
        """Lock every run that no live process holds; returns the others (run id → owner)."""
        busy: dict[str, LockOwner] = {}
        record = json.dumps({
            "pid": self.pid, "host": self.host, "process_start": process_start(self.pid),
            "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        })
        self.folder.mkdir(parents=True, exist_ok=True)
        for run in runs:
            path = self.path(run)
            for _ in range(2):  # a stale lock is removed once, then created again
                try:
                    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                except FileExistsError:
                    owner = self.owner(run)
                    if owner is None or (owner.pid >= 0 and self.is_stale(owner)):
                        if self.owner(run) == owner:  # still the same stale lock (not just retaken by another sweep)
                            with contextlib.suppress(FileNotFoundError):
                                path.unlink()
                        continue
                    busy[run] = owner
                    break
                with os.fdopen(fd, "w") as fh:
                    fh.write(record)
                self.held.append(path)
                break
            else:
                busy[run] = self.owner(run) or LockOwner(-1, "?", "?", None, path)
        return busy

    def release(self) -> None:
        """Remove every lock this object took."""
        for path in self.held:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self.held = []
