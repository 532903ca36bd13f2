"""One way to print a length of time, shared by the runner's progress lines and the reports."""

from __future__ import annotations

import math


def format_duration(seconds: float) -> str:
    """Rounded to the second below a minute (``40 s``), else to the minute: ``12 min`` below an
    hour, ``1 h 05 min`` above; negative input reads ``0 s``.

    >>> format_duration(3890.0)
    '1 h 05 min'
    """
    if not math.isfinite(seconds):
        raise ValueError(f"format_duration: seconds must be finite, got {seconds!r}")
    seconds = max(0.0, seconds)
    if seconds < 59.5:
        return f"{round(seconds)} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"
