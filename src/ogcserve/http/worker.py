"""A worker process of the dispatcher (http/dispatch.py): the connections it serves come from
its parent over a Unix socket pair (its channel) instead of a listening socket.

The two speak in 8-byte connection numbers: with each socket handed over (SCM_RIGHTS) its
number; back, the number of each connection the worker closed itself (keep-alive timeout,
`Connection: close`), so that the parent closes its duplicate and the FIN goes out; and number
0 (never a connection's), "ready", once the application has started: its lifespan has run, so
its projects and plugins are loaded. The parent hands a worker no connection before that.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import sys
from functools import partial
from pathlib import Path
from typing import Any

import uvicorn

from ogcserve.http.shutdown import GracefulServer

ID = struct.Struct("<Q")
READY = ID.pack(0)


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
                data, fds, _, _ = socket.recv_fds(channel, ID.size * 64, 64)
            except BlockingIOError:
                return False
            if not data and not fds:  # the parent is gone
                loop.remove_reader(channel.fileno())
                self.should_exit = True
                return False
            # Each socket comes with its number (one sendmsg each: a read never splits them).
            idents = [data[i : i + ID.size] for i in range(0, len(data), ID.size)]
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
        channel.send(READY)


def run_worker(
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
