"""Quick kinds of request answer on the event loop (http/inline.py): a kind earns it by
answering quickly in worker threads, and loses it with one slow run on the loop."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from ogcserve.context import RequestContext
from ogcserve.deadline import Deadline
from ogcserve.http import inline
from ogcserve.http.asgi import _AsgiSink
from ogcserve.http.inline import QuickAnswers
from ogcserve.plugins import ServerInterface
from ogcserve.plugins.filters import RequestFilter
from ogcserve.testing import client, make_server

GFI = (
    "/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&LAYERS=countries&STYLES="
    "&CRS=EPSG:4326&BBOX=-90,-180,90,180&WIDTH=1024&HEIGHT=768&QUERY_LAYERS=countries"
    "&INFO_FORMAT=application/vnd.ogc.gml&I=519&J=185&FEATURE_COUNT=1"
)


def scope(path: str, query: bytes) -> dict[str, Any]:
    return {"type": "http", "path": path, "query_string": query}


def test_the_kind_is_the_path_and_the_request() -> None:
    quick = QuickAnswers()
    assert quick.kind(scope("/ows", b"SERVICE=WMS&request=GetMap&X=1")) == ("/ows", b"getmap")
    assert quick.kind(scope("/ows/p", b"REQUEST=GetFeatureInfo")) == ("/ows/p", b"getfeatureinfo")
    assert quick.kind(scope("/ows", b"SERVICE=WMS&MYREQUEST=GetMap")) is None
    assert quick.kind(scope("/ows", b"%52EQUEST=GetMap")) is None  # runs in a thread
    assert quick.kind(scope("/collections/x/items", b"")) is None


def test_a_kind_earns_the_loop_and_one_slow_run_loses_it() -> None:
    quick = QuickAnswers(quick=0.005, promote_after=3)
    kind = ("/ows", b"getfeatureinfo")
    for _ in range(2):
        quick.ran(kind, 0.001, on_loop=False)
    assert not quick.on_loop(kind)
    quick.ran(kind, 0.001, on_loop=False)
    assert quick.on_loop(kind)
    quick.ran(kind, 0.001, on_loop=True)
    assert quick.on_loop(kind)
    quick.ran(kind, 0.050, on_loop=True)  # slow on the loop: back to the threads
    assert not quick.on_loop(kind)
    quick.ran(kind, 0.001, on_loop=False)
    quick.ran(kind, 0.050, on_loop=False)  # a slow run in a thread starts the count again
    for _ in range(2):
        quick.ran(kind, 0.001, on_loop=False)
    assert not quick.on_loop(kind)
    quick.ran(kind, 0.001, on_loop=False)
    assert quick.on_loop(kind)


def test_a_kind_that_streamed_stays_in_threads() -> None:
    quick = QuickAnswers(promote_after=2)
    kind = ("/ows", b"getfeature")
    for _ in range(2):
        quick.ran(kind, 0.001, on_loop=False)
    assert quick.on_loop(kind)
    quick.ran(kind, 0.001, on_loop=True, streamed=True)  # quick, but it streamed
    for _ in range(5):
        quick.ran(kind, 0.001, on_loop=False)
    assert not quick.on_loop(kind)


def test_kinds_beyond_the_limit_stay_in_threads() -> None:
    quick = QuickAnswers(promote_after=1, max_kinds=2)
    for n in range(3):
        quick.ran((f"/ows/{n}", b"getmap"), 0.001, on_loop=False)
    assert quick.on_loop(("/ows/0", b"getmap")) and quick.on_loop(("/ows/1", b"getmap"))
    assert not quick.on_loop(("/ows/2", b"getmap"))


def test_what_streams_on_the_loop_is_sent_in_order_once_done() -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.disconnect"}

    async def run() -> None:
        sink = _AsgiSink(send, receive, Deadline())
        sink.on_loop = True
        sink.start(200, [("Content-Type", "text/plain")])
        sink.send(b"one")
        sink.send(b"two")
        sink.end()
        assert sent == [] and sink.watcher is None  # nothing waits on the loop meanwhile
        assert sink.streamed  # the kind is kept off the loop from now on
        await sink.deliver(*sink.pending)

    asyncio.run(run())
    assert [m["type"] for m in sent] == ["http.response.start", *["http.response.body"] * 3]
    assert b"".join(m["body"] for m in sent[1:]) == b"onetwo"


class _Where(RequestFilter):
    """Notes the thread each request's pipeline runs in."""

    def __init__(self) -> None:
        self.threads: list[str] = []

    def on_project_ready(self, ctx: RequestContext) -> bool | None:
        self.threads.append(threading.current_thread().name)
        return None


def test_served_answers_are_the_same_on_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inline, "QUICK", 60.0)  # every run is quick, however loaded the machine
    where = _Where()

    def setup(iface: ServerInterface) -> None:
        iface.register_filter(where)

    with client(make_server(plugins=[setup])) as http:
        first = http.get(GFI)
        bodies = {http.get(GFI).content for _ in range(30)}
        other = http.get(GFI.replace("I=519", "I=518"))  # same kind, another pixel
    assert first.status_code == 200 and bodies == {first.content}
    assert other.status_code == 200
    pooled = [name.startswith("ogcserve-request") for name in where.threads]
    assert pooled == [True] * inline.PROMOTE_AFTER + [False] * (32 - inline.PROMOTE_AFTER)


def test_quick_on_loop_off_keeps_every_answer_in_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inline, "QUICK", 60.0)
    where = _Where()

    def setup(iface: ServerInterface) -> None:
        iface.register_filter(where)

    server = make_server(plugins=[setup], quick_on_loop=False)
    with client(server) as http:
        answers = [http.get(GFI) for _ in range(20)]
    assert {a.status_code for a in answers} == {200}
    assert len(where.threads) == 20
    assert all(name.startswith("ogcserve-request") for name in where.threads)
