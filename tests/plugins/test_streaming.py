"""Streaming: send-response per flushed chunk, held chunks, headers fixed, Content-Length rules."""

from __future__ import annotations

from ogcserve.context import RequestContext
from ogcserve.plugins import RequestFilter, ServerInterface, Service
from ogcserve.testing import call, client, make_server


class Streamer(Service):
    name, version = "STREAM", "1.0.0"

    def execute(self, ctx: RequestContext) -> None:
        ctx.response.set_header("Content-Type", "text/plain")
        for part in ("a", "b", "c"):
            ctx.response.write(part)
            ctx.response.flush()
        ctx.response.write("tail")


class Buffered(Service):
    name, version = "BUFFERED", "1.0.0"

    def execute(self, ctx: RequestContext) -> None:
        ctx.response.set_header("Content-Type", "text/plain")
        ctx.response.write("whole")


def _server(*filters: RequestFilter):  # type: ignore[no-untyped-def]
    def setup(iface: ServerInterface) -> None:
        iface.register_service(Streamer())
        iface.register_service(Buffered())
        for i, f in enumerate(filters):
            iface.register_filter(f, i)

    return make_server(plugins=[setup])


class ChunkSpy(RequestFilter):
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.headers_sent: list[bool] = []

    def on_send_response(self, ctx: RequestContext) -> bool:
        self.chunks.append(ctx.response.body)
        self.headers_sent.append(ctx.response.headers_sent)
        return True


def test_send_response_sees_each_chunk_alone() -> None:
    spy = ChunkSpy()
    result = call(_server(spy), "/ows?SERVICE=STREAM")
    # three flushes by the service, then the final flush of the tail
    assert spy.chunks == [b"a", b"b", b"c", b"tail"]
    assert spy.headers_sent == [False, True, True, True]
    assert result.chunks == [b"a", b"b", b"c", b"tail"]
    assert result.body == b"abctail"


def test_buffered_response_never_runs_send_response_and_has_content_length() -> None:
    spy = ChunkSpy()
    result = call(_server(spy), "/ows?SERVICE=BUFFERED")
    assert spy.chunks == []
    assert result.headers["Content-Length"] == "5"
    assert result.body == b"whole"


def test_streamed_response_has_no_content_length_over_http() -> None:
    response = client(_server()).get("/ows?SERVICE=STREAM")
    assert response.text == "abctail"
    assert "content-length" not in response.headers
    buffered = client(_server()).get("/ows?SERVICE=BUFFERED")
    assert buffered.headers["content-length"] == "5"


def test_false_holds_the_chunk_back_until_a_later_flush() -> None:
    class HoldFirst(RequestFilter):
        def __init__(self) -> None:
            self.calls = 0

        def on_send_response(self, ctx: RequestContext) -> bool:
            self.calls += 1
            return self.calls != 1  # hold "a": it goes out with "b"

    result = call(_server(HoldFirst()), "/ows?SERVICE=STREAM")
    assert result.chunks == [b"ab", b"c", b"tail"]


def test_collecting_every_chunk_gives_one_buffered_response_with_content_length() -> None:
    class Collect(RequestFilter):
        def on_send_response(self, ctx: RequestContext) -> bool:
            return False  # hold everything

        def on_response_complete(self, ctx: RequestContext) -> bool:
            ctx.response.replace_body(ctx.response.body.upper())
            return True

    result = call(_server(Collect()), "/ows?SERVICE=STREAM")
    assert result.body == b"ABCTAIL"
    assert result.headers["Content-Length"] == "7"


def test_headers_are_fixed_after_the_first_chunk() -> None:
    class LateHeader(RequestFilter):
        def on_send_response(self, ctx: RequestContext) -> bool:
            ctx.response.set_header("X-Late", "yes" if ctx.response.headers_sent else "early")
            return True

    result = call(_server(LateHeader()), "/ows?SERVICE=STREAM")
    assert result.headers["X-Late"] == "early"


def test_false_from_a_send_response_filter_stops_later_filters() -> None:
    later = ChunkSpy()

    class Stop(RequestFilter):
        def on_send_response(self, ctx: RequestContext) -> bool:
            return False

    call(_server(Stop(), later), "/ows?SERVICE=STREAM")
    assert later.chunks == []


def test_send_without_hooks_from_a_filter() -> None:
    class Early(RequestFilter):
        def on_response_complete(self, ctx: RequestContext) -> bool:
            ctx.response.clear_body()
            ctx.response.write("A")
            ctx.response.send()
            ctx.response.write("B")
            return True

    spy = ChunkSpy()
    result = call(_server(Early(), spy), "/ows?SERVICE=BUFFERED")
    assert result.chunks == [b"A", b"B"]
    assert "Content-Length" not in result.headers


def test_send_from_a_service_counts_as_streaming_and_is_not_cached() -> None:
    from ogcserve.plugins import CacheKind

    class Sends(Service):
        name, version = "SENDS", "1.0.0"

        def execute(self, ctx: RequestContext) -> None:
            ctx.response.write("AB")
            ctx.response.send()
            ctx.response.write("CD")

        def cache_kind(self, ctx: RequestContext) -> CacheKind:
            return CacheKind.DOCUMENT

    spy = ChunkSpy()
    server = make_server(plugins=[lambda i: (i.register_service(Sends()), i.register_filter(spy))])
    first = call(server, "/ows?SERVICE=SENDS")
    assert first.body == b"ABCD" and "Content-Length" not in first.headers
    assert spy.chunks == [b"CD"]  # send() skips the hooks; the final flush runs them
    assert call(server, "/ows?SERVICE=SENDS").body == b"ABCD"  # never a partial cached body


def test_a_service_error_raised_in_a_hook_is_visible_to_later_hooks() -> None:
    from ogcserve.errors import SecurityError

    seen: list[bool] = []

    class Raises(RequestFilter):
        def on_request_ready(self, ctx: RequestContext) -> bool:
            raise SecurityError("no")

        def on_response_complete(self, ctx: RequestContext) -> bool:
            seen.append(ctx.exception_raised)
            return True

    result = call(_server(Raises()), "/ows?SERVICE=BUFFERED")
    assert result.status == 403 and seen == [True]
