"""Process-level runtime settings: torch threads, seeding, devices, memory reuse.

The knob ``GAFN_NUM_THREADS`` (environment variable) sets how many intra-op threads torch uses in
one run; it defaults to **1**. On small shared machines one thread per run is much faster for the
small networks used here (on 2 shared cores, 2 intra-op threads made a hypergrid run 7x slower),
and parallelism comes from running several runs at once (see :mod:`gafn_lib.runner`).
"""

from __future__ import annotations

import ctypes
import os
import random
import sys

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


def keep_freed_memory() -> bool:
    """Ask glibc's ``malloc`` to keep freed blocks of up to 32 MB for reuse (``M_MMAP_THRESHOLD``
    32 MB, ``M_TRIM_THRESHOLD`` 256 MB) instead of handing them back to the system.

    A training step allocates and frees activations, gradients and temporaries of a few MB each
    (a GFlowNet's policy table at H=64 is 4,096 × 256 floats = 4 MB); with glibc's defaults the
    freed memory goes back to the kernel (large blocks are unmapped, the top of the heap is trimmed
    beyond a few MB), and the next step page-faults it in again.
    Measured on one core: a GAFlowNet step at H=64 made ≈3,700 minor page faults and took 52 ms,
    with this 4 faults and 37 ms; a PPO update at ``K = 15``, H = 8 made ≈1,200 and took 1.6× as
    long. Process-wide and idempotent (every trainer calls it); returns False where there is no
    glibc ``mallopt`` (then nothing changes).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, 32 * 2**20)) and bool(mallopt(m_trim_threshold, 256 * 2**20))
