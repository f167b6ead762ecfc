"""A serving process keeps the memory an answer freed (glibc's trim and mmap thresholds), so
the next answer's arrays do not fault their pages in again."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Allocates and frees an 8 MB array, then prints how much free memory glibc's main arena holds
# (mallinfo2's fordblks) and how much it keeps mapped (arena + mmapped).
_PROBE = """
import ctypes, sys
import numpy as np
from ogcserve.http.allocator import keep_freed_memory

class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Info
kept = keep_freed_memory() if sys.argv[1] == "keep" else False
array = np.ones(2**20)  # 8 MB
del array
info = libc.mallinfo2()
print(int(kept), info.fordblks)
"""


def probe(mode: str) -> tuple[bool, int]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True
    )
    kept, free = done.stdout.split()
    return kept == "1", int(free)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_freed_arrays_stay_in_the_heap() -> None:
    kept, free = probe("keep")
    assert kept
    assert free >= 8 * 2**20  # the freed array is still there for the next one
    untouched, free_before = probe("default")
    assert not untouched
    assert free_before < 8 * 2**20  # glibc's default gave it back to the system


def test_operator_settings_win(monkeypatch: pytest.MonkeyPatch) -> None:
    from ogcserve.http.allocator import keep_freed_memory

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    assert keep_freed_memory() is False
