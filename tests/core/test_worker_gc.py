"""A worker settles CPython's garbage collector when it starts (docs/performance.md): the
objects of its start-up are frozen out of the generations, and young collections come less
often; requests answer as before."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from ogcserve.http.asgi import GC_THRESHOLDS
from ogcserve.testing import client, make_server


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
