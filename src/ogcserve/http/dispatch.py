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

The parent hands connections only to workers that are ready (their application started:
http/worker.py); the worker processes, their replacement and reloads are http/workers.py.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import select
import signal
import socket
import time
from collections.abc import Callable
from types import FrameType

import uvicorn

from ogcserve.http.reload import ReloadOptions
from ogcserve.http.shutdown import HARD_EXIT_AFTER
from ogcserve.http.worker import ID, READY
from ogcserve.http.workers import Worker, Workers

log = logging.getLogger("ogcserve.dispatch")

SUPPORTED = hasattr(select, "epoll")  # Linux: epoll with EPOLLRDHUP, and SCM_RIGHTS
_RDHUP = (
    getattr(select, "EPOLLRDHUP", 0)
    | getattr(select, "EPOLLHUP", 0)
    | getattr(select, "EPOLLERR", 0)
)


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
        self.hung_up = False
        signal.signal(signal.SIGHUP, self._hang_up)
        self.config = config
        self.listener = config.bind_socket()
        self.listener.listen(config.backlog)  # uvicorn binds; its servers would call listen()
        self.listener.setblocking(False)
        self.poll = select.epoll()
        # Not polled until a worker is ready: connections wait in the backlog meanwhile.
        self.poll.register(self.listener.fileno(), 0)
        self.accepting = False
        self.held: list[tuple[socket.socket, int]] = []  # accepted while no worker was ready
        self.watched: dict[int, tuple[Worker, int]] = {}  # duplicate's fd -> owner, number
        self.numbers = itertools.count(1)
        self.turn = itertools.count()
        self.workers = Workers(config, workers, options, self.poll, on_worker_exit)

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
                if self.hung_up:
                    self.hung_up = False
                    self.workers.reload_wanted = True
                self.workers.reload_step()
        finally:
            self._stop()

    def _hang_up(self, signum: int, frame: FrameType | None) -> None:
        self.hung_up = True

    def _step(self, timeout: float) -> None:
        events = self.poll.poll(timeout)
        # Hang-ups and worker reports first: the counts must be current when the
        # connections waiting in this same batch are accepted.
        accept = False
        channels = self.workers.channels
        for fd, _ in events:
            if fd == self.listener.fileno():
                accept = True
            elif fd in self.watched:
                worker, number = self.watched[fd]
                self._forget(worker, number)
            elif fd in channels:
                self._collect(channels[fd])
        if accept:
            self._accept()

    def _stop(self) -> None:
        """Stop accepting (taking what already waits, if a worker can take it), then let every
        worker finish its requests: the grace time, then HARD_EXIT_AFTER (http/shutdown.py);
        one that does not end by then is killed rather than waited for."""
        if self.listener.fileno() >= 0:
            if self.accepting:
                self._accept()
            self.poll.unregister(self.listener.fileno())
            self.listener.close()
        for connection, _ in self.held:
            connection.close()
        self.workers.terminate_all()
        leaving = self.workers.leaving
        grace = (self.config.timeout_graceful_shutdown or 0) + HARD_EXIT_AFTER + 2
        limit = time.monotonic() + grace
        with contextlib.suppress(SystemExit):
            while time.monotonic() < limit and any(w.channel.fileno() >= 0 for w in leaving):
                self._step(0.2)
        for worker in list(leaving):
            worker.process.join(timeout=max(limit - time.monotonic(), 0))
            if worker.process.is_alive():
                log.error("worker %s did not stop in time; killed", worker.process.pid)
                worker.process.kill()
                worker.process.join(timeout=5)
        self.poll.close()

    def _listen(self, on: bool) -> None:
        """Poll the listening socket, or leave new connections in its backlog."""
        if on != self.accepting and self.listener.fileno() >= 0:
            self.poll.modify(self.listener.fileno(), select.EPOLLIN if on else 0)
            self.accepting = on

    def _least_busy(self) -> Worker | None:
        """The ready worker with the fewest connections, None if no worker is ready. Ties go
        round: two idle workers get one new connection each."""
        serving = self.workers.serving()
        if not serving:
            return None
        start = next(self.turn) % len(serving)
        ring = serving[start:] + serving[:start]
        return min(ring, key=lambda w: len(w.connections))

    def _accept(self) -> None:
        while self.workers.serving():
            try:
                connection, _ = self.listener.accept()
            except BlockingIOError:
                return
            self._give(connection, next(self.numbers))
        self._listen(False)  # until a worker reports ready (`_collect`)

    def _give(self, connection: socket.socket, number: int) -> None:
        worker = self._hand_over(connection, number)
        if worker is not None:
            # Keep the accepted socket as the duplicate: the worker has its own now.
            worker.connections[number] = connection
            self.watched[connection.fileno()] = (worker, number)
            self.poll.register(connection.fileno(), _RDHUP)
        elif self.workers.serving():
            connection.close()  # refused: a worker is ready but cannot take it
        else:
            # Its worker died as it was handed over, and the replacement is not ready yet.
            self.held.append((connection, number))

    def _hand_over(self, connection: socket.socket, number: int) -> Worker | None:
        """Send the connection to the least busy ready worker; the worker, or None if none
        took it."""
        for _ in range(2):
            worker = self._least_busy()
            if worker is None:
                return None
            try:
                socket.send_fds(worker.channel, [ID.pack(number)], [connection.fileno()])
                return worker
            except BlockingIOError:  # its channel is full: alive, but not reading
                log.error("worker %s takes no connections; one refused", worker.process.pid)
                return None
            except OSError as error:
                # It died and its death is not handled yet: replace it, and try once more.
                log.error("could not hand a connection to worker %s: %s", worker.process.pid, error)
                self._bury(worker)
        return None

    def _forget(self, worker: Worker, number: int) -> None:
        """A connection is over (the peer hung up or the worker closed it): close our copy."""
        duplicate = worker.connections.pop(number, None)
        if duplicate is None:
            return
        self.watched.pop(duplicate.fileno(), None)
        with contextlib.suppress(OSError):
            self.poll.unregister(duplicate.fileno())
        duplicate.close()

    def _collect(self, worker: Worker) -> None:
        try:
            data = worker.channel.recv(ID.size * 512)
        except BlockingIOError:
            return
        except ConnectionResetError:  # the worker died with reports unread
            data = b""
        if data:
            data, worker.unread = worker.unread + data, b""
            whole = len(data) - len(data) % ID.size
            worker.unread = data[whole:]
            for chunk in (data[i : i + ID.size] for i in range(0, whole, ID.size)):
                if chunk == READY:
                    self.workers.became_ready(worker)
                    self._listen(True)
                    held, self.held = self.held, []
                    for connection, number in held:
                        self._give(connection, number)
                else:
                    self._forget(worker, ID.unpack(chunk)[0])
            return
        self._bury(worker)

    def _bury(self, worker: Worker) -> None:
        """A worker's channel closed: it exited. Its connections are over; it is replaced if
        it was serving (http/workers.py)."""
        for number in list(worker.connections):
            self._forget(worker, number)
        self.workers.exited(worker)


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
