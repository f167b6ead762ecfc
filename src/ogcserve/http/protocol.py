"""The HTTP/1.1 protocol uvicorn runs for ogcserve: its own, with limits on the request head.

uvicorn answers a request it cannot parse with a plain-text 400 ("Invalid HTTP request
received."), and its parser (httptools) takes a request line and header block of any size
(URLs fail past 65,535 bytes only because httptools' URL splitter counts in 16 bits). Here the
request-target and the header block are counted as they arrive, and a request beyond the
settings `max_url_length` or `max_header_bytes` is refused at once, before the rest is read or
any parameter is parsed: 414 or 431 with an OGC ServiceExceptionReport, as is any other
request that is not HTTP. The connection is then half-closed; what the client still sends is
read and dropped (never parsed) for a short while, then the connection closes.

When the server stops (or a reload retires this worker), a connection whose first request has
not arrived yet is not closed at once as uvicorn would: it was opened to send a request, so that
request is answered (with `Connection: close`) if it comes within `_FIRST_REQUEST_WAIT`.

A response's head and its body go out in one write where they are sent together: uvicorn
writes the head when the application sends `http.response.start` and the body when it sends
the body, two system calls and two TCP segments for a small answer. Each request's cycle writes
through `_Coalescing`, which holds a write until the end of the event loop's turn and sends it
with whatever is written after it in that turn.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from ogcserve.errors import ServiceError
from ogcserve.exception_reports import service_exception_report
from ogcserve.http.xml_body import RequestNotWellFormedError

# Set on the uvicorn Config (cli.py) as `ogcserve_head_limits`: (URL bytes, header bytes).
DEFAULT_LIMITS = (65_535, 65_536)


class UrlTooLongError(ServiceError):
    """The request-target is longer than the setting `max_url_length`."""

    code = "InvalidParameterValue"
    status = 414


class HeadersTooLargeError(ServiceError):
    """The header block is larger than the setting `max_header_bytes`."""

    code = "InvalidParameterValue"
    status = 431


class _RefusedError(Exception):
    """Stops the parser in a callback (httptools wraps it in HttpParserCallbackError)."""


class OgcHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with the request head bounded and refusals in OGC XML."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        limits: tuple[int, int] = getattr(config, "ogcserve_head_limits", DEFAULT_LIMITS)
        self._max_url, self._max_headers = limits
        self._url_bytes = 0
        self._header_bytes = 0
        self._refusal: ServiceError | None = None
        self._refused = False
        self._heads = 0  # request heads read on this connection
        self._stopping = False

    def data_received(self, data: bytes) -> None:
        if not self._refused:  # once refused, the rest of the request is read and dropped
            super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._url_bytes = 0
        self._header_bytes = 0

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._heads += 1
        if self.cycle is not None:  # not yet started: its task runs in a later turn
            # What the cycle calls (write, close, is_closing) is _Coalescing's; the rest passes on.
            self.cycle.transport = cast(asyncio.Transport, _Coalescing(self.transport, self.loop))
        if self._stopping and self.cycle is not None:
            self.cycle.keep_alive = False  # answered, then closed

    def shutdown(self) -> None:
        """Stop gracefully; a connection that has sent nothing yet gets its first request
        answered (the client opened it to send one), if it comes soon."""
        if self._heads or self._refused or self.transport.is_closing():
            super().shutdown()
            return
        self._stopping = True
        self.loop.call_later(_FIRST_REQUEST_WAIT, self._close_if_unused)

    def _close_if_unused(self) -> None:
        if not self._heads:
            self.transport.close()

    def on_url(self, url: bytes) -> None:
        self._url_bytes += len(url)
        if self._url_bytes > self._max_url:
            self._refusal = UrlTooLongError(
                f"The request URL is longer than {self._max_url} bytes (setting max_url_length);"
                " send long requests as POST"
            )
            raise _RefusedError
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4  # ": " and CRLF
        if self._header_bytes > self._max_headers:
            self._refusal = HeadersTooLargeError(
                f"The request headers are larger than {self._max_headers} bytes"
                " (setting max_header_bytes)"
            )
            raise _RefusedError
        super().on_header(name, value)

    def send_400_response(self, msg: str) -> None:
        """Refuse the request (too large, or not HTTP) with an OGC ServiceExceptionReport."""
        error = self._refusal or RequestNotWellFormedError("The HTTP request is malformed")
        self._refusal = None
        body, content_type = service_exception_report(error, "1.3.0")
        head = [f"HTTP/1.1 {error.status} {_REASONS[error.status]}\r\n".encode("ascii")]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            f"content-type: {content_type}\r\n".encode("ascii"),
            f"content-length: {len(body)}\r\n".encode("ascii"),
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        # Closing with the request's rest unread would reset the connection, and the client
        # might lose the answer: half-close, drop what still comes, close after a while.
        self._refused = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(_LINGER, self.transport.close)


class _Coalescing:
    """A request cycle's view of the connection's transport: a write is held until the end of
    the event loop's turn (or the next write, or a close) and goes out with what follows it,
    so that a response head and a body sent together leave in one `send`."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held = b""

    def write(self, data: bytes) -> None:
        if self._held:
            if len(data) > _COALESCE_BELOW:  # not worth copying: two writes
                self.flush()
            else:
                data, self._held = self._held + data, b""
            self._transport.write(data)
        elif data:
            self._held = data
            self._loop.call_soon(self.flush)

    def flush(self) -> None:
        if self._held:
            data, self._held = self._held, b""
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


_COALESCE_BELOW = 65_536  # bytes; a larger body is written on its own, not copied after a head
_FIRST_REQUEST_WAIT = 2.0  # seconds a stopping server waits for a new connection's request
_LINGER = 2.0  # seconds a refused connection is read from (and dropped) before it closes
_REASONS = {400: "Bad Request", 414: "URI Too Long", 431: "Request Header Fields Too Large"}
