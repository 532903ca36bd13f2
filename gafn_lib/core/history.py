"""What a training run returns: logged metric rows plus the run's configuration."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any


@dataclass
class History:
    """Metric rows (one dict per logged step) of one run, and that run's config as a plain dict.

    ``rows[-1]`` holds the final metrics. :meth:`to_frame` gives a tidy pandas DataFrame.
    """

    config: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def for_config(cls, config: Any) -> "History":
        return cls(config=asdict(config) if is_dataclass(config) else dict(config))

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
