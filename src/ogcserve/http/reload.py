"""Reloading a running server: what it watches, where it tells the outcome, `ogcserve reload`.

Plugins cannot be imported again safely inside a process (modules keep references to old
classes, C extensions never unload), so a reload starts new worker processes, which read the
project files, plugin folders and installed plugins afresh, and retires the old workers once
every new one is ready (http/workers.py). A reload that fails — a project that does not load,
a plugin that raises while loading — leaves the old workers serving; the reason is logged and
written, with the outcome, to `<pid_file>.reload` (JSON), which `ogcserve reload` waits for.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from importlib.metadata import distributions
from pathlib import Path

from ogcserve.plugins.loader import ENTRY_POINT_GROUP, plugin_folders
from ogcserve.settings import Settings

Fingerprint = tuple[tuple[str, float, int], ...]


@dataclass(frozen=True)
class ReloadOptions:
    """How the dispatcher reloads: `watch` seconds between checks (0: never), the seconds new
    workers get (`timeout`), where the outcome goes, and what is watched."""

    watch: float = 0.0
    timeout: float = 120.0
    status_file: Path | None = None
    fingerprint: Callable[[], Fingerprint] = lambda: ()


def watched_fingerprint(projects: Sequence[Path], plugin_folders: Sequence[Path]) -> Fingerprint:
    """(path, mtime, size) of the project files, every file under the plugin folders, and the
    metadata of installed distributions that declare ogcserve plugins (a pip install or upgrade
    rewrites it)."""
    entries = [_stat(path) for path in projects]
    for folder in plugin_folders:
        if folder.is_dir():
            entries += [
                _stat(path)
                for path in sorted(folder.rglob("*"))
                if path.is_file() and "__pycache__" not in path.parts
            ]
    for dist in distributions():
        if any(ep.group == ENTRY_POINT_GROUP for ep in dist.entry_points):
            name = dist.metadata["Name"] or "?"
            entries.append((f"dist:{name}=={dist.version}", 0.0, 0))
            entries += [_stat(Path(str(dist.locate_file(f)))) for f in (dist.files or [])[:200]]
    return tuple(entries)


def _stat(path: Path) -> tuple[str, float, int]:
    try:
        stat = path.stat()
    except OSError:
        return (str(path), -1.0, -1)
    return (str(path), stat.st_mtime, stat.st_size)


def write_pid(path: Path) -> None:
    """Write this process's pid to `path` (replacing it whole)."""
    _replace(path, f"{os.getpid()}\n")


def status_file(pid_file: Path) -> Path:
    """Where the server writes the outcome of each reload."""
    return pid_file.with_name(pid_file.name + ".reload")


def write_status(path: Path, started: float, ok: bool, message: str) -> None:
    """Record a reload's outcome: when it started (wall clock), whether it worked, why."""
    _replace(path, json.dumps({"started": started, "ok": ok, "message": message}) + "\n")


def _replace(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(text)
    partial.replace(path)


def remove(paths: Iterable[Path | None]) -> None:
    """Delete these files if they exist (the server is stopping)."""
    for path in paths:
        if path is not None:
            with contextlib.suppress(OSError):
                path.unlink()


def request_reload(pid_file: Path, timeout: float) -> tuple[int, str]:
    """Signal the server whose pid is in `pid_file` to reload and wait for the outcome.

    Returns an exit status and a message: 0 reloaded, 1 the reload failed (the old version
    still serves), 2 no server or no answer in `timeout` seconds.
    """
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError) as error:
        return 2, f"no running server: cannot read the pid file {pid_file} ({error})"
    asked = time.time()
    try:
        os.kill(pid, signal.SIGHUP)
    except OSError as error:
        return 2, f"no running server with pid {pid} (from {pid_file}): {error}"
    limit = time.monotonic() + timeout
    while time.monotonic() < limit:
        outcome = _read_status(status_file(pid_file))
        started = outcome.get("started") if outcome is not None else None
        if outcome is not None and isinstance(started, float | int) and started >= asked:
            message = str(outcome.get("message", ""))
            return (0, message) if outcome.get("ok") else (1, message)
        time.sleep(0.2)
    return 2, f"the server (pid {pid}) did not finish reloading within {timeout:g} s"


def _read_status(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def options(settings: Settings) -> ReloadOptions:
    """The reload options of `settings`: its watch interval and timeout, its pid file's status
    file, and a fingerprint of its projects and plugin folders."""
    folders = plugin_folders(settings.plugin_paths, os.environ)
    return ReloadOptions(
        watch=settings.reload_watch,
        timeout=settings.reload_timeout,
        status_file=status_file(settings.pid_file) if settings.pid_file else None,
        fingerprint=partial(watched_fingerprint, list(settings.projects), folders),
    )


@contextlib.contextmanager
def pid_file(settings: Settings) -> Iterator[None]:
    """Write the pid file (if the settings name one) while the server runs."""
    path = settings.pid_file
    if path is None:
        yield
        return
    write_pid(path)
    try:
        yield
    finally:
        remove([path, status_file(path)])
