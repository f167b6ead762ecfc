"""No request holds a real `ogcserve serve` for long: a huge BBOX, a client that hangs up, a
time budget, a stop signal during a long request (issue 11, item 1).

The long requests come from a plugin service (plugins/slow_service.py) that reads features
until something stops it. Times are only asserted as generous bounds that prove "does not
hang"; the outcomes are what is checked.
"""

from __future__ import annotations

import io
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from PIL import Image

from ogcserve.http import dispatch
from ogcserve.testing import exited, serve_process

pytestmark = pytest.mark.e2e

PLUGINS = Path(__file__).resolve().parent / "plugins"
HANG = 20.0  # seconds: far beyond what any of these requests needs, far below "minutes"
HUGE = (
    "/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=elevation&STYLES=&CRS=EPSG:3857"
    "&BBOX=-1e15,-1e15,1e15,1e15&WIDTH=256&HEIGHT=256&FORMAT=image/png&TRANSPARENT=TRUE"
)


@contextmanager
def slow_server(tmp_path: Path, workers: int = 1, **settings: str) -> Iterator[str]:
    """`ogcserve serve` with SERVICE=SLOW loaded and OGCSERVE_<NAME> settings."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PLUGINS), env.get("PYTHONPATH")) if p)
    env["OGCSERVE_PLUGINS"] = '["slow_service:setup"]'
    env["SLOW_PLUGIN_DIR"] = str(tmp_path)
    env.update({f"OGCSERVE_{k.upper()}": v for k, v in settings.items()})
    with serve_process(workers=workers, env=env) as url:
        yield url


def states(folder: Path) -> list[str]:
    return [p.read_text() for p in folder.iterdir()]


def wait_for(condition: Callable[[], bool], timeout: float = HANG) -> bool:
    limit = time.monotonic() + timeout
    while time.monotonic() < limit:
        if condition():
            return True
        time.sleep(0.1)
    return False


def start_slow(url: str, mode: str = "read") -> None:
    """Send SERVICE=SLOW and hang up after a second (the client gives up)."""
    with pytest.raises(httpx.TimeoutException):
        httpx.get(f"{url}/ows?SERVICE=SLOW&MODE={mode}", timeout=1.0)


def test_the_huge_getmap_answers_an_empty_map(tmp_path: Path) -> None:
    with slow_server(tmp_path) as url:
        response = httpx.get(url + HUGE, timeout=HANG)
        assert response.status_code == 200
        image = Image.open(io.BytesIO(response.content)).convert("RGBA")
        # Luxembourg is far smaller than one of these 8e12 m pixels: nothing is drawn.
        assert image.size == (256, 256) and image.getextrema()[3] == (0, 0)
        assert httpx.get(f"{url}/health", timeout=HANG).status_code == 200


def test_a_request_over_its_budget_gets_an_ogc_exception(tmp_path: Path) -> None:
    with slow_server(tmp_path, request_timeout="1") as url:
        response = httpx.get(f"{url}/ows?SERVICE=SLOW", timeout=HANG)
        assert response.status_code == 503
        assert response.text == ("NoApplicableCode: The request exceeded the time budget of 1 s\n")
        assert states(tmp_path) == ["stopped"]


def test_a_client_that_hangs_up_frees_the_worker(tmp_path: Path) -> None:
    with slow_server(tmp_path, request_timeout="0") as url:
        start_slow(url)
        assert wait_for(lambda: states(tmp_path) == ["stopped"]), states(tmp_path)
        assert httpx.get(f"{url}/health", timeout=HANG).status_code == 200
        assert httpx.get(url + HUGE, timeout=HANG).status_code == 200


@pytest.mark.parametrize("workers", [1, 2])
def test_a_stop_signal_during_a_long_request_stops_the_server(tmp_path: Path, workers: int) -> None:
    with slow_server(tmp_path, workers, request_timeout="0", shutdown_grace="1") as url:
        parent = serving_process(url, workers)
        outcome: list[object] = []

        def ask() -> None:
            try:
                outcome.append(httpx.get(f"{url}/ows?SERVICE=SLOW", timeout=HANG).status_code)
            except httpx.HTTPError as error:
                outcome.append(error)

        client = threading.Thread(target=ask)
        client.start()
        assert wait_for(lambda: states(tmp_path) == ["running"])
        os.kill(parent, signal.SIGTERM)
        assert wait_for(lambda: exited(parent)), "the server is still running"
        client.join(HANG)
        # No answer but an error: the 503 OGC report of a request cut by the end of the grace
        # (no longer uvicorn's plain-text 500), or a closed connection.
        assert len(outcome) == 1
        assert isinstance(outcome[0], httpx.HTTPError) or outcome[0] == 503
        assert states(tmp_path) == ["stopped"]  # the work was cancelled, not abandoned


def test_a_request_stuck_in_a_call_does_not_hold_the_shutdown(tmp_path: Path) -> None:
    # The work never reaches a check: the process ends a few seconds after the grace time.
    with slow_server(tmp_path, request_timeout="0", shutdown_grace="1") as url:
        parent = serving_process(url, 1)
        start_slow(url, "stuck")
        assert wait_for(lambda: states(tmp_path) == ["running"])
        os.kill(parent, signal.SIGTERM)
        assert wait_for(lambda: exited(parent)), "the server is still running"


def serving_process(url: str, workers: int) -> int:
    """The pid that `ogcserve serve` runs as: the workers' parent (on Linux, with one worker
    too; elsewhere one worker is the server itself)."""
    worker = int(httpx.get(f"{url}/health").json()["worker"])
    if workers == 1 and not dispatch.SUPPORTED:
        return worker
    stat = Path(f"/proc/{worker}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def test_an_xml_body_with_many_attributes_is_refused_and_health_answers(tmp_path: Path) -> None:
    # 400 KB whose root has 40,000 attributes took 10 s (reading them is quadratic), with the
    # event loop blocked: /health waited too.
    attributes = " ".join(f'a{i}="x"' for i in range(40_000))
    body = f'<GetFeature service="WFS" version="2.0.0" {attributes}/>'.encode()
    with slow_server(tmp_path, workers=1) as url:
        answers: list[httpx.Response] = []

        def attack() -> None:
            for _ in range(5):
                answers.append(
                    httpx.post(
                        f"{url}/ows",
                        content=body,
                        timeout=HANG,
                        headers={"Content-Type": "text/xml"},
                    )
                )

        attackers = [threading.Thread(target=attack) for _ in range(3)]
        for thread in attackers:
            thread.start()
        while any(thread.is_alive() for thread in attackers):
            assert httpx.get(f"{url}/health", timeout=HANG).status_code == 200
        assert len(answers) == 15
        for answer in answers:
            assert answer.status_code == 400
            assert "OperationParsingFailed" in answer.text
            assert "more than 100 attributes" in answer.text
