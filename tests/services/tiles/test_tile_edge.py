"""Tile hits answered at the ASGI edge (`ogcserve.services.tiles.edge`) are the pipeline's own
answers, and the edge steps aside wherever the pipeline could answer otherwise: a plugin that
could see the request, a dropped tile, a changed project."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tile_support import backend_settings, rules_server

from ogcserve import pipeline
from ogcserve.http.edge import TileHits
from ogcserve.plugins.filters import RequestFilter
from ogcserve.server import Server
from ogcserve.services.tiles.edge import EdgeAnswer, EdgeHits, answer, edge_of
from ogcserve.testing import call, client, demo_project, make_server

URL = "/wmts/demo/countries/default/WebMercatorQuad/1/0/1.png"
# The same tile by every URL the edge answers: RESTful WMTS, XYZ, OGC API - Tiles with `f`,
# WMTS KVP GetTile (keyed by its query as sent).
URLS = [
    URL,
    "/tiles/demo/countries/1/1/0.png",
    "/ogcapi/demo/collections/countries/map/tiles/WebMercatorQuad/1/0/1?f=png",
    "/ows?SERVICE=WMTS&VERSION=1.0.0&REQUEST=GetTile&LAYER=countries&STYLE=default"
    "&FORMAT=image/png&TILEMATRIXSET=WebMercatorQuad&TILEMATRIX=1&TILEROW=0&TILECOL=1",
]
DRAWING = {"tile_metatile": 2, "tile_buffer": 16}
_VOLATILE = ("date", "server")


def pipeline_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs the pipeline answers from now on."""
    runs: list[str] = []
    handle = pipeline.handle

    def counting(server: Server, request: Any, *args: Any, **kwargs: Any) -> Any:
        runs.append(request.url)
        return handle(server, request, *args, **kwargs)

    monkeypatch.setattr(pipeline, "handle", counting)
    return runs


def headers_of(response: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items() if k.lower() not in _VOLATILE}


