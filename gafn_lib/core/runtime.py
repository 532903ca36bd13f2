"""Process-level runtime settings: torch threads, seeding, devices.

The knob ``GAFN_NUM_THREADS`` (environment variable) sets how many intra-op threads torch uses in
one run; it defaults to **1**. On small shared machines one thread per run is much faster for the
small networks used here (on 2 shared cores, 2 intra-op threads made a hypergrid run 7x slower),
and parallelism comes from running several runs at once (see :mod:`gafn_lib.runner`).
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

THREADS_ENV_VAR = "GAFN_NUM_THREADS"


def configure_threads(n_threads: int | None = None) -> int:
    """Set ``torch.set_num_threads``; ``None`` reads ``$GAFN_NUM_THREADS`` (default 1).

    Returns the number of threads now in use.
    """
    if n_threads is None:
        raw = os.environ.get(THREADS_ENV_VAR, "1")
        try:
            n_threads = int(raw)
        except ValueError as err:
            raise ValueError(f"{THREADS_ENV_VAR} must be a positive integer, got {raw!r}") from err
    if n_threads < 1:
        raise ValueError(f"number of threads must be >= 1, got {n_threads}")
    if torch.get_num_threads() != n_threads:
        torch.set_num_threads(n_threads)
    return n_threads


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) for repeatable runs."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``/"auto" → CUDA when available, else CPU; otherwise the named device (validated)."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r} requested but CUDA is not available on this machine")
    return dev
