"""The dispatcher's worker processes (http/dispatch.py): starting them, knowing which are ready,
replacing one that died, giving up when each dies as it starts, and reloads.

A worker is ready once its application has started (http/worker.py); only ready workers of
the serving set are handed connections. A replacement for a worker that died therefore takes
none while it imports and loads the projects: the others take them meanwhile, and with a
single worker they wait in the listening socket's backlog until it is ready.

Reloads (SIGHUP, `ogcserve reload`, or a watched file that changed: http/reload.py) start a
new set of workers beside the old ones; connections keep going to the old ones until every new
worker is ready, then go to the new ones while the old ones finish their requests and exit. A
request is served by one worker from start to end, so it never mixes two versions. If a new
worker fails to start, the others are stopped and the old ones serve on.
"""

from __future__ import annotations

import contextlib
import logging
import select
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from multiprocessing.process import BaseProcess
from pathlib import Path

import uvicorn
from uvicorn._subprocess import get_subprocess

from ogcserve.http import reload
from ogcserve.http.reload import ReloadOptions
from ogcserve.http.worker import run_worker

log = logging.getLogger("ogcserve.dispatch")

# Workers that die before they are ready, this many in a row, stop the server: each dies as
# it starts (an import that fails, a plugin that ends the process while loading). Counted in
# deaths, not seconds, so that a slow start on a busy machine is not taken for a crash loop.
EARLY_DEATHS_TO_STOP = 5


@dataclass
class Worker:
    """One worker process, its channel, and the connections handed to it."""

    process: BaseProcess
    channel: socket.socket
    # connection number -> the parent's duplicate of that connection (http/dispatch.py)
    connections: dict[int, socket.socket] = field(default_factory=dict)
    unread: bytes = b""  # the start of a report that has not fully arrived
    ready: bool = False  # its app has started: it may be handed connections
    note: Path | None = None  # a reload's worker: where it writes why it could not start


