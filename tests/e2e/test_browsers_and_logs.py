"""A real `ogcserve serve` as a browser and an operator meet it: CORS preflight and GET,
conditional requests, and the log (access lines, plugin messages at their level) in every
worker process."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ogcserve.testing import serve_process

pytestmark = pytest.mark.e2e

PLUGINS = Path(__file__).resolve().parent / "plugins"
PAGE = "https://maps.example.org"
GETMAP = (
    "/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=countries&STYLES="
    "&CRS=EPSG:4326&BBOX=-90,-180,90,180&WIDTH=64&HEIGHT=32&FORMAT=image/png"
)
CAPS = "/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities"


@pytest.fixture(scope="module")
def debug_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    log = tmp_path_factory.mktemp("logs") / "debug.log"
    with serve_process("--plugins", PLUGINS, workers=2, log_level="debug", log=log) as url:
        yield url, log


def _logged(log: Path, pattern: str, count: int = 1) -> list[str]:
    """The lines matching `pattern`, once there are `count` (a line is written as the answer
    goes out, so it may follow the answer by a moment)."""
    deadline = time.monotonic() + 10
    while True:
        lines = [line for line in log.read_text().splitlines() if re.search(pattern, line)]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_a_page_on_another_site_draws_the_map(debug_server: tuple[str, Path]) -> None:
    url, _ = debug_server
    with httpx.Client(base_url=url) as browser:
        # what a browser sends before a fetch() with a Content-Type header
        preflight = browser.options(
            GETMAP,
            headers={
                "Origin": PAGE,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == "*"
        assert "GET" in preflight.headers["access-control-allow-methods"].split(", ")
        assert "content-type" in preflight.headers["access-control-allow-headers"].lower()
        assert int(preflight.headers["access-control-max-age"]) > 0
        image = browser.get(GETMAP, headers={"Origin": PAGE})
        assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
        assert image.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in image.headers


def test_capabilities_revalidate_with_304(debug_server: tuple[str, Path]) -> None:
    url, _ = debug_server
    with httpx.Client(base_url=url) as first, httpx.Client(base_url=url) as second:
        document = first.get(CAPS)
        tag = document.headers["etag"]
        # a second connection lands on the other worker: the same tag there
        again = second.get(CAPS, headers={"If-None-Match": tag, "Origin": PAGE})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["access-control-allow-origin"] == "*"
        since = first.get(CAPS, headers={"If-Modified-Since": document.headers["last-modified"]})
        assert since.status_code == 304


def test_access_lines_and_plugin_messages_in_every_worker(debug_server: tuple[str, Path]) -> None:
    url, log = debug_server
    workers = set()
    with httpx.Client() as one, httpx.Client() as two:
        for http in (one, two):  # one connection each: the two workers
            workers.add(http.get(f"{url}/health").json()["worker"])
            for parameter in ("BREAK", "QBREAK"):
                answer = http.get(f"{url}{CAPS}&{parameter}=log&{http is one}")
                assert answer.status_code == 200
    assert len(workers) == 2
    for worker in workers:
        # python logging of a plugin (any logger name), at every level down to debug
        for level, text in (
            ("DEBUG", "native says debug"),
            ("INFO", "native says info"),
            ("WARNING", "native says warning"),
        ):
            assert _logged(log, rf"{level} +\[{worker}\] unruly.native: {text}")
        # QgsMessageLog.logMessage(msg, tag, level) through the facade
        for level, text in (
            ("INFO", "unruly says info"),
            ("WARNING", "unruly says warning"),
            ("CRITICAL", "unruly says critical"),
            ("INFO", "unruly says success"),
        ):
            assert _logged(log, rf"{level} +\[{worker}\] qgis.unruly: {text}")
    # one access line per request, from the worker that answered
    for marker in ("True", "False"):
        pattern = (
            rf'\[(\d+)\] ogcserve.access: 127.0.0.1 "GET /ows\?SERVICE=WMS&VERSION=1.3.0'
            rf'&REQUEST=GetCapabilities&Q?BREAK=log&{marker}" 200 \d+ B [\d.]+ ms$'
        )
        lines = _logged(log, pattern, 2)
        assert len(lines) == 2
        pids = {int(re.search(pattern, line).group(1)) for line in lines}  # type: ignore[union-attr]
        assert len(pids) == 1 and pids <= workers
    assert not _logged(log, r"HTTP/1\.1\" 200", 0)  # uvicorn's own access log stays off


def test_debug_level_shows_plugins_not_libraries(debug_server: tuple[str, Path]) -> None:
    # `--log-level debug` is for a plugin's author: the world in Web Mercator (which the
    # state-plane layers cannot reach: pyproj logs a PROJ_ERROR per point at debug) and the
    # elevation raster (rasterio's GDAL environment) must not bury the plugin's lines.
    url, log = debug_server
    world = GETMAP.replace("LAYERS=countries", "LAYERS=demo").replace(
        "CRS=EPSG:4326&BBOX=-90,-180,90,180", "CRS=EPSG:3857&BBOX=-2e7,-2e7,2e7,2e7"
    )
    assert httpx.get(f"{url}{world}").status_code == 200
    assert httpx.get(f"{url}{CAPS}&BREAK=log&libraries").status_code == 200
    assert _logged(log, r"DEBUG +\[\d+\] unruly.native: native says debug")
    assert _logged(log, r"ogcserve.access: .*REQUEST=GetMap&LAYERS=demo")
    libraries = [
        line
        for line in log.read_text().splitlines()
        if re.search(r"\] (pyproj|rasterio|asyncio)[.:]", line)
    ]
    assert libraries == []


def test_log_level_and_no_access_log(tmp_path: Path) -> None:
    log = tmp_path / "quiet.log"
    with serve_process("--plugins", PLUGINS, "--no-access-log", workers=2, log=log) as url:
        assert httpx.get(f"{url}{CAPS}&BREAK=log").status_code == 200
        assert _logged(log, r"WARNING +\[\d+\] unruly.native: native says warning")
    text = log.read_text()
    assert "native says info" not in text and "native says debug" not in text
    assert "ogcserve.access" not in text


def test_access_log_whatever_the_level(tmp_path: Path) -> None:
    log = tmp_path / "warning.log"
    with serve_process(workers=1, log_level="error", log=log) as url:
        long_query = "&".join(f"P{i}=value{i}" for i in range(100))
        assert httpx.get(f"{url}/ows?{long_query}").status_code == 400
        line = _logged(log, r"ogcserve.access: .* 400 ")
    assert len(line) == 1 and re.search(r'P2\d=value2\d.*\.\.\.\(\+\d+ chars\)" 400', line[0])
