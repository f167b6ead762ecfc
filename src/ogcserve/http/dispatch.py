"""Several worker processes behind one accepting parent that hands each connection to the
least busy worker.

Why not uvicorn's own `--workers`: its workers share the listening socket, and the first to
wake accepts every connection waiting, so a few kept-alive clients (a QGIS desktop project, a
benchmark at concurrency 2) often all land on one Python process while the others idle. Here
the parent accepts, counts each worker's open connections, and passes the socket (SCM_RIGHTS)
to the one with the fewest; a worker reports every connection it closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import selectors
import signal
import socket
import sys
from dataclasses import dataclass
from functools import partial
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

import uvicorn
from uvicorn._subprocess import get_subprocess

log = logging.getLogger("ogcserve.dispatch")

_CLOSED = b"."  # what a worker writes on its channel when one of its connections closes


class WorkerServer(uvicorn.Server):
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

        def create_protocol() -> asyncio.Protocol:
            protocol: Any = config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=state, app_state=self.lifespan.state
            )
            lost = protocol.connection_lost

            def connection_lost(exc: Exception | None) -> None:
                lost(exc)
                with contextlib.suppress(OSError):
                    channel.send(_CLOSED)

            protocol.connection_lost = connection_lost
            return protocol  # type: ignore[no-any-return]

        opening: set[asyncio.Task[Any]] = set()  # keeps the hand-over tasks alive

        def receive() -> None:
            try:
                data, fds, _, _ = socket.recv_fds(channel, 64, 64)
            except BlockingIOError:
                return
            if not data and not fds:  # the parent is gone
                loop.remove_reader(channel.fileno())
                self.should_exit = True
                return
            for fd in fds:
                connection = socket.socket(fileno=fd)
                task = loop.create_task(loop.connect_accepted_socket(create_protocol, connection))
                opening.add(task)
                task.add_done_callback(opening.discard)

        loop.add_reader(channel.fileno(), receive)
        self.servers = []
        self.started = True


def _run_worker(config: uvicorn.Config, sockets: list[socket.socket]) -> None:
    WorkerServer(config).run(sockets=sockets)


@dataclass
class _Worker:
    process: BaseProcess
    channel: socket.socket
    connections: int = 0


def serve(config: uvicorn.Config, workers: int) -> None:
    """Accept on `config`'s socket and dispatch to `workers` processes until a signal."""
    listener = config.bind_socket()
    listener.listen(config.backlog)  # uvicorn binds; its servers would call listen() themselves
    listener.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    pool = [_start(config, selector) for _ in range(workers)]
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    try:
        while not stopping:
            for key, _ in selector.select(timeout=0.5):
                if key.fileobj is listener:
                    _dispatch(listener, pool)
                else:
                    _collect(key.data, selector, pool, config)
    finally:
        for worker in pool:
            worker.process.terminate()
        for worker in pool:
            worker.process.join(timeout=config.timeout_graceful_shutdown or 10)
        listener.close()


def _start(config: uvicorn.Config, selector: selectors.BaseSelector) -> _Worker:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    process = get_subprocess(config, target=partial(_run_worker, config), sockets=[theirs])
    process.start()
    theirs.close()
    ours.setblocking(False)
    worker = _Worker(process, ours)
    selector.register(ours, selectors.EVENT_READ, worker)
    return worker


def _dispatch(listener: socket.socket, pool: list[_Worker]) -> None:
    while True:
        try:
            connection, _ = listener.accept()
        except BlockingIOError:
            return
        worker = min(pool, key=lambda w: w.connections)
        try:
            socket.send_fds(worker.channel, [b"c"], [connection.fileno()])
            worker.connections += 1
        except OSError as error:
            log.error("could not hand a connection to worker %s: %s", worker.process.pid, error)
        finally:
            connection.close()


def _collect(
    worker: _Worker, selector: selectors.BaseSelector, pool: list[_Worker], config: uvicorn.Config
) -> None:
    try:
        data = worker.channel.recv(4096)
    except BlockingIOError:
        return
    if data:
        worker.connections = max(0, worker.connections - data.count(_CLOSED))
        return
    # The worker died: replace it so that the server keeps its capacity.
    log.error("worker %s exited (code %s); starting another", worker.process.pid,
              worker.process.exitcode)
    selector.unregister(worker.channel)
    worker.channel.close()
    worker.process.join(timeout=1)
    pool[pool.index(worker)] = _start(config, selector)
