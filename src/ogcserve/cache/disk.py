"""The disk backend: one file per entry in a directory per space.

The layout (`<root>/<space segments>/<key>`, each segment percent-encoded) survives restarts and
may be shared by several hosts (NFS, a shared volume): writes go to a temporary file in the same
directory and are renamed into place, so a reader sees a whole entry or none. Dropping renames
the directory away first, so it vanishes at once for every host.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from functools import lru_cache, partial
from pathlib import Path
from urllib.parse import quote

_TRASH = ".trash"
_LOCKS = ".locks"
_POLL = 0.005  # seconds between two tries of a lock another process holds


@lru_cache(maxsize=65536)
def _segment(text: str) -> str:
    # Percent-encoding keeps names readable and leaves no "/" ; "." and ".." stay out of paths.
    # Kept per text: a tile hit names 8 segments, mostly the same ones as the last hit.
    encoded = quote(text, safe="-_~@:+,=")
    return encoded.replace(".", "%2E") if encoded.strip(".") == "" else encoded


class DiskBackend:
    """Entries under `root`, which is created if absent."""

    name = "disk"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._root = str(self.root)

    def path(self, space: str, key: str = "") -> Path:
        """The directory of a space, or the file of an entry."""
        return Path(self._path(space, key))

    def _path(self, space: str, key: str = "") -> str:
        parts = [_segment(s) for s in space.split("/") if s]
        if key:
            parts.append(_segment(key))
        return os.path.join(self._root, *parts)

    def get(self, space: str, key: str) -> bytes | None:
        """The entry's bytes, or None."""
        return read_entry(self._path(space, key))

    def reader(self, space: str, key: str) -> Callable[[], bytes | None]:
        """A read of one entry whose path is found once (the ASGI edge's, per tile URL)."""
        return partial(read_entry, self._path(space, key))

    def set(self, space: str, key: str, value: bytes) -> None:
        """Write to a temporary file beside the entry, then rename it into place (atomic)."""
        target = self.path(space, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
        try:
            with open(temporary, "wb") as out:
                out.write(value)
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)  # a full disk leaves no half-written file
            raise

    def delete(self, space: str, key: str) -> None:
        """Remove one entry."""
        self.path(space, key).unlink(missing_ok=True)

    def drop(self, space: str) -> None:
        """Remove one space's own entries (the spaces below it stay)."""
        directory = self.path(space)
        if not directory.is_dir():
            return
        for entry in directory.iterdir():
            if entry.is_file():
                entry.unlink(missing_ok=True)

    @contextlib.contextmanager
    def lock(self, name: str, wait: float) -> Iterator[bool]:
        """An advisory lock (flock) on a file under `.locks`, tried until `wait` runs out: a
        lock every process on this host sharing the directory sees (on NFS, as far as its
        locks go). A process that dies lets go of it."""
        digest = hashlib.blake2b(name.encode(), digest_size=16).hexdigest()
        folder = os.path.join(self._root, _LOCKS)
        os.makedirs(folder, exist_ok=True)
        fd = os.open(os.path.join(folder, digest), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            yield _flock(fd, wait)
        finally:
            os.close(fd)  # closing releases the lock

    def drop_tree(self, prefix: str) -> None:
        """Rename the directory away (atomic for every reader), then delete it."""
        directory = self.path(prefix)
        trash = self.root / _TRASH / uuid.uuid4().hex
        trash.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(directory, trash)
        except FileNotFoundError:
            return
        shutil.rmtree(trash, ignore_errors=True)


def _flock(fd: int, wait: float) -> bool:
    give_up = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= give_up:
                return False
            time.sleep(_POLL)


def read_entry(path: str) -> bytes | None:
    """The file's bytes, or None if there is none."""
    # os.read, not open().read(): 4 system calls instead of 9. Entries are replaced by rename,
    # never written in place, so the size fstat gives is the size read.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        size = os.fstat(fd).st_size
        data = os.read(fd, size + 1)
        if len(data) <= size:  # not grown meanwhile: all of it (the +1 shows the end)
            return data
        return data + b"".join(iter(lambda: os.read(fd, 1 << 20), b""))
    finally:
        os.close(fd)
