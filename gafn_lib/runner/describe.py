"""A short text naming a group of configs (a sweep task, an ensemble): :func:`summarise_configs`."""

from __future__ import annotations

from typing import Any

#: Config fields summarised in a task's description (those a config has), in this order.
SUMMARY_FIELDS = ("height", "ndim", "reward", "objective", "augment", "intrinsic", "eta", "seed")


def _integer_runs(values: list[int]) -> str:
    """``[0, 1, 2, 3, 7]`` → ``"0–3/7"``: sorted distinct integers, three or more consecutive ones
    as a range."""
    parts, start = [], 0
    for i in range(1, len(values) + 1):
        if i == len(values) or values[i] != values[i - 1] + 1:
            run = values[start:i]
            parts += [f"{run[0]}–{run[-1]}"] if len(run) >= 3 else [str(v) for v in run]
            start = i
    return "/".join(parts)


def _distinct_text(values: list[Any]) -> str:
    """The distinct ``values``, sorted, ``/``-separated (floats with ``:g``; three or more
    consecutive integers as a range)."""
    distinct = sorted(set(values), key=lambda v: (str(type(v)), v))
    if all(isinstance(v, int) and not isinstance(v, bool) for v in distinct):
        return _integer_runs(distinct)
    return "/".join(f"{v:g}" if isinstance(v, float) else str(v) for v in distinct)


def summarise_configs(configs: list[Any]) -> str:
    """``"GridTrainConfig: height 64; objective tb; augment joint/none; seed 0–9"``: the class and
    the distinct values of :data:`SUMMARY_FIELDS` among ``configs`` (three or more consecutive
    integers as a range), then every other dataclass field whose value differs among them (a tuning
    sweep's ``lr 0.0001/0.001``), so two tasks of one sweep never read the same."""
    import dataclasses

    parts = []
    for field in SUMMARY_FIELDS:
        values = [getattr(c, field) for c in configs if hasattr(c, field)]
        if values:
            parts.append(f"{field} {_distinct_text(values)}")
    if dataclasses.is_dataclass(configs[0]):
        for f in dataclasses.fields(configs[0]):
            if f.name in SUMMARY_FIELDS:
                continue
            values = [getattr(c, f.name, None) for c in configs]
            try:
                varies = len(set(values)) > 1
            except TypeError:  # unhashable values (lists): compare their text
                values = [repr(v) for v in values]
                varies = len(set(values)) > 1
            if varies:
                parts.append(f"{f.name} {_distinct_text(values)}")
    return f"{type(configs[0]).__name__}: " + "; ".join(parts)
