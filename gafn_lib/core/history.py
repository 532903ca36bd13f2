"""What a training run returns: logged metric rows plus the run's configuration."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Iterable


def plain_value(value: Any, where: str = "config") -> Any:
    """A config value as plain data, naming the objects a config may hold.

    Numbers, strings, ``None`` and containers stay as they are; a dataclass (e.g. a custom reward or
    an environment spec) becomes ``{"class": "module.Class", **its fields}``; another object with a
    ``name`` string attribute becomes ``{"class": ..., "name": ...}``. Anything else is refused with
    a message saying how to name it, so that runs with different objects never share a run id.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(plain_value(v, f"{where}[{i}]") for i, v in enumerate(value))
    if isinstance(value, dict):
        return {k: plain_value(v, f"{where}.{k}") for k, v in value.items()}
    cls = type(value)
    key = f"{cls.__module__}.{cls.__qualname__}"
    if is_dataclass(value) and not isinstance(value, type):
        return {"class": key, **{f.name: plain_value(getattr(value, f.name), f"{where}.{f.name}") for f in fields(value)}}
    name = getattr(value, "name", None)
    if isinstance(name, str) and name:
        return {"class": key, "name": name}
    if hasattr(value, "dtype") and hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # NumPy / torch scalars
        return value.item()
    raise TypeError(
        f"{where} holds an unnamed object of type {cls.__name__} ({value!r}); the run store cannot tell runs "
        "with different such objects apart. Give it a `name` string attribute, make it a frozen dataclass "
        "(its fields then name it), or register it under a name and pass the name"
    )


def restored_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies of metric rows read back from a checkpoint, every float NaN replaced by
    ``math.nan`` (the object the trackers log).

    Python compares containers element by element with ``is`` before ``==``, so a row holding
    ``math.nan`` equals another holding that same object, while a NaN unpickled from a checkpoint
    is a new object and is unequal to everything. With this, a resumed run's history equals an
    uninterrupted one's under ``==`` (the batch-invariance tests' check) even where a column is
    NaN (e.g. a first visit that has not happened yet).
    """
    return [{k: math.nan if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()} for row in rows]


@dataclass
class History:
    """Metric rows (one dict per logged step) of one run, and that run's config as a plain dict.

    ``rows[-1]`` holds the final metrics. :meth:`to_frame` gives a tidy pandas DataFrame.
    """

    config: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def for_config(cls, config: Any) -> "History":
        if is_dataclass(config):
            return cls(config={f.name: plain_value(getattr(config, f.name), f.name) for f in fields(config)})
        return cls(config=dict(config))

    def log(self, row: dict[str, Any]) -> None:
        self.rows.append(dict(row))

    @property
    def final(self) -> dict[str, Any]:
        if not self.rows:
            raise ValueError("the history is empty: no step was logged")
        return self.rows[-1]

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows)

    def column(self, name: str) -> list[Any]:
        return [row.get(name) for row in self.rows]
