"""The parts of uvicorn that are not its public API and that ogcserve builds on: the worker
dispatcher (http/dispatch.py, http/workers.py, http/worker.py), the bounded HTTP protocol
(http/protocol.py), any status (http/status.py), the connection reset of a stalled client (http/asgi.py `_reset`) and the
bounded shutdown (http/shutdown.py). pyproject.toml pins the uvicorn versions these were
checked with; this test says which internal moved if another version is installed."""

from __future__ import annotations

import inspect
from importlib import metadata
from typing import Any

import pytest
import uvicorn
from uvicorn.protocols.http import httptools_impl

VERSION = metadata.version("uvicorn")


def require(condition: bool, what: str) -> None:
    if not condition:
        pytest.fail(
            f"uvicorn {VERSION} changed an internal ogcserve relies on: {what}. Adapt the code "
            "named in this test's docstring, then widen the uvicorn pin in pyproject.toml.",
            pytrace=False,
        )


def parameters(fn: Any) -> list[str]:
    return list(inspect.signature(fn).parameters)


def test_the_subprocess_factory_the_dispatcher_starts_workers_with() -> None:
    from uvicorn import _subprocess

    require(hasattr(_subprocess, "get_subprocess"), "uvicorn._subprocess.get_subprocess is gone")
    require(
        parameters(_subprocess.get_subprocess) == ["config", "target", "sockets"],
        "get_subprocess(config, target, sockets) has another signature",
    )


def test_the_server_steps_a_worker_overrides() -> None:
    server = uvicorn.Server(uvicorn.Config("ogcserve.app:create_app", factory=True))
    require(parameters(uvicorn.Server.startup) == ["self", "sockets"], "Server.startup(sockets)")
    require(parameters(uvicorn.Server.run) == ["self", "sockets"], "Server.run(sockets)")
    require(hasattr(server, "server_state"), "Server.server_state")
    require(hasattr(server, "started"), "Server.started")
    require(hasattr(server, "should_exit"), "Server.should_exit")
    require(
        parameters(uvicorn.Server.handle_exit) == ["self", "sig", "frame"],
        "Server.handle_exit(sig, frame)",
    )
    # startup() is where the listening servers are made: a worker's replaces it whole, so it
    # must run the lifespan and hand its state to the protocols the way uvicorn's does.
    source = inspect.getsource(uvicorn.Server)
    for needed in (
        "self.lifespan = config.lifespan_class(config)",
        "self.lifespan.should_exit",
        "app_state=self.lifespan.state",
        "self.servers",
    ):
        require(needed in source, f"Server no longer does {needed!r}")


def test_the_protocol_ogcserve_subclasses() -> None:
    init = parameters(httptools_impl.HttpToolsProtocol.__init__)
    require(
        init[:4] == ["self", "config", "server_state", "app_state"],
        "HttpToolsProtocol(config, server_state, app_state, ...)",
    )
    for method in (
        "on_message_begin",
        "on_url",
        "on_header",
        "send_400_response",
        "data_received",
        "connection_lost",
    ):
        require(hasattr(httptools_impl.HttpToolsProtocol, method), f"HttpToolsProtocol.{method}")
    require(isinstance(getattr(httptools_impl, "STATUS_LINE", None), dict), "STATUS_LINE table")
    from uvicorn.protocols.http import h11_impl

    require(isinstance(getattr(h11_impl, "STATUS_PHRASES", None), dict), "STATUS_PHRASES table")


def test_a_request_cycle_holds_its_transport() -> None:
    cycle = httptools_impl.RequestResponseCycle
    require("transport" in parameters(cycle.__init__), "RequestResponseCycle(transport=...)")
    require(inspect.iscoroutinefunction(cycle.receive), "RequestResponseCycle.receive")
    require(
        "self.transport = transport" in inspect.getsource(cycle.__init__),
        "RequestResponseCycle keeps its transport as .transport",
    )
    # http/protocol.py gives each cycle a transport that joins its head and body writes.
    send = inspect.getsource(cycle.send)
    require(
        send.count("self.transport.write(") >= 2,
        "RequestResponseCycle.send writes the head and the body through self.transport",
    )


def test_a_send_waits_only_while_the_transport_is_paused() -> None:
    # A tile hit at the edge sends without a write timer when nothing waits in the transport's
    # buffer (http/edge.py `TileHits._send`): uvicorn's send must wait for nothing else.
    source = inspect.getsource(httptools_impl.RequestResponseCycle.send)
    require(
        source.count("await ") == 1 and "await self.flow.drain()" in source,
        "RequestResponseCycle.send awaits only flow.drain() (while writing is paused)",
    )


def test_the_config_the_cli_and_dispatcher_use() -> None:
    config = uvicorn.Config("ogcserve.app:create_app", factory=True, timeout_graceful_shutdown=3)
    for name in ("backlog", "timeout_graceful_shutdown", "bind_socket", "load"):
        require(hasattr(config, name), f"Config.{name}")
    config.load()
    require(hasattr(config, "http_protocol_class"), "Config.load() sets http_protocol_class")
    config = uvicorn.Config(
        "ogcserve.app:create_app", factory=True, http="ogcserve.http.protocol:OgcHttpToolsProtocol"
    )
    try:
        config.load()
    except Exception as error:
        require(False, f"Config(http='module:Class') does not load ({error!r})")
    from ogcserve.http.protocol import OgcHttpToolsProtocol

    require(config.http_protocol_class is OgcHttpToolsProtocol, "Config(http='module:Class')")
