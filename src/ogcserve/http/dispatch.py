"""Several worker processes behind one accepting parent that hands each connection to the
least busy worker.

Why not uvicorn's own `--workers`: its workers share the listening socket, and the first to
wake accepts every connection waiting, so a few kept-alive clients (a QGIS desktop project, a
benchmark at concurrency 2) often all land on one Python process while the others idle. Here
the parent accepts, counts each worker's open connections, and passes the socket (SCM_RIGHTS)
to the one with the fewest.

The count must be right at the moment of accepting, which a report from the worker cannot
guarantee: a client that closes its connections and reconnects at once (a benchmark between
two runs, a browser reloading) is accepted again before a busy worker has noticed the close,
and both new connections went to the other worker. So the parent keeps a duplicate of every
connection it hands out and watches it for the peer's hang-up (EPOLLRDHUP, which reads no
data), and handles those events before accepting. The worker reports the connections it closes
itself (keep-alive timeout, `Connection: close`), so that the parent closes its duplicate and
the FIN goes out.

Reloads (SIGHUP, `ogcserve reload`, or a watched file that changed: http/reload.py) start a
new set of workers beside the old ones; connections keep going to the old ones until every new
worker is ready, then go to the new ones while the old ones finish their requests and exit. A
request is served by one worker from start to end, so it never mixes two versions. If a new
worker fails to start, the others are stopped and the old ones serve on.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import select
import shutil
import signal
import socket
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from uvicorn._subprocess import get_subprocess

from ogcserve.http import reload
from ogcserve.http.reload import ReloadOptions
from ogcserve.http.shutdown import HARD_EXIT_AFTER, GracefulServer

log = logging.getLogger("ogcserve.dispatch")

# Parent and worker speak in 8-byte connection numbers: one with each socket handed over, one
# back for each connection the worker closes. Number 0 (never a connection's) means "ready".
_ID = struct.Struct("<Q")
_READY = _ID.pack(0)
# Workers that die this soon after starting, this many times in a row, stop the server.
EARLY_DEATH_SECONDS = 10
EARLY_DEATHS_TO_STOP = 5
SUPPORTED = hasattr(select, "epoll")  # Linux: epoll with EPOLLRDHUP, and SCM_RIGHTS
_RDHUP = (
    getattr(select, "EPOLLRDHUP", 0)
    | getattr(select, "EPOLLHUP", 0)
    | getattr(select, "EPOLLERR", 0)
)


class WorkerServer(GracefulServer):
    """A uvicorn server that serves the connections its parent sends instead of listening."""

    _channel: socket.socket | None = None
    _receive: Any = None
    _opening: set[asyncio.Task[Any]]

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Take the connections already handed over (sent before the stop signal) and serve
        their first request, then stop as uvicorn does (http/protocol.py)."""
        channel = self._channel
        if channel is not None:
            while self._receive():
                pass
            await asyncio.gather(*self._opening)
            asyncio.get_running_loop().remove_reader(channel.fileno())
        await super().shutdown(sockets)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start the app's lifespan, then take connections from the channel (`sockets[0]`)."""
        await self.lifespan.startup()
        if self.lifespan.should_exit:
            sys.exit(3)
        assert sockets, "a worker needs its channel to the parent"
        channel = sockets[0]
        channel.setblocking(False)
        loop = asyncio.get_running_loop()
        config, state = self.config, self.server_state

        def create_protocol(ident: bytes) -> asyncio.Protocol:
            protocol: Any = config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=state, app_state=self.lifespan.state
            )
            lost = protocol.connection_lost

            def connection_lost(exc: Exception | None) -> None:
                lost(exc)
                with contextlib.suppress(OSError):
                    channel.send(ident)

            protocol.connection_lost = connection_lost
            return protocol  # type: ignore[no-any-return]

        opening: set[asyncio.Task[Any]] = set()  # keeps the hand-over tasks alive
        self._opening = opening

        def receive() -> bool:
            try:
                data, fds, _, _ = socket.recv_fds(channel, _ID.size * 64, 64)
            except BlockingIOError:
                return False
            if not data and not fds:  # the parent is gone
                loop.remove_reader(channel.fileno())
                self.should_exit = True
                return False
            # Each socket comes with its number (one sendmsg each: a read never splits them).
            idents = [data[i : i + _ID.size] for i in range(0, len(data), _ID.size)]
            for fd, ident in zip(fds, idents, strict=False):
                connection = socket.socket(fileno=fd)
                task = loop.create_task(
                    loop.connect_accepted_socket(partial(create_protocol, ident), connection)
                )
                opening.add(task)
                task.add_done_callback(opening.discard)
            for fd in fds[len(idents) :]:
                socket.close(fd)
            return True

        loop.add_reader(channel.fileno(), receive)
        self._channel, self._receive = channel, receive
        self.servers = []
        self.started = True
        channel.send(_READY)


