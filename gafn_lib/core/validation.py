"""Checks that configs run at construction: each error names the field and what is allowed."""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


def check_positive(name: str, value: Any, strict: bool = True) -> None:
    """A finite ``value > 0`` (``strict``) or ``value >= 0`` (NaN and infinity refused)."""
    if value is not None and isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value):
        if value > 0 or (not strict and value == 0):
            return
    raise ValueError(f"{name} must be a finite number {'>' if strict else '>='} 0, got {value!r}")


def check_counts(config: Any, names: Iterable[str]) -> None:
    """Each named field of ``config`` is an integer ``>= 1`` (booleans refused)."""
    for name in names:
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def check_unit_interval(name: str, value: Any) -> None:
    if value is None or isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")


def check_threads(value: Any) -> None:
    if value is not None and (not isinstance(value, int) or value < 1):
        raise ValueError(f"threads must be an integer >= 1 or None, got {value!r}")
