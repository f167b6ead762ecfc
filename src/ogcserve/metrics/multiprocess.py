"""The metrics directory `ogcserve serve` shares with its workers, and the parent's part.

prometheus_client's multi-process mode keeps each process's values in files of one directory
(PROMETHEUS_MULTIPROC_DIR) and adds them up when /metrics is asked. `serve` makes that a private
temporary directory, empty when it starts and removed when it stops, so that numbers of an
earlier run never mix in. The variable must be set before prometheus_client is imported in any
process that writes (docs/decisions/0006-metrics.md): `serve` sets it first thing, then imports
this module.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger("ogcserve.metrics")

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def shared_directory() -> Iterator[str]:
    """A fresh metrics directory in the environment (for the workers) for the block."""
    path = tempfile.mkdtemp(prefix="ogcserve-metrics-")
    previous = os.environ.get(VARIABLE)
    os.environ[VARIABLE] = path
    try:
        yield path
    finally:
        if previous is None:
            os.environ.pop(VARIABLE, None)
        else:
            os.environ[VARIABLE] = previous
        shutil.rmtree(path, ignore_errors=True)


def worker_exits(path: str) -> Callable[[int, bool], None]:
    """What the parent does when a worker exits: its live gauges (pools) are dropped from the
    sums, and, when it died and was replaced, the restart is counted (a worker retired by a
    reload is no restart). Call inside `shared_directory`."""
    from prometheus_client.multiprocess import mark_process_dead

    from ogcserve.metrics.registry import Metrics, multiprocess_dir

    metrics = Metrics()
    if multiprocess_dir() != path:
        log.warning(
            "prometheus_client was imported before %s was set: restarts go uncounted", VARIABLE
        )

    def exited(pid: int, replaced: bool) -> None:
        mark_process_dead(pid, path)  # type: ignore[no-untyped-call]
        if replaced:
            metrics.worker_restarts.inc()

    return exited