def _run_worker(
    config: uvicorn.Config, sockets: list[socket.socket], note: str | None = None
) -> None:
    """A worker process. A reload's worker (`note` given) refuses to start with a plugin that
    fails to load, and writes why it could not start to the file `note`."""
    if note is None:
        WorkerServer(config).run(sockets=sockets)
        return
    os.environ["OGCSERVE_PLUGIN_ERRORS_FATAL"] = "true"
    try:
        WorkerServer(config).run(sockets=sockets)
    except BaseException as error:
        reason = f"{type(error).__name__}: {error}".strip().splitlines()
        if isinstance(error, SystemExit):
            reason = [f"the application did not start (exit {error.code}); see the log"]
        Path(note).write_text(reason[-1] if len(reason) == 1 else "\n".join(reason[-5:]))
        raise


@dataclass
class _Worker:
    process: BaseProcess
    channel: socket.socket
    # connection number -> the parent's duplicate of that connection
    connections: dict[int, socket.socket] = field(default_factory=dict)
    unread: bytes = b""  # the start of a report that has not fully arrived
    started: float = field(default_factory=time.monotonic)
    ready: bool = False  # its app has started (a reload waits for every new worker's)
    note: Path | None = None  # a reload's worker: where it writes why it could not start


class _Dispatcher:
    """The parent's loop: accept, hand over, watch the connections handed over, reload."""

    def __init__(
        self,
        config: uvicorn.Config,
        workers: int,
        options: ReloadOptions,
        on_worker_exit: Callable[[int, bool], None] | None = None,
    ) -> None:
        # First: a SIGHUP while the first workers start is a reload for later, not the end.
        self.reload_wanted = False
        signal.signal(signal.SIGHUP, self._hang_up)
        self.config = config
        self.options = options
        # Told each dead worker's pid and whether it was replaced (the metrics).
        self.on_worker_exit = on_worker_exit
        self.listener = config.bind_socket()
        self.listener.listen(config.backlog)  # uvicorn binds; its servers would call listen()
        self.listener.setblocking(False)
        self.poll = select.epoll()
        self.poll.register(self.listener.fileno(), select.EPOLLIN)
        self.channels: dict[int, _Worker] = {}
        self.watched: dict[int, tuple[_Worker, int]] = {}  # duplicate's fd -> owner, number
        self.numbers = itertools.count(1)
        self.turn = itertools.count()
        self.pool = [self._start() for _ in range(workers)]
        self.early_deaths = 0  # workers in a row that died soon after they started
        self.incoming: list[_Worker] = []  # a reload's new workers, until all are ready
        self.leaving: list[_Worker] = []  # old workers finishing their requests
        self.reload_started = 0.0  # wall clock, for the status file
        self.reload_limit = 0.0
        self.next_check = time.monotonic() + options.watch
        self.seen = options.fingerprint() if options.watch else ()

    def run(self) -> None:
        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, stop)
        try:
            while not stopping:
                self._step(0.5)
                self._reload_step()
        finally:
            self._stop()

    def _hang_up(self, signum: int, frame: FrameType | None) -> None:
        self.reload_wanted = True

    def _step(self, timeout: float) -> None:
        events = self.poll.poll(timeout)
        # Hang-ups and worker reports first: the counts must be current when the
        # connections waiting in this same batch are accepted.
        accept = False
        for fd, _ in events:
            if fd == self.listener.fileno():
                accept = True
            elif fd in self.watched:
                worker, number = self.watched[fd]
                self._forget(worker, number)
            elif fd in self.channels:
                self._collect(self.channels[fd])
        if accept:
            self._accept()

    def _stop(self) -> None:
        """Stop accepting (taking what already waits), then let every worker finish its
        requests: the grace time, then HARD_EXIT_AFTER (http/shutdown.py); one that does not
        end by then is killed rather than waited for."""
        if self.listener.fileno() >= 0:
            self.poll.unregister(self.listener.fileno())
            self._accept()
            self.listener.close()
        everyone = self.pool + self.incoming + self.leaving
        for worker in everyone:
            worker.process.terminate()
        self.leaving, self.pool, self.incoming = everyone, [], []
        grace = (self.config.timeout_graceful_shutdown or 0) + HARD_EXIT_AFTER + 2
        limit = time.monotonic() + grace
        with contextlib.suppress(SystemExit):
            while time.monotonic() < limit and any(w.channel.fileno() >= 0 for w in self.leaving):
                self._step(0.2)
        for worker in self.leaving:
            worker.process.join(timeout=max(limit - time.monotonic(), 0))
            if worker.process.is_alive():
                log.error("worker %s did not stop in time; killed", worker.process.pid)
                worker.process.kill()
                worker.process.join(timeout=5)
        self.poll.close()

    def _start(self, note: Path | None = None) -> _Worker:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        target = partial(_run_worker, self.config, note=str(note) if note else None)
        process = get_subprocess(self.config, target=target, sockets=[theirs])
        process.start()
        theirs.close()
        ours.setblocking(False)
        worker = _Worker(process, ours, note=note)
        self.channels[ours.fileno()] = worker
        self.poll.register(ours.fileno(), select.EPOLLIN)
        return worker

    def _least_busy(self) -> _Worker:
        # Ties go round: two idle workers get one new connection each. A worker still loading
        # (a replacement) takes connections too: they wait in its channel until it serves.
        start = next(self.turn) % len(self.pool)
        ring = self.pool[start:] + self.pool[:start]
        return min(ring, key=lambda w: len(w.connections))

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except BlockingIOError:
                return
            number = next(self.numbers)
            worker = self._hand_over(connection, number)
            if worker is None:
                connection.close()
                continue
            # Keep the accepted socket as the duplicate: the worker has its own now.
            worker.connections[number] = connection
            self.watched[connection.fileno()] = (worker, number)
            self.poll.register(connection.fileno(), _RDHUP)

    def _hand_over(self, connection: socket.socket, number: int) -> _Worker | None:
        """Send the connection to the least busy worker; the worker, or None if none took it."""
        for _ in range(2):
            worker = self._least_busy()
            try:
                socket.send_fds(worker.channel, [_ID.pack(number)], [connection.fileno()])
                return worker
            except BlockingIOError:  # its channel is full: alive, but not reading
                log.error("worker %s takes no connections; one refused", worker.process.pid)
                return None
            except OSError as error:
                # It died and its death is not handled yet: replace it, and try once more.
                log.error("could not hand a connection to worker %s: %s", worker.process.pid, error)
                self._bury(worker)
        return None

    def _forget(self, worker: _Worker, number: int) -> None:
        """A connection is over (the peer hung up or the worker closed it): close our copy."""
        duplicate = worker.connections.pop(number, None)
        if duplicate is None:
            return
        self.watched.pop(duplicate.fileno(), None)
        with contextlib.suppress(OSError):
            self.poll.unregister(duplicate.fileno())
        duplicate.close()

    def _collect(self, worker: _Worker) -> None:
        try:
            data = worker.channel.recv(_ID.size * 512)
        except BlockingIOError:
            return
        except ConnectionResetError:  # the worker died with reports unread
            data = b""
        if data:
            data, worker.unread = worker.unread + data, b""
            whole = len(data) - len(data) % _ID.size
            worker.unread = data[whole:]
            for (number,) in _ID.iter_unpack(data[:whole]):
                if number == 0:
                    worker.ready = True
                else:
                    self._forget(worker, number)
            return
        self._bury(worker)

    def _bury(self, worker: _Worker) -> None:
        """A worker's channel closed: it exited. Replace it if it was serving."""
        if worker.channel.fileno() < 0:
            return  # already done
        for number in list(worker.connections):
            self._forget(worker, number)
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
        else:
            # A serving worker died: replace it so that the server keeps its capacity.
            log.error(
                "worker %s exited (code %s); starting another",
                worker.process.pid,
                worker.process.exitcode,
            )
            self._count_early_death(worker)
            self.pool[self.pool.index(worker)] = self._start()
            replaced = True
        if self.on_worker_exit is not None and worker.process.pid is not None:
            self.on_worker_exit(worker.process.pid, replaced)

    def _count_early_death(self, worker: _Worker) -> None:
        """Stop, rather than restart workers for ever, when each dies as it starts (an import
        that fails, a plugin that ends the process while loading): the server cannot serve."""
        early = time.monotonic() - worker.started < EARLY_DEATH_SECONDS
        self.early_deaths = self.early_deaths + 1 if early else 0
        if self.early_deaths >= EARLY_DEATHS_TO_STOP:
            log.critical(
                "%d workers in a row died within %d s of starting; stopping (their errors are "
                "above)",
                self.early_deaths,
                EARLY_DEATH_SECONDS,
            )
            raise SystemExit(1)

    # --- reloads ------------------------------------------------------------------------------

    def _reload_step(self) -> None:
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
            self.incoming = [self._start(notes / f"{i}") for i in range(len(self.pool))]
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
    def _why_not_started(worker: _Worker) -> str:
        code = worker.process.exitcode
        reason = ""
        if worker.note is not None:
            with contextlib.suppress(OSError):
                reason = worker.note.read_text().strip()
            shutil.rmtree(worker.note.parent, ignore_errors=True)
        return f"a new worker exited (code {code}) before it was ready: {reason or 'see the log'}"


def serve(
    config: uvicorn.Config,
    workers: int,
    options: ReloadOptions | None = None,
    on_worker_exit: Callable[[int, bool], None] | None = None,
) -> None:
    """Accept on `config`'s socket and dispatch to `workers` processes until a signal;
    `on_worker_exit` is told the pid of each worker that exited, and whether it was replaced
    (a death, not a reload's retirement)."""
    _Dispatcher(config, workers, options or ReloadOptions(), on_worker_exit).run()
