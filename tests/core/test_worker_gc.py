"""A worker settles CPython's garbage collector when it starts (docs/performance.md): the
objects of its start-up are frozen out of the generations, and young collections come less
often; requests answer as before."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from ogcserve.http.asgi import GC_THRESHOLDS
from ogcserve.testing import call, client, make_server


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_startup_freezes_and_raises_the_thresholds(restored_gc: None) -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    http = client(make_server())
    assert gc.get_freeze_count() == 0  # nothing happens before the server starts
    with http:  # the ASGI lifespan: what uvicorn runs in each worker
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
        got = http.get("/ows?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=countries")
        assert got.status_code == 200 and b"countries" in got.content


@pytest.mark.parametrize(
    "query",
    [
        "REQUEST=GetFeatureInfo&LAYERS=countries&STYLES=&CRS=EPSG:4326&BBOX=-90,-180,90,180"
        "&WIDTH=1024&HEIGHT=768&QUERY_LAYERS=countries&INFO_FORMAT=application/vnd.ogc.gml"
        "&I=519&J=185&FEATURE_COUNT=1",
        "REQUEST=GetMap&LAYERS=countries&STYLES=&CRS=EPSG:4326&BBOX=-90,-180,90,180"
        "&WIDTH=256&HEIGHT=128&FORMAT=image/png",
        "REQUEST=GetCapabilities",
    ],
)
def test_a_request_leaves_nothing_for_the_cyclic_collector(query: str) -> None:
    """The request's objects (context, response, pipeline) are freed as it ends: none of them
    waits for a collection, whose cost grows with what it finds (docs/performance.md)."""
    server = make_server()
    url = f"/ows?SERVICE=WMS&VERSION=1.3.0&{query}"
    assert call(server, url).status == 200  # warm: caches filled, modules imported
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        result = call(server, url)
        assert result.status == 200 and result.chunks
        del result
        gc.collect()
        left = [type(o).__qualname__ for o in gc.garbage]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert left == []
