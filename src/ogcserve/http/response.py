"""The response a service writes: status, headers and a body buffer that may be flushed in chunks.

`flush()` is what a streaming service calls: the pipeline's send-response hooks run on the
current chunk first (and may hold it back), then the chunk goes to the sink. `send()` writes the
buffer without running hooks (QGIS's `QgsRequestHandler.sendResponse()`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Protocol

from ogcserve.errors import InternalError
from ogcserve.http.request import Headers

log = logging.getLogger("ogcserve.response")

# RFC 9110: a field name is a token; a value has no control characters but tab, and on the
# wire it is Latin-1 (obs-text). 1xx are interim answers, never a final one: a client that
# receives one waits for the real answer. 204 and 304 have no body.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_NO_BODY = (204, 304)
# The body's framing is the HTTP layer's: a plugin's value would make the client misread it.
_FRAMING = ("content-length", "transfer-encoding")


class ClientDisconnectedError(Exception):
    """The client closed the connection: stop producing the response."""


class InvalidResponseError(InternalError):
    """The response has a status or header that HTTP cannot carry (set by a plugin)."""


class ResponseSink(Protocol):
    """Where bytes go: the ASGI connection, or a buffer in tests."""

    def start(self, status: int, headers: list[tuple[str, str]]) -> None:
        """Send the status line and headers (called once, before the first chunk)."""
        ...

    def send(self, chunk: bytes) -> None:
        """Send part of the body."""
        ...

    def end(self) -> None:
        """Finish the response."""
        ...

    def complete(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """A whole response at once (nothing was streamed): head, body and end together."""
        ...

    def abort(self) -> None:
        """Break the response off: the client must see it as incomplete, not as whole."""
        ...


class ServerResponse:
    """Status, headers and the not-yet-sent part of the body."""

    def __init__(self, sink: ResponseSink, *, head_only: bool = False) -> None:
        self.status = 200
        self.headers = Headers()
        self._buffer = bytearray()
        self._sink = sink
        self._head_only = head_only
        self.headers_sent = False
        self.streamed = False  # True once a service flushed: no Content-Length then
        self.finished = False
        self.final_flush = False  # True while the pipeline flushes the last chunk
        self.bytes_sent = 0  # body bytes handed to the sink (for the metrics)
        self.flush_hook: Callable[[], bool] = lambda: True  # set by the pipeline

    @property
    def body(self) -> bytes:
        """The buffered (unsent) body: while streaming, only the current chunk."""
        return bytes(self._buffer)

    @property
    def content_type(self) -> str:
        """The Content-Type header, or ''."""
        return self.headers.get("Content-Type", "")

    def write(self, data: bytes | str) -> None:
        """Append to the body buffer (text is written as UTF-8)."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        elif not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"a response body is bytes or str, not {type(data).__name__}")
        self._buffer += data

    def replace_body(self, data: bytes | str) -> None:
        """Swap the buffered body for another one."""
        self.clear_body()
        self.write(data)

    def clear_body(self) -> None:
        """Drop the buffered body (what was already sent stays sent)."""
        self._buffer.clear()

    def clear(self) -> None:
        """Drop buffered body and headers, and reset the status to 200.

        QGIS keeps the old status here, which turns a plugin's answer to a custom SERVICE into
        a 500; starting from a clean 200 is what plugin authors expect (docs/plugins.md).
        """
        self._buffer.clear()
        if not self.headers_sent:
            self.headers = Headers()
            self.status = 200

    def replace(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        """Answer this instead of what is buffered (an error document; nothing was sent yet)."""
        self.clear()
        self.status = status
        for name, value in headers.items():
            self.set_header(name, value)
        self.write(body)

    def set_header(self, name: str, value: str) -> None:
        """Set a header; ignored once headers were sent (they can no longer change)."""
        if not self.headers_sent:
            self.headers[name] = value

    def flush(self) -> None:
        """Send the buffer as one chunk, after the send-response hooks (streaming services)."""
        self.streamed = True
        if self.flush_hook():
            self._send_buffer()

    def send(self) -> None:
        """Send the buffer now, without running hooks; sends the headers first if needed."""
        self.streamed = True
        self._send_buffer()

    def _send_buffer(self) -> None:
        if not self.headers_sent:
            self._start()  # without Content-Length: the rest of the body does not exist yet
        if self._buffer:
            chunk = bytes(self._buffer)
            self._buffer.clear()
            if not self._bodyless:
                self.bytes_sent += len(chunk)
                self._sink.send(chunk)

    @property
    def _bodyless(self) -> bool:
        return self._head_only or self.status in _NO_BODY

    def finish(self) -> None:
        """Send what is left and end the response; Content-Length only if nothing was sent yet."""
        if self.finished:
            return
        if not self.headers_sent:
            # Nothing went out yet: the whole answer in one call, which lets the ASGI edge
            # send it without a round trip per part.
            status, headers = self._checked_head()
            self.finished = True
            if status not in _NO_BODY:
                headers.append(("Content-Length", str(len(self._buffer))))
            self.headers_sent = True
            body = b"" if self._bodyless else bytes(self._buffer)
            self._buffer.clear()
            self.bytes_sent += len(body)
            self._sink.complete(status, headers, body)
            return
        self.finished = True
        self._send_buffer()
        self._sink.end()

    def abort(self) -> None:
        """End a response whose headers are out and whose body cannot be completed."""
        if not self.finished:
            self.finished = True
            self._buffer.clear()
            self._sink.abort()

    def _start(self) -> None:
        status, headers = self._checked_head()
        self.headers_sent = True
        self._sink.start(status, headers)

    def _checked_head(self) -> tuple[int, list[tuple[str, str]]]:
        """The status and headers as HTTP can carry them; `InvalidResponseError` if it cannot.

        Plugins may set any final status from 200 to 999 (QGIS's own tests send 999) and any
        header; what HTTP cannot carry becomes a 500 (the reason is logged), so that neither
        the connection nor the worker suffers.
        """
        status = self.status
        if not isinstance(status, int) or isinstance(status, bool):  # HTTPStatus is an int
            problem = f"status {status!r} is not an integer"
        elif not 200 <= status <= 999:
            problem = f"status {status} is not a final three-digit HTTP status (200 to 999)"
        else:
            problem = ""
        headers: list[tuple[str, str]] = []
        for name, value in self.headers.items():
            problem = problem or _header_problem(name, value)
            if problem:
                break
            if name.lower() not in _FRAMING:
                headers.append((name, value))
        if problem:
            log.error("response refused, a 500 is sent instead: %s", problem)
            raise InvalidResponseError("The response could not be sent; the error was logged")
        return int(status), headers


def _header_problem(name: object, value: object) -> str:
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        return f"header name {name!r} is not an HTTP token"
    if not isinstance(value, str):
        return f"header {name}: value {value!r} is not text"
    if _CONTROL.search(value):
        return f"header {name}: value {value!r} holds a line break or control character"
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return f"header {name}: value {value!r} is not Latin-1 (encode it, e.g. RFC 8187)"
    return ""


class BufferSink:
    """A sink that keeps everything in memory (tests and the in-process client)."""

    def __init__(self) -> None:
        self.status: int | None = None
        self.headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []
        self.ended = False
        self.aborted = False

    def start(self, status: int, headers: list[tuple[str, str]]) -> None:
        """Record the head."""
        self.status, self.headers = status, headers

    def send(self, chunk: bytes) -> None:
        """Record a chunk."""
        self.chunks.append(chunk)

    def end(self) -> None:
        """Record the end."""
        self.ended = True

    def complete(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """Record a whole response."""
        self.start(status, headers)
        if body:
            self.send(body)
        self.end()

    def abort(self) -> None:
        """Record the break."""
        self.aborted = True

    @property
    def body(self) -> bytes:
        """Every chunk joined."""
        return b"".join(self.chunks)
