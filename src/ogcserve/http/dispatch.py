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
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import select
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

import uvicorn
from uvicorn._subprocess import get_subprocess

from ogcserve.http.shutdown import HARD_EXIT_AFTER, GracefulServer

log = logging.getLogger("ogcserve.dispatch")

# Parent and worker speak in 8-byte connection numbers: one with each socket handed over, one
# back for each connection the worker closes.
_ID = struct.Struct("<Q")
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

        def receive() -> None:
            try:
                data, fds, _, _ = socket.recv_fds(channel, _ID.size * 64, 64)
            except BlockingIOError:
                return
            if not data and not fds:  # the parent is gone
                loop.remove_reader(channel.fileno())
                self.should_exit = True
                return
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

        loop.add_reader(channel.fileno(), receive)
        self.servers = []
        self.started = True


def _run_worker(config: uvicorn.Config, sockets: list[socket.socket]) -> None:
    WorkerServer(config).run(sockets=sockets)


@dataclass
class _Worker:
    process: BaseProcess
    channel: socket.socket
    # connection number -> the parent's duplicate of that connection
    connections: dict[int, socket.socket] = field(default_factory=dict)
    unread: bytes = b""  # the start of a report that has not fully arrived
    started: float = field(default_factory=time.monotonic)


class _Dispatcher:
    """The parent's loop: accept, hand over, watch the connections handed over."""

    def __init__(
        self,
        config: uvicorn.Config,
        workers: int,
        on_worker_exit: Callable[[int], None] | None = None,
    ) -> None:
        self.config = config
        self.on_worker_exit = on_worker_exit  # told each dead worker's pid (the metrics)
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

    def run(self) -> None:
        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, stop)
        try:
            while not stopping:
                events = self.poll.poll(0.5)
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
        finally:
            for worker in self.pool:
                worker.process.terminate()
            # Each worker gives its requests the grace time, then ends within HARD_EXIT_AFTER
            # (http/shutdown.py); one that does not is killed rather than waited for.
            limit = (
                time.monotonic()
                + (self.config.timeout_graceful_shutdown or 0)
                + HARD_EXIT_AFTER
                + 2
            )
            for worker in self.pool:
                worker.process.join(timeout=max(limit - time.monotonic(), 0))
                if worker.process.is_alive():
                    log.error("worker %s did not stop in time; killed", worker.process.pid)
                    worker.process.kill()
                    worker.process.join(timeout=5)
            self.listener.close()
            self.poll.close()

    def _start(self) -> _Worker:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        process = get_subprocess(
            self.config, target=partial(_run_worker, self.config), sockets=[theirs]
        )
        process.start()
        theirs.close()
        ours.setblocking(False)
        worker = _Worker(process, ours)
        self.channels[ours.fileno()] = worker
        self.poll.register(ours.fileno(), select.EPOLLIN)
        return worker

    def _least_busy(self) -> _Worker:
        # Ties go round: two idle workers get one new connection each.
        start = next(self.turn) % len(self.pool)
        ring = self.pool[start:] + self.pool[:start]
        return min(ring, key=lambda w: len(w.connections))

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except BlockingIOError:
                return
            worker = self._least_busy()
            number = next(self.numbers)
            try:
                socket.send_fds(worker.channel, [_ID.pack(number)], [connection.fileno()])
            except OSError as error:
                log.error("could not hand a connection to worker %s: %s", worker.process.pid, error)
                connection.close()
                continue
            # Keep the accepted socket as the duplicate: the worker has its own now.
            worker.connections[number] = connection
            self.watched[connection.fileno()] = (worker, number)
            self.poll.register(connection.fileno(), _RDHUP)

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
                self._forget(worker, number)
            return
        # The worker died: replace it so that the server keeps its capacity.
        log.error(
            "worker %s exited (code %s); starting another",
            worker.process.pid,
            worker.process.exitcode,
        )
        for number in list(worker.connections):
            self._forget(worker, number)
        self.poll.unregister(worker.channel.fileno())
        del self.channels[worker.channel.fileno()]
        worker.channel.close()
        worker.process.join(timeout=1)
        if self.on_worker_exit is not None and worker.process.pid is not None:
            self.on_worker_exit(worker.process.pid)
        self._count_early_death(worker)
        self.pool[self.pool.index(worker)] = self._start()

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


def serve(
    config: uvicorn.Config, workers: int, on_worker_exit: Callable[[int], None] | None = None
) -> None:
    """Accept on `config`'s socket and dispatch to `workers` processes until a signal;
    `on_worker_exit` is told the pid of each worker that died (and was replaced)."""
    _Dispatcher(config, workers, on_worker_exit).run()
