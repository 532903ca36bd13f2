"""Process-level runtime settings: threads and memory reuse."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gafn_lib.core.runtime import configure_threads

# 20 times, allocate a block of about 4 MB (a step's activations at H=64), each a little larger than
# any before (as a step's number of visited states varies), and free it; print the minor page
# faults before and after keep_freed_memory(), in a fresh process (mallopt is process-wide and
# sticky). With glibc's defaults every new largest block is a fresh mmap, faulted in page by page
# and unmapped on free; with the fixed thresholds it comes from the heap, which keeps what it had.
FAULTS_SCRIPT = """
import resource, torch
from gafn_lib.core.runtime import keep_freed_memory

grown = 0

def faults():
    global grown
    start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        grown += 1
        block = torch.ones(1024 * 1024 + grown * 16 * 1024)  # 4 MB + 64 kB per block so far
        del block
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
    # default glibc: each block is faulted in whole (~1,000-1,400 faults of 4 kB); kept: ~16 new pages
    assert int(before) > 20 * 800 and int(after) < int(before) / 20, out


def test_configure_threads_validates():
    assert configure_threads(1) == 1
    with pytest.raises(ValueError, match="number of threads must be >= 1"):
        configure_threads(0)
