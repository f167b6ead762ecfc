"""A response's head and body leave in one write when they are sent together
(http/protocol.py `_Coalescing`): one system call and one TCP segment for a small answer."""

from __future__ import annotations

import asyncio
from typing import Any

from ogcserve.http.protocol import _COALESCE_BELOW, _Coalescing


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 1234) if name == "peername" else None


def run(steps: Any) -> RecordingTransport:
    async def main() -> RecordingTransport:
        raw = RecordingTransport()
        await steps(_Coalescing(raw, asyncio.get_running_loop()), raw)  # type: ignore[arg-type]
        return raw

    return asyncio.run(main())


def test_a_head_and_a_body_written_in_one_turn_leave_together() -> None:
    async def steps(out: _Coalescing, raw: RecordingTransport) -> None:
        out.write(b"HTTP/1.1 200 OK\r\n\r\n")
        out.write(b"<body/>")
        assert raw.writes == [b"HTTP/1.1 200 OK\r\n\r\n<body/>"]

    run(steps)


def test_a_head_alone_leaves_at_the_end_of_the_turn() -> None:
    async def steps(out: _Coalescing, raw: RecordingTransport) -> None:
        out.write(b"HTTP/1.1 200 OK\r\n\r\n")
        assert raw.writes == []
        await asyncio.sleep(0)
        assert raw.writes == [b"HTTP/1.1 200 OK\r\n\r\n"]
        out.write(b"chunk")  # later chunks of a stream: as they come
        out.write(b"chunk")
        await asyncio.sleep(0)
        assert raw.writes == [b"HTTP/1.1 200 OK\r\n\r\n", b"chunkchunk"]

    run(steps)


def test_a_large_body_is_not_copied_and_order_is_kept() -> None:
    body = b"x" * (_COALESCE_BELOW + 1)

    async def steps(out: _Coalescing, raw: RecordingTransport) -> None:
        out.write(b"head")
        out.write(body)
        assert raw.writes == [b"head", body]
        assert raw.writes[1] is body

    run(steps)


def test_closing_sends_what_is_held_first() -> None:
    async def steps(out: _Coalescing, raw: RecordingTransport) -> None:
        out.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n")
        out.close()
        assert raw.writes == [b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n"] and raw.closed
        assert out.is_closing()
        assert out.get_extra_info("peername") == ("127.0.0.1", 1234)  # the rest passes on

    run(steps)
