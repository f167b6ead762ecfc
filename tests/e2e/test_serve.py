"""A real `ogcserve serve` process with two workers, spoken to over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ogcserve.testing import serve_process

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "plugins"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve_process("--plugins", EXAMPLES) as url:
        yield url


def test_health_lists_the_demo_project(base_url: str) -> None:
    assert httpx.get(f"{base_url}/health").json()["projects"] == ["demo"]


def test_kept_alive_connections_are_spread_over_the_workers(base_url: str) -> None:
    # Two clients, each keeping its connection: the parent hands them to different workers
    # (least busy first), where a shared accept socket often gave both to one process.
    with httpx.Client() as first, httpx.Client() as second:
        one = {first.get(f"{base_url}/health").json()["worker"] for _ in range(3)}
        two = {second.get(f"{base_url}/health").json()["worker"] for _ in range(3)}
    assert len(one) == 1 and len(two) == 1 and one != two


def test_clients_that_reconnect_at_once_are_spread_again(base_url: str) -> None:
    # Two clients hang up while their workers are busy, and two others connect at once
    # (a benchmark between two runs): the parent sees the hang-ups itself before accepting, so
    # the new clients do not both land on the idle worker.
    for _ in range(5):
        busy = f"{base_url}/ows?SERVICE=ECHO&REQUEST=Count&N=2000000"
        with (
            httpx.Client() as first,
            httpx.Client() as second,
            first.stream("GET", busy) as one_stream,
            second.stream("GET", busy) as two_stream,
        ):
            next(one_stream.iter_bytes())
            next(two_stream.iter_bytes())
        with httpx.Client() as third, httpx.Client() as fourth:
            one = third.get(f"{base_url}/health").json()["worker"]
            two = fourth.get(f"{base_url}/health").json()["worker"]
        assert one != two


def test_plugins_are_loaded_in_each_worker(base_url: str) -> None:
    # several requests land on both workers; each must answer with the plugins loaded
    for _ in range(10):
        response = httpx.get(f"{base_url}/ows?SERVICE=HELLO")
        assert response.status_code == 200 and response.text == "HelloServer!"
    report = httpx.get(f"{base_url}/-/plugins").json()
    names = {p["name"]: p["status"] for p in report["plugins"]}
    assert names == {
        "hello": "loaded",
        "params": "loaded",
        "role_access": "loaded",
        "echo_service": "loaded",
        "watermark": "loaded",
    }


def test_streamed_response_is_chunked(base_url: str) -> None:
    with httpx.stream("GET", f"{base_url}/ows?SERVICE=ECHO&REQUEST=Count&N=500") as response:
        assert response.headers.get("transfer-encoding") == "chunked"
        assert "content-length" not in response.headers
        text = "".join(response.iter_text())
    assert text.count("\n") == 501 and text.endswith("end\n")


def test_errors_over_http(base_url: str) -> None:
    response = httpx.get(f"{base_url}/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=Nope")
    assert response.status_code == 400 and "OperationNotSupported" in response.text
    assert httpx.get(f"{base_url}/echo/x").json() == {"word": "x"}


def test_client_disconnect_mid_stream_leaves_the_worker_serving(base_url: str) -> None:
    with httpx.stream("GET", f"{base_url}/ows?SERVICE=ECHO&REQUEST=Count&N=10000") as response:
        next(response.iter_bytes())
    for _ in range(4):
        assert httpx.get(f"{base_url}/health").status_code == 200


def test_a_database_down_at_start_costs_only_its_layers(tmp_path: Path) -> None:
    """The server starts while a layer's PostgreSQL is down (a warning, not a refusal), serves
    the project's other layers, and answers 503 with Retry-After for that layer."""
    import shutil
    import socket

    from ogcserve.cli import demo_project

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    shutil.copy(demo_project().parent / "natural_earth.gpkg", tmp_path)
    project = tmp_path / "mixed.yaml"
    project.write_text(
        "name: mixed\nlayers:\n"
        "  - name: countries\n"
        "    source: {type: geopackage, path: natural_earth.gpkg, table: countries}\n"
        "  - name: parcels\n"
        f"    source: {{type: postgis, dsn: 'postgresql://postgres@127.0.0.1:{closed_port}/x',"
        " table: parcels}\n"
    )
    log = tmp_path / "server.log"
    with serve_process(project, workers=1, log=log) as url:
        ows = f"{url}/ows?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&COUNT=1&TYPENAMES="
        readable = httpx.get(ows + "countries", timeout=30)
        down = httpx.get(ows + "parcels", timeout=30)
    assert readable.status_code == 200 and b"countries" in readable.content
    assert down.status_code == 503 and down.headers["Retry-After"].isdigit()
    assert b"127.0.0.1" not in down.content  # the operator's details stay in the log
    assert "cannot be reached now" in log.read_text()
