"""Helpers to test plugins the way ogcserve tests itself: a real server, driven in process.

from ogcserve.testing import make_server, client

server = make_server(plugins=[my_plugin.setup])
response = client(server).get("/ows?SERVICE=HELLO")
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

try:
    import httpx
except ImportError as missing:  # pragma: no cover - depends on the installed extras
    raise ImportError("ogcserve.testing needs httpx: pip install 'ogcserve[testing]'") from missing
from starlette.testclient import TestClient

from ogcserve import pipeline
from ogcserve.app import build_server
from ogcserve.cli import demo_project
from ogcserve.context import RequestContext
from ogcserve.http.asgi import asgi_app
from ogcserve.http.request import ServerRequest, XMLLimits
from ogcserve.http.response import BufferSink
from ogcserve.plugins.interface import ServerInterface
from ogcserve.server import Server
from ogcserve.settings import Settings

__all__ = ["Result", "call", "client", "demo_project", "make_server", "serve_process"]


def make_server(
    projects: Iterable[Path] | None = None,
    *,
    plugins: Iterable[Callable[[ServerInterface], Any]] = (),
    plugin_paths: Iterable[Path] = (),
    environ: Mapping[str, str] | None = None,
    **settings: Any,
) -> Server:
    """A server over `projects` (default: the demo) with `plugins` set up, as the CLI builds it.

    Entry-point plugins and the OGCSERVE_PLUGINPATH/QGIS_PLUGINPATH variables are ignored
    unless asked for, so tests see only what they register.
    """
    settings.setdefault("load_entry_points", False)
    server = build_server(
        Settings(
            projects=list(projects) if projects is not None else [demo_project()],
            plugin_paths=list(plugin_paths),
            **settings,
        ),
        environ=environ or {},
    )
    for number, setup in enumerate(plugins):
        setup(ServerInterface(server, getattr(setup, "__module__", f"plugin{number}")))
    return server


def client(server: Server) -> TestClient:
    """A synchronous HTTP client talking to `server` in process (through the ASGI edge)."""
    return TestClient(asgi_app(server), raise_server_exceptions=True)


@dataclass
class Result:
    """What the pipeline sent: status, headers, chunks, and the request context."""

    status: int | None
    headers: dict[str, str]
    chunks: list[bytes]
    aborted: bool
    ctx: RequestContext

    @property
    def body(self) -> bytes:
        """The whole body."""
        return b"".join(self.chunks)


def call(
    server: Server,
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
) -> Result:
    """Run one request through the pipeline directly (no HTTP), keeping the chunks apart."""
    sink = BufferSink()
    full = url if "://" in url else f"http://testserver{url}"
    path = urlsplit(full).path
    route = {"endpoint": "path"}
    if path == "/ows" or path.startswith("/ows/"):
        route = {"endpoint": "ows"}
        if path.startswith("/ows/"):
            route["project"] = path.removeprefix("/ows/")
    settings = server.settings
    limits = XMLLimits(
        settings.xml_max_attributes, settings.xml_max_depth, settings.xml_max_elements
    )
    request = ServerRequest.build(
        method,
        full,
        headers=headers or {},
        body=body,
        route=route,
        xml_limits=limits,
        allow_underscore_headers=settings.allow_underscore_headers,
    )
    ctx = pipeline.handle(server, request, sink)
    return Result(sink.status, dict(sink.headers), sink.chunks, sink.aborted, ctx)


@contextmanager
def serve_process(
    *args: str | Path,
    workers: int = 2,
    env: Mapping[str, str] | None = None,
    startup_timeout: float = 180.0,
    log_level: str = "warning",
    log: Path | None = None,
) -> Iterator[str]:
    """Run a real `ogcserve serve ARGS --workers N` on a free 127.0.0.1 port.

    Yields its base URL once every worker has answered `/health` (each is ready), and stops it
    afterwards. Plugin folders come only from ARGS (`--plugins DIR`): OGCSERVE_PLUGINPATH and
    QGIS_PLUGINPATH are not passed on.
    The server's output (its log, access lines included) goes to the file `log`, or to a
    temporary file that is dropped afterwards.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    environ = {
        k: v
        for k, v in (env if env is not None else os.environ).items()
        if k not in ("OGCSERVE_PLUGINPATH", "QGIS_PLUGINPATH")
    }
    with ExitStack() as stack:
        output = stack.enter_context(
            open(log, "w+b") if log is not None else tempfile.TemporaryFile()  # noqa: SIM115
        )
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ogcserve",
                "serve",
                *map(str, args),
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--log-level",
                log_level,
            ],
            env=environ,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + startup_timeout
            # Every worker answers: a worker is handed connections only once it is ready, and
            # new connections go round the idle ones.
            answered: set[object] = set()
            while len(answered) < workers:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    process.wait()
                    output.seek(0)
                    raise RuntimeError(
                        f"ogcserve serve did not start:\n{output.read().decode(errors='replace')}"
                    )
                worker = _answering_worker(f"{url}/health")
                if worker is None:
                    time.sleep(0.2)
                answered.add(worker)
                answered.discard(None)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)


def exited(pid: int) -> bool:
    """Whether process `pid` is gone: reaped, or every one of its threads has exited. The
    leader of a killed process with threads shows state Z while its other threads still exit
    and hold its files (a worker's channel to the parent among them), so the leader's state
    alone is not enough."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return True
    return all(_thread_exited(task / "status") for task in tasks)


def _thread_exited(status: Path) -> bool:
    try:
        return "State:\tZ" in status.read_text()
    except FileNotFoundError:  # reaped since the listing
        return True


def _answering_worker(url: str) -> object:
    """The worker that answered /health at `url`, None if none did."""
    try:
        response = httpx.get(url, timeout=1)
    except httpx.HTTPError:
        return None
    return response.json().get("worker") if response.status_code == 200 else None
