"""Headless Chromium on a page of another origin: it fetches the capabilities (with a preflight),
revalidates them (the browser's own If-None-Match, answered 304), and draws a GetMap into a
canvas it then reads, which only works when the image came with CORS headers. With CORS off,
the same page fails: the test sees what a web map would see."""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ogcserve.testing import serve_process

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        shutil.which("chromium") is None,
        reason="chromium is not installed (apt-get install chromium)",
    ),
]

PAGE = """<!doctype html><html><body>pending<script>
const OWS = new URLSearchParams(location.search).get("ows");
async function attempt(name, work, out) {
  try { out[name] = await work(); } catch (e) { out[name] = "error"; }
}
async function run() {
  const out = {};
  const caps = OWS + "?SERVICE=WMS&REQUEST=GetCapabilities";
  // a non-safelisted Content-Type: the browser sends a preflight first
  await attempt("capabilities", async () => {
    const r = await fetch(caps, {headers: {"Content-Type": "application/xml"}});
    return r.status + ":" + (await r.text()).includes("WMS_Capabilities");
  }, out);
  // no-cache: the browser revalidates its copy itself (If-None-Match)
  await attempt("revalidated", async () => {
    const r = await fetch(caps, {cache: "no-cache"});
    return r.status + ":" + (await r.text()).includes("WMS_Capabilities");
  }, out);
  await attempt("canvas", async () => {
    const img = new Image();
    img.crossOrigin = "anonymous";
    img.src = OWS + "?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=countries&STYLES="
      + "&CRS=EPSG:4326&BBOX=-90,-180,90,180&WIDTH=64&HEIGHT=32&FORMAT=image/png";
    await img.decode();
    const canvas = document.createElement("canvas");
    canvas.width = 64; canvas.height = 32;
    canvas.getContext("2d").drawImage(img, 0, 0);
    return canvas.toDataURL("image/png").startsWith("data:image/png");  // throws if tainted
  }, out);
  document.body.textContent = "RESULT" + JSON.stringify(out);
}
run();
</script></body></html>
"""


@pytest.fixture(scope="module")
def page_origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A static server on another port: another origin than the map server's."""
    folder = tmp_path_factory.mktemp("page")
    (folder / "map.html").write_text(PAGE)
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


def _browse(page: str, ows: str) -> dict[str, object]:
    result = subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--virtual-time-budget=20000",
            "--dump-dom",
            f"{page}/map.html?ows={ows}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = re.search(r"RESULT(\{.*?\})</body>", result.stdout)
    assert found, f"the page did not finish:\n{result.stdout[-500:]}\n{result.stderr[-1500:]}"
    return dict(json.loads(found.group(1)))


def test_a_web_map_on_another_origin(page_origin: str, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with serve_process(workers=1, log=log, log_level="info") as url:
        result = _browse(page_origin, f"{url}/ows")
    assert result == {"capabilities": "200:true", "revalidated": "200:true", "canvas": True}
    text = log.read_text()
    assert '"OPTIONS /ows?SERVICE=WMS&REQUEST=GetCapabilities" 204' in text  # the preflight
    assert '"GET /ows?SERVICE=WMS&REQUEST=GetCapabilities" 304' in text  # the revalidation


def test_without_cors_the_same_page_fails(page_origin: str) -> None:
    env = {**os.environ, "OGCSERVE_CORS_ORIGINS": "[]"}
    with serve_process(workers=1, env=env) as url:
        result = _browse(page_origin, f"{url}/ows")
    assert result == {"capabilities": "error", "revalidated": "error", "canvas": "error"}
