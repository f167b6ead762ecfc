"""Filter order, propagation and the hooks' contract (DESIGN §2)."""

from __future__ import annotations

from ogcserve.context import RequestContext
from ogcserve.plugins import Hook, RequestFilter, ServerInterface
from ogcserve.server import Server
from ogcserve.testing import call, make_server


class Recorder(RequestFilter):
    def __init__(self, name: str, log: list[str], stop: set[str] | None = None) -> None:
        self.name, self.log, self.stop = name, log, stop or set()

    def _hit(self, hook: str) -> bool:
        self.log.append(f"{self.name}.{hook}")
        return hook not in self.stop

    def on_request_ready(self, ctx: RequestContext) -> bool:
        return self._hit("ready")

    def on_project_ready(self, ctx: RequestContext) -> bool:
        return self._hit("project")

    def on_send_response(self, ctx: RequestContext) -> bool:
        return self._hit("send")

    def on_response_complete(self, ctx: RequestContext) -> bool:
        return self._hit("complete")


def _server_with(*filters: tuple[RequestFilter, int]) -> Server:
    def setup(iface: ServerInterface) -> None:
        for f, priority in filters:
            iface.register_filter(f, priority)

    return make_server(plugins=[setup])


def test_lower_priority_first_and_ties_run_newest_first() -> None:
    log: list[str] = []
    a, b, c = Recorder("A", log), Recorder("B", log), Recorder("C", log)
    server = _server_with((a, 100), (b, 100), (c, 50))
    call(server, "/ows?SERVICE=ECHO")
    ready = [e for e in log if e.endswith(".ready")]
    complete = [e for e in log if e.endswith(".complete")]
    assert ready == ["C.ready", "B.ready", "A.ready"]
    assert complete == ["C.complete", "B.complete", "A.complete"]
    assert server.filters.by_priority() == {50: [c], 100: [b, a]}


def test_hook_order_within_a_request() -> None:
    log: list[str] = []
    server = _server_with((Recorder("A", log), 0))
    call(server, "/ows?SERVICE=WMS&REQUEST=GetCapabilities")
    assert log == ["A.ready", "A.project", "A.complete"]  # nothing flushed: no send-response


def test_false_stops_later_filters_for_that_hook_only() -> None:
    log: list[str] = []
    first = Recorder("first", log, stop={"ready"})
    second = Recorder("second", log)
    server = _server_with((first, 1), (second, 2))
    call(server, "/ows?SERVICE=WMS&REQUEST=GetCapabilities")
    assert "second.ready" not in log
    assert "second.project" in log and "second.complete" in log


def test_none_continues_the_chain() -> None:
    seen: list[str] = []

    class Quiet(RequestFilter):
        def on_request_ready(self, ctx: RequestContext) -> None:
            seen.append("quiet")

    server = _server_with((Quiet(), 1), (Recorder("next", seen), 2))
    call(server, "/ows?SERVICE=WMS")
    assert seen[:2] == ["quiet", "next.ready"]


def test_hooks_of_lists_only_overridden_hooks() -> None:
    class OnlyReady(RequestFilter):
        def on_request_ready(self, ctx: RequestContext) -> None:
            return None

    server = _server_with((OnlyReady(), 0))
    entry = next(iter(server.filters))
    assert server.filters.hooks_of(entry.item) == [Hook.REQUEST_READY.value]


def test_remove_and_replace_filters() -> None:
    log: list[str] = []
    a, b = Recorder("A", log), Recorder("B", log)
    server = _server_with((a, 0))
    server.filters.replace({5: [b, a]})
    assert [e.item for e in server.filters] == [b, a]
    server.filters.remove(a)
    assert [e.item for e in server.filters] == [b]
