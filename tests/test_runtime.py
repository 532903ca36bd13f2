"""Process-level runtime settings: threads and memory reuse."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gafn_lib.core.runtime import configure_threads

# 20 times, allocate six 4 MB tensors (a step's activations at H=64) and free them; print the minor
# page faults before and after keep_freed_memory(), in a fresh process (mallopt is process-wide and
# sticky). glibc's defaults hand the freed 24 MB back to the system each time (trim threshold)
FAULTS_SCRIPT = """
import resource, torch
from gafn_lib.core.runtime import keep_freed_memory

def faults():
    start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        blocks = [torch.ones(1024, 1024) for _ in range(6)]
        del blocks
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start

faults()  # imports and first allocations out of the way
before = faults()
ok = keep_freed_memory()
faults()
print(before, faults(), ok)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt only")
def test_keep_freed_memory_stops_page_faulting_in_freed_blocks():
    out = subprocess.run([sys.executable, "-c", FAULTS_SCRIPT], capture_output=True, text=True, check=True).stdout
    before, after, ok = out.split()
    if ok != "True":
        pytest.skip("this libc has no mallopt")
    # default glibc: the 24 MB are faulted in again every time (~6,000 faults of 4 kB)
    assert int(before) > 20 * 3000 and int(after) < int(before) / 20, out


def test_configure_threads_validates():
    assert configure_threads(1) == 1
    with pytest.raises(ValueError, match="number of threads must be >= 1"):
        configure_threads(0)
