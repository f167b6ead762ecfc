"""WMS fixtures: the demo server with and without the role plugin."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from wms_helpers import role_plugin_dir

from ogcserve.server import Server
from ogcserve.testing import make_server


@pytest.fixture(scope="module")
def wms() -> Iterator[Server]:
    server = make_server()
    yield server
    server.close()


@pytest.fixture(scope="module")
def role_wms(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = make_server(plugin_paths=[role_plugin_dir(tmp_path_factory)])
    yield server
    server.close()