class Workers:
    """The serving set (`pool`), a reload's new set until all are ready (`incoming`), and the
    old workers finishing their requests (`leaving`). Channels are registered in `poll`."""

    def __init__(
        self,
        config: uvicorn.Config,
        count: int,
        options: ReloadOptions,
        poll: select.epoll,
        on_worker_exit: Callable[[int, bool], None] | None = None,
    ) -> None:
        self.config = config
        self.options = options
        self.poll = poll
        # Told each dead worker's pid and whether it was replaced (the metrics).
        self.on_worker_exit = on_worker_exit
        self.channels: dict[int, Worker] = {}
        self.pool = [self.start() for _ in range(count)]
        self.incoming: list[Worker] = []
        self.leaving: list[Worker] = []
        self.early_deaths = 0  # workers in a row that died before they were ready
        self.reload_wanted = False
        self.reload_started = 0.0  # wall clock, for the status file
        self.reload_limit = 0.0
        self.next_check = time.monotonic() + options.watch
        self.seen = options.fingerprint() if options.watch else ()

    def start(self, note: Path | None = None) -> Worker:
        """A new worker process (`note`: a reload's, see `run_worker`)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        target = partial(run_worker, self.config, note=str(note) if note else None)
        process = get_subprocess(self.config, target=target, sockets=[theirs])
        process.start()
        theirs.close()
        ours.setblocking(False)
        worker = Worker(process, ours, note=note)
        self.channels[ours.fileno()] = worker
        self.poll.register(ours.fileno(), select.EPOLLIN)
        return worker

    def serving(self) -> list[Worker]:
        """The workers that may be handed connections now."""
        return [w for w in self.pool if w.ready]

    def became_ready(self, worker: Worker) -> None:
        """`worker` reported that its app has started."""
        worker.ready = True
        self.early_deaths = 0

    def everyone(self) -> list[Worker]:
        return self.pool + self.incoming + self.leaving

    def exited(self, worker: Worker) -> None:
        """`worker`'s channel closed (its connections are forgotten): it exited. Replace it if
        it was serving; a reload's new worker that exits fails the reload."""
        if worker.channel.fileno() < 0:
            return  # already done
        self.poll.unregister(worker.channel.fileno())
        del self.channels[worker.channel.fileno()]
        worker.channel.close()
        worker.process.join(timeout=1)
        replaced = False
        if worker in self.leaving:
            self.leaving.remove(worker)
        elif worker in self.incoming:
            self.incoming.remove(worker)
            self._reload_failed(self._why_not_started(worker))
        elif worker in self.pool:
            # A serving worker died: replace it so that the server keeps its capacity.
            log.error(
                "worker %s exited (code %s); starting another",
                worker.process.pid,
                worker.process.exitcode,
            )
            self._count_early_death(worker)
            self.pool[self.pool.index(worker)] = self.start()
            replaced = True
        if self.on_worker_exit is not None and worker.process.pid is not None:
            self.on_worker_exit(worker.process.pid, replaced)

    def _count_early_death(self, worker: Worker) -> None:
        """Stop, rather than restart workers for ever, when each dies before it is ready."""
        self.early_deaths = 0 if worker.ready else self.early_deaths + 1
        if self.early_deaths >= EARLY_DEATHS_TO_STOP:
            log.critical(
                "%d workers in a row died before they were ready; stopping (their errors are "
                "above)",
                self.early_deaths,
            )
            raise SystemExit(1)

    def terminate_all(self) -> None:
        """Ask every worker to finish its requests and exit; they are all leaving now."""
        everyone = self.everyone()
        for worker in everyone:
            worker.process.terminate()
        self.leaving, self.pool, self.incoming = everyone, [], []

    # --- reloads ------------------------------------------------------------------------------

    def reload_step(self) -> None:
        """Start a reload that was asked for, or finish (or give up) the one under way."""
        if self.options.watch and time.monotonic() >= self.next_check:
            self.next_check = time.monotonic() + self.options.watch
            seen = self.options.fingerprint()
            if seen != self.seen:
                self.seen = seen
                log.info("a watched file changed: reloading")
                self.reload_wanted = True
        if self.reload_wanted and not self.incoming:
            self.reload_wanted = False
            self.reload_started = time.time()
            self.reload_limit = time.monotonic() + self.options.timeout
            log.info("reloading: starting %d new workers", len(self.pool))
            notes = Path(tempfile.mkdtemp(prefix="ogcserve-reload-"))
            self.incoming = [self.start(notes / f"{i}") for i in range(len(self.pool))]
        if not self.incoming:
            return
        if all(w.ready for w in self.incoming):
            old, self.pool, self.incoming = self.pool, self.incoming, []
            for worker in old:
                worker.process.terminate()  # it finishes its requests, then exits
            self.leaving += old
            self._reload_done(
                True,
                f"reloaded: workers {', '.join(str(w.process.pid) for w in self.pool)} serve; "
                f"{', '.join(str(w.process.pid) for w in old)} finish their requests",
            )
        elif time.monotonic() > self.reload_limit:
            self._reload_failed(
                f"the new workers were not ready within {self.options.timeout:g} s "
                "(setting reload_timeout)"
            )

    def _reload_failed(self, reason: str) -> None:
        for worker in self.incoming:
            worker.process.kill()
        self.leaving += self.incoming
        self.incoming = []
        self._reload_done(False, f"reload failed, the previous version keeps serving: {reason}")

    def _reload_done(self, ok: bool, message: str) -> None:
        (log.info if ok else log.error)("%s", message)
        for worker in self.pool:
            if worker.note is not None:
                shutil.rmtree(worker.note.parent, ignore_errors=True)
                worker.note = None
        if self.options.status_file is not None:
            reload.write_status(self.options.status_file, self.reload_started, ok, message)

    @staticmethod
    def _why_not_started(worker: Worker) -> str:
        code = worker.process.exitcode
        reason = ""
        if worker.note is not None:
            with contextlib.suppress(OSError):
                reason = worker.note.read_text().strip()
            shutil.rmtree(worker.note.parent, ignore_errors=True)
        return f"a new worker exited (code {code}) before it was ready: {reason or 'see the log'}"
