"""The result store: run ids, atomic files, and the layout of one experiment's folder.

Layout of ``<results_dir>/<experiment>/``::

    runs/<run_id>.csv        one tidy table per run: one row per logged step, with the run id
                             (column ``run``), the config class and every config field as columns
    runs/<run_id>.json       metadata: full config, class key, status/finished flag, wall time of
                             the attempt that finished it (and ``resumed_from_step``), versions of
                             python/torch/numpy/gafn, git commit, host, the traceback if it failed,
                             and for a finished run the row count (``n_rows``) and SHA-256 of its
                             table file (``table_sha256``)
    checkpoints/<run_id>.pt  trainer.state_dict() while a run is in progress (deleted when done)
    locks/<run_id>.lock      held by the sweep training the run, so no second sweep trains it at
                             the same time (:mod:`gafn_lib.runner.locks`; removed when the sweep ends)
    results.csv              the combined table of the last complete sweep of this experiment

**Run id.** ``run_id(config)`` is the first 16 hex digits of the SHA-256 of a canonical JSON
document ``{"schema": "gafn-run/1", "class": "<module>.<Class>", "fields": {...}}`` where
``fields`` is ``dataclasses.asdict(config)`` with sorted keys, tuples as lists, and floats with an
integral value written as integers (so ``r2=2`` and ``r2=2.0``, which compare equal, share an id).
It does not depend on the Python process, the machine or the order of fields; it changes if the
class is moved or renamed, or if any field (including ``seed``, ``device`` and ``threads``)
changes.

**Fields added later.** A field declared with :func:`gafn_lib.registry.added_field` (a field added
to a config class after runs of it were stored) is left out of ``fields`` while it holds the value
the earlier runs had implicitly (:func:`hashed_fields`), so adding it changes no existing run id; a
config that sets another value hashes it like any field. (Moved classes keep their ids the same
way: the class key is the old path, :func:`gafn_lib.registry.config_key`.)

**Atomic writes.** Every file is written to a hidden temporary file in the same folder, flushed,
``fsync``-ed and moved over the target with ``os.replace``: a reader (or a re-run after a kill)
sees either the previous complete file or the new complete file, never a truncated one. A kill in
the middle may leave a hidden ``.<name>.*.tmp`` file behind; it is never read and can be deleted.

**Verification.** A finished run's metadata records the row count and the SHA-256 of the bytes of
its table. :meth:`ExperimentStore.damage` compares them with the file on disk; the sweep
recomputes (with a warning naming the run and the experiment) a finished run whose table no longer
matches, instead of silently using a truncated or edited table.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import math
import numbers
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gafn_lib.core.history import plain_value
from gafn_lib.registry import ADDED_FIELD_KEY, config_key

RUN_ID_SCHEMA = "gafn-run/1"
RUN_ID_LENGTH = 16

# The process umask, read once: temporary files are created 0600, then given the usual mode.
_UMASK = os.umask(0)
os.umask(_UMASK)


# ---------------------------------------------------------------------------------------- run ids
def _canonical(value: Any, where: str) -> Any:
    """A JSON-ready, order-independent copy of a config value (see the module docstring)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):  # int and NumPy integers
        return int(value)
    if isinstance(value, numbers.Real):  # float and NumPy floats
        value = float(value)
        return int(value) if math.isfinite(value) and value.is_integer() else value
    if isinstance(value, (list, tuple)):
        return [_canonical(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {str(k): _canonical(v, f"{where}.{k}") for k, v in value.items()}
    raise TypeError(f"config field {where} has a value of type {type(value).__name__} that cannot be hashed stably: {value!r}")


def config_fields(config: Any) -> dict[str, Any]:
    """The config's fields as a plain dict (validates that ``config`` is a dataclass instance).

    Objects in fields are named by :func:`gafn_lib.core.history.plain_value` (a dataclass by its
    class and fields, another object by its ``name``); an unnamed object is refused (``TypeError``)
    rather than risking two different runs under one id."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"a run config must be a dataclass instance, got {type(config).__name__}: {config!r}")
    return {f.name: plain_value(getattr(config, f.name), f"config field {f.name}") for f in dataclasses.fields(config)}


def hashed_fields(config: Any) -> dict[str, Any]:
    """The fields the run id hashes: :func:`config_fields` without each field added later
    (:func:`gafn_lib.registry.added_field`) that holds the value earlier runs had implicitly."""
    values = config_fields(config)
    for f in dataclasses.fields(config):
        if ADDED_FIELD_KEY in f.metadata:
            implicit = plain_value(f.metadata[ADDED_FIELD_KEY], f"config field {f.name}")
            if _canonical(values[f.name], f.name) == _canonical(implicit, f.name):
                del values[f.name]
    return values


def run_id(config: Any) -> str:
    """Stable id of a run: a hash of the config's class and fields (see the module docstring)."""
    payload = {"schema": RUN_ID_SCHEMA, "class": config_key(config), "fields": _canonical(hashed_fields(config), "config")}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:RUN_ID_LENGTH]


def describe_config(config: Any) -> str:
    """``Class(field=value, ...)`` listing only the fields that differ from the class defaults."""
    parts = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = dataclasses.MISSING
        if default is dataclasses.MISSING or value != default:
            parts.append(f"{f.name}={value!r}")
    return f"{type(config).__name__}({', '.join(parts)})"


# ----------------------------------------------------------------------------------- atomic files
def _fsync_dir(folder: Path) -> None:
    """Make a rename durable (best effort: not every file system lets a folder be fsync-ed)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temp file in the same folder, fsync, ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o666 & ~_UMASK)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def atomic_write_csv(path: str | os.PathLike, frame: pd.DataFrame) -> None:
    """CSV with full float precision (``repr``); read it back with :func:`read_csv`."""
    atomic_write_text(path, frame.to_csv(index=False))


#: Columns read as text whatever they hold: run ids are 16 hex digits, and one made of decimal digits
#: only (about 1 in 1,800) or of digits around one ``e`` would otherwise be read as a number, and
#: match no run id (its run silently missing from every table built by id).
TEXT_COLUMNS = ("run",)


def read_csv(path: str | os.PathLike | io.BytesIO) -> pd.DataFrame:
    """Read a table written by :func:`atomic_write_csv`, floats bit-exact.

    Only empty cells are missing values: strings such as ``"none"`` or ``"NA"`` stay strings, and
    the columns of :data:`TEXT_COLUMNS` (run ids) are always text.
    """
    # pandas >= 3 parses floats exactly by default (and deprecates the option); pandas 2 needs it
    exact = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
    return pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={c: str for c in TEXT_COLUMNS}, **exact)


def atomic_torch_save(path: str | os.PathLike, state: Any) -> None:
    import torch

    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


# ---------------------------------------------------------------------------------- tidy tables
def run_table(run: str, config: Any, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """One run's tidy table: ``run`` (the run id), ``config_class``, the config fields, then the metric rows.

    A config field whose name is also a metric column is stored as ``config_<name>``. Non-scalar
    field values (lists, dicts) are stored as JSON strings.
    """
    metrics = pd.DataFrame(rows)
    front: dict[str, Any] = {"run": run, "config_class": config_key(config)}
    for name, value in config_fields(config).items():
        column = f"config_{name}" if name in metrics.columns or name in front else name
        front[column] = json.dumps(_canonical(value, name)) if isinstance(value, (list, tuple, dict)) else value
    head = pd.DataFrame({k: [v] * len(metrics) for k, v in front.items()}, index=metrics.index)
    return pd.concat([head, metrics], axis=1)


# ------------------------------------------------------------------------------------- the folder
class ExperimentStore:
    """Paths and reads/writes of one experiment's folder (see the module docstring for the layout)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    @classmethod
    def open(cls, experiment: str, results_dir: str | os.PathLike = "data/results") -> "ExperimentStore":
        if not isinstance(experiment, str) or not experiment or experiment.strip() != experiment or any(
            sep in experiment for sep in ("/", "\\", os.sep)
        ) or experiment in (".", ".."):
            raise ValueError(f"experiment name must be a non-empty folder name without slashes or surrounding spaces, got {experiment!r}")
        return cls(Path(results_dir).resolve() / experiment)

    @property
    def name(self) -> str:
        return self.root.name

    def table_path(self, run: str) -> Path:
        return self.root / "runs" / f"{run}.csv"

    def metadata_path(self, run: str) -> Path:
        return self.root / "runs" / f"{run}.json"

    def checkpoint_path(self, run: str) -> Path:
        return self.root / "checkpoints" / f"{run}.pt"

    def artifacts_path(self, run: str) -> Path:
        return self.root / "runs" / f"{run}.npz"

    @property
    def results_path(self) -> Path:
        return self.root / "results.csv"

    def read_metadata(self, run: str) -> dict[str, Any] | None:
        path = self.metadata_path(run)
        if not path.exists():
            return None
        return json.loads(path.read_text())

    def is_complete(self, run: str) -> bool:
        """True when the run's metadata says finished and its table is present."""
        meta = self.read_metadata(run)
        return bool(meta and meta.get("finished")) and self.table_path(run).exists()

    def read_table(self, run: str) -> pd.DataFrame:
        return read_csv(self.table_path(run))

    def write_metadata(self, run: str, metadata: dict[str, Any]) -> None:
        atomic_write_json(self.metadata_path(run), metadata)

    def write_table(self, run: str, table: pd.DataFrame) -> dict[str, Any]:
        """Write the run's table atomically; returns ``{"n_rows", "table_sha256"}`` for its metadata."""
        data = table.to_csv(index=False).encode("utf-8")
        atomic_write_bytes(self.table_path(run), data)
        return {"n_rows": int(len(table)), "table_sha256": hashlib.sha256(data).hexdigest()}

    def damage(self, run: str) -> str | None:
        """Why a finished run's stored table cannot be trusted, or ``None`` if it matches its metadata.

        Checks the SHA-256 of the table file against ``table_sha256`` and its row count against
        ``n_rows`` (metadata written before hashes were recorded is checked on the row count only).
        """
        meta = self.read_metadata(run) or {}
        path = self.table_path(run)
        if not path.exists():
            return f"its table {path} is missing"
        data = path.read_bytes()
        expected_hash = meta.get("table_sha256")
        if expected_hash is not None and hashlib.sha256(data).hexdigest() == expected_hash:
            return None
        try:
            rows: int | str = len(read_csv(io.BytesIO(data)))
        except Exception as err:  # unparsable (e.g. cut in the middle of the header)
            rows = f"unreadable ({type(err).__name__})"
        if expected_hash is not None:
            return f"its table {path} does not match the recorded SHA-256 ({rows} rows, {meta.get('n_rows')} recorded)"
        if "n_rows" in meta and rows != int(meta["n_rows"]):
            return f"its table {path} has {rows} rows, {meta['n_rows']} recorded"
        return None

    def write_artifacts(self, run: str, arrays: dict[str, Any]) -> None:
        """Final arrays of a run (e.g. the learned distribution) as a compressed ``.npz``."""
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
        atomic_write_bytes(self.artifacts_path(run), buffer.getvalue())

    def read_artifacts(self, run: str) -> dict[str, np.ndarray]:
        path = self.artifacts_path(run)
        if not path.exists():
            raise FileNotFoundError(f"run {run} has no stored arrays at {path} (its trainer has no artifacts(), or it has not run)")
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}

    def remove_checkpoint(self, run: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.checkpoint_path(run).unlink()

    def checkpoint_step(self, name: str) -> int | None:
        """The step saved in ``checkpoints/<name>.pt`` (a run id or an ensemble's id), or ``None``
        if there is no readable checkpoint (an unreadable one is restarted from step 0 by the sweep,
        which warns)."""
        path = self.checkpoint_path(name)
        if not path.exists():
            return None
        import torch

        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:
            return None
        step = state.get("step_count") if isinstance(state, dict) else None
        return int(step) if step is not None else None
