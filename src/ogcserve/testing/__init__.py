"""Helpers to test plugins the way ogcserve tests itself: a real server, driven in process.

    from ogcserve.testing import make_server, client

    server = make_server(plugins=[my_plugin.setup])
    response = client(server).get("/ows?SERVICE=HELLO")
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.testclient import TestClient

from ogcserve import pipeline
from ogcserve.app import build_server
from ogcserve.cli import demo_project
from ogcserve.context import RequestContext
from ogcserve.http.asgi import asgi_app
from ogcserve.http.request import ServerRequest
from ogcserve.http.response import BufferSink
from ogcserve.plugins.interface import ServerInterface
from ogcserve.server import Server
from ogcserve.settings import Settings

__all__ = ["Result", "call", "client", "demo_project", "make_server"]


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
    request = ServerRequest.build(method, full, headers=headers or {}, body=body, route=route)
    ctx = pipeline.handle(server, request, sink)
    return Result(sink.status, dict(sink.headers), sink.chunks, sink.aborted, ctx)
