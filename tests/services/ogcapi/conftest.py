"""OGC API fixtures: the demo server and the events server (helpers in ogcapi_support.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ogcapi_support import roles, write_events

from ogcserve.server import Server
from ogcserve.testing import make_server


@pytest.fixture
def demo() -> Iterator[Server]:
    srv = make_server()
    yield srv
    srv.close()


@pytest.fixture
def events(tmp_path: Path) -> Iterator[Server]:
    srv = make_server([write_events(tmp_path)], plugins=[roles])
    yield srv
    srv.close()
