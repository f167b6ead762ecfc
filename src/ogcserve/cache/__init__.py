"""Cache backends (memory, disk, Redis) behind one small interface, and the cache filter that
serves the plugin cache hooks from the chosen one.

backend = open_backend(settings)             # Guarded: a failing store is skipped, not fatal
backend.set("proj/tile/roads/...", key, b"...")
backend.get("proj/tile/roads/...", key)
backend.drop(space)                          # one space (e.g. one tile, every caller's copy)
backend.drop_tree("proj")                    # a space and every space below it

Keys are never chosen by callers alone: the pipeline and the tile service derive them from the
caller's access fingerprint (DESIGN §4).
"""

from .backend import CacheBackend, Guarded, open_backend
from .disk import DiskBackend
from .filter import BackendCache
from .memory import MemoryBackend
from .redis_store import RedisBackend

__all__ = [
    "BackendCache",
    "CacheBackend",
    "DiskBackend",
    "Guarded",
    "MemoryBackend",
    "RedisBackend",
    "open_backend",
]
