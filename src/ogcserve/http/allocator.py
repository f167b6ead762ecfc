"""The C allocator of a serving process keeps the memory an answer freed, for the next answer.

glibc serves blocks above 128 KiB from fresh mmaps until its threshold has risen with use,
and gives heap memory back to the system whenever 2 x that threshold lies free at its top. A
raster answer allocates and frees a few arrays of megabytes (GDAL's buffers, numpy's arrays,
the encoded file), so each request faulted their pages in anew: about 1.5 ms per 2 MB array on
this project's 2-CPU benchmark VM, half the time of a reprojected 512 x 512 GetCoverage
(docs/performance.md, WCS). With the thresholds set here blocks under `_MMAP_THRESHOLD` come
from the heap and up to `_TRIM_THRESHOLD` of freed memory is kept: a worker holds at most that
much more than it uses. MALLOC_* environment variables the operator set win. Called once per
process that serves (`create_app`); nothing happens off glibc.
"""

from __future__ import annotations

import ctypes
import os
import sys

_TRIM_THRESHOLD = 64 * 2**20
_MMAP_THRESHOLD = 16 * 2**20
# mallopt's parameter numbers (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_OPERATOR_SETTINGS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_")


def keep_freed_memory() -> bool:
    """Set glibc's trim and mmap thresholds (idempotent); False where it did not."""
    if not sys.platform.startswith("linux") or any(k in os.environ for k in _OPERATOR_SETTINGS):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    trim = mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    mmap = mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
    return bool(trim) and bool(mmap)