def edge(server: Server) -> EdgeHits:
    found = edge_of(server)
    assert found is not None
    return found


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("kind", ["memory", "disk"])
def test_a_hit_at_the_edge_is_the_pipelines_answer(
    kind: str, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server(**backend_settings(kind, tmp_path), **DRAWING)
    http = client(server)
    assert http.get(url).headers["x-cache"] == "MISS"  # drawn by the pipeline, noted
    expected = call(server, url)  # the pipeline's answer to a hit
    runs = pipeline_runs(monkeypatch)
    hit = http.get(url)
    assert runs == []  # answered at the edge
    assert hit.status_code == expected.status == 200
    assert hit.content == expected.body
    assert headers_of(hit) == {k.lower(): v for k, v in expected.headers.items()}
    head = http.head(url)
    assert head.status_code == 200 and head.content == b""
    assert headers_of(head) == headers_of(hit)
    etag = hit.headers["etag"]
    for wanted in (etag, f'"other", W/{etag}', "*"):
        current = http.get(url, headers={"If-None-Match": wanted})
        assert current.status_code == 304 and current.content == b""
        assert headers_of(current) == {
            "etag": etag,
            "cache-control": hit.headers["cache-control"],
            "x-cache": "HIT",
        }
    assert http.get(url, headers={"If-None-Match": '"other"'}).content == expected.body
    assert runs == []
    # The pipeline's own 304, for comparison.
    revalidated = call(server, url, headers={"If-None-Match": etag})
    assert revalidated.status == 304
    assert {k.lower() for k in revalidated.headers} == {"etag", "cache-control", "x-cache"}


@pytest.mark.parametrize("url", URLS)
def test_with_a_plugin_that_sees_the_request_every_tile_runs_the_pipeline(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, rules = rules_server(cache_backend="memory", **DRAWING)
    rules.readable = {"alice": {"countries"}, "bob": set()}
    http = client(server)
    runs = pipeline_runs(monkeypatch)
    for _ in range(2):
        assert http.get(url, headers={"X-Role": "alice"}).status_code == 200
        # WMTS says 403; OGC API and XYZ hide what the caller may not read (404)
        assert http.get(url, headers={"X-Role": "bob"}).status_code in (403, 404)
    assert len(runs) == 4
    assert len(edge(server)) == 0


def test_a_dropped_tile_goes_back_to_the_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    server = make_server(cache_backend="memory", **DRAWING)
    http = client(server)
    http.get(URL)
    runs = pipeline_runs(monkeypatch)
    assert http.get(URL).headers["x-cache"] == "HIT" and runs == []
    server.cache_backend.drop_tree("demo/tile/countries")  # what an edit of the layer does
    assert http.get(URL).headers["x-cache"] == "MISS"
    assert len(runs) == 1


def test_a_changed_project_goes_back_to_the_pipeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "demo"
    shutil.copytree(demo_project().parent, folder)
    project = folder / demo_project().name
    server = make_server([project], cache_backend="disk", cache_dir=tmp_path / "cache", **DRAWING)
    http = client(server)
    http.get(URL)
    runs = pipeline_runs(monkeypatch)
    assert http.get(URL).headers["x-cache"] == "HIT" and runs == []
    later = project.stat().st_mtime + 10
    os.utime(project, (later, later))  # the pipeline re-reads it and drops its tiles
    assert http.get(URL).headers["x-cache"] == "MISS"
    assert http.get(URL).headers["x-cache"] == "HIT"
    assert len(runs) == 1


def test_a_changed_project_leaves_no_entry_of_its_old_version(tmp_path: Path) -> None:
    """Entries of the old version can only miss; kept, they would hold it in memory."""
    folder = tmp_path / "demo"
    shutil.copytree(demo_project().parent, folder)
    project = folder / demo_project().name
    server = make_server([project], cache_backend="memory", **DRAWING)
    http = client(server)
    hits = edge(server)
    other = URLS[1]
    for url in (URL, other):
        http.get(url)
    old = server.projects.get("demo")
    assert {e.project for e in hits._entries.values()} == {old} and len(hits) == 2
    later = project.stat().st_mtime + 10
    os.utime(project, (later, later))
    assert http.get(URL).headers["x-cache"] == "MISS"  # the new version, noted
    new = server.projects.get("demo")
    assert new is not old
    assert list(hits._entries) == [(URL, "")]  # the other URL's old entry is gone
    assert hits._entries[(URL, "")].project is new
    assert hits.url_bytes == len(URL)
    assert http.get(other).status_code == 200  # the pipeline's (the same tile: drawn above)
    assert {e.project for e in hits._entries.values()} == {new} and len(hits) == 2


@pytest.mark.parametrize(
    "change",
    [
        lambda server: server.filters.add(object(), 0),
        lambda server: server.access_controls.add(object(), 5),
    ],
)
def test_a_plugin_registered_later_turns_the_edge_off(
    change: Callable[[Server], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server(cache_backend="memory", **DRAWING)
    http = client(server)
    http.get(URL)
    entry = edge(server).find(URL, "")
    assert entry is not None
    assert answer(server, entry, "GET", None) is not None
    change(server)
    assert answer(server, entry, "GET", None) is None


def test_hits_at_the_edge_are_counted_as_the_pipeline_counts_them() -> None:
    server = make_server(cache_backend="memory", metrics=True, **DRAWING)
    metrics = server.metrics
    assert metrics is not None
    http = client(server)
    body = http.get(URL).content  # the pipeline
    http.get(URL)  # the edge
    metrics.flush()
    operation = "/wmts/{project}/{layer}/{style}/{tms}/{level}/{row}/{last}"  # the route
    labels = {"project": "demo", "service": "WMTS", "operation": operation}
    sample = metrics.registry.get_sample_value
    assert sample("ogcserve_requests_total", {**labels, "status": "200"}) == 2
    assert sample("ogcserve_response_bytes_total", labels) == 2 * len(body)
    assert sample("ogcserve_request_duration_seconds_count", labels) == 2
    assert sample("ogcserve_cache_hits_total", {"backend": "memory"}) == 1  # the edge's read


@pytest.mark.parametrize("url", URLS)
def test_the_edge_answers_as_a_server_without_it(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    edged = make_server(cache_backend="memory", **DRAWING)
    plain = make_server(cache_backend="memory", **DRAWING)
    plain.filters.add(RequestFilter(), 0)  # a filter that does nothing: the edge steps aside
    with_edge, without = client(edged), client(plain)
    etag = with_edge.get(url).headers["etag"]
    assert without.get(url).headers["etag"] == etag  # the same drawing, the same tag
    runs = pipeline_runs(monkeypatch)
    for method, headers in [
        ("GET", {}),
        ("HEAD", {}),
        ("GET", {"If-None-Match": etag}),
        ("HEAD", {"If-None-Match": f'"other", {etag}'}),
        ("GET", {"If-None-Match": '"other"'}),
    ]:
        mine, theirs = (
            with_edge.request(method, url, headers=headers),
            without.request(method, url, headers=headers),
        )
        assert (mine.status_code, headers_of(mine), mine.content) == (
            theirs.status_code,
            headers_of(theirs),
            theirs.content,
        )
    assert len(runs) == 5  # the server without the edge only


def test_a_tile_whose_format_the_accept_header_chose_runs_the_pipeline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = make_server(cache_backend="memory", **DRAWING)
    http = client(server)
    url = "/ogcapi/demo/collections/countries/map/tiles/WebMercatorQuad/1/0/1"  # no `f`
    runs = pipeline_runs(monkeypatch)
    answers = [
        http.get(url, headers={"Accept": accept}).headers["content-type"]
        for accept in ("image/png", "image/jpeg", "image/png", "image/jpeg")
    ]
    assert answers == ["image/png", "image/jpeg"] * 2
    assert len(runs) == 4 and len(edge(server)) == 0


def test_another_query_for_the_same_tile_is_its_own_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    server = make_server(cache_backend="memory", **DRAWING)
    http = client(server)
    kvp = URLS[3]
    reordered = "&".join(reversed(kvp.partition("?")[2].split("&")))
    first = http.get(kvp)
    runs = pipeline_runs(monkeypatch)
    assert http.get(f"/ows?{reordered}").content == first.content  # the pipeline's answer
    assert http.get(f"/ows?{reordered}").content == first.content  # now the edge's
    assert http.get(kvp).content == first.content
    assert len(runs) == 1


class _Transport:
    def __init__(self, queued: int) -> None:
        self.queued = queued
        self.aborted = False

    def get_write_buffer_size(self) -> int:
        return self.queued

    def get_extra_info(self, name: str) -> None:
        return None

    def abort(self) -> None:
        self.aborted = True


class _Cycle:  # as uvicorn's request cycle: `receive` is its bound method, it holds the transport
    def __init__(self, transport: _Transport) -> None:
        self.transport = transport

    async def receive(self) -> dict[str, Any]:
        return {"type": "http.disconnect"}


@pytest.mark.parametrize("queued", [0, 70_000])
def test_a_hit_to_a_client_that_reads_nothing_is_cut_off(queued: int) -> None:
    """With bytes still queued the sends may wait: past write_timeout the connection is reset
    (with none queued they cannot wait, and go without a timer)."""
    server = make_server(cache_backend="memory", write_timeout=0.2, **DRAWING)
    edge_app = TileHits(server, edge(server), pipeline_app=None)  # type: ignore[arg-type]
    answer = EdgeAnswer(200, [(b"content-length", b"2")], b"ok", ("", "", ""))
    transport = _Transport(queued)
    sent: list[str] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])
        if queued:
            await asyncio.sleep(60)  # a client that reads nothing: the buffer never drains

    asyncio.run(edge_app._send(answer, _Cycle(transport).receive, send))
    assert transport.aborted == bool(queued)
    assert sent == (
        ["http.response.start"] if queued else ["http.response.start", "http.response.body"]
    )


def test_long_urls_cannot_hold_more_than_the_edges_bytes() -> None:
    """A KVP query takes any parameter and a URL may be 64 KiB: the URLs kept are bounded by
    their text, not only by their count."""
    server = make_server(cache_backend="memory", **DRAWING)
    hits = edge(server)
    hits.max_url_bytes = 20_000
    http = client(server)
    padding = "x" * 4000
    for n in range(12):
        assert http.get(f"{URLS[3]}&PAD{n}={padding}").status_code == 200
        assert hits.url_bytes <= hits.max_url_bytes
        assert hits.url_bytes == sum(len(p) + len(q) for p, q in hits._entries)
    assert 0 < len(hits) <= 5
