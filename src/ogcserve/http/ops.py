"""The endpoints operators and their tools call, beside the pipeline: /metrics (Prometheus),
/ready (load balancers, Kubernetes) and /-/explain (admins: who decided what on a request).
/health, the liveness answer, stays in asgi.py."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ogcserve.access.explain import explain
from ogcserve.errors import ServiceError
from ogcserve.plugins.ordering import PluginError
from ogcserve.readiness import Readiness

if TYPE_CHECKING:
    from ogcserve.server import Server

ADMIN_TOKEN_HEADER = "Ogcserve-Admin-Token"
# How often a worker writes its pending counts and its database pools' state to the metrics.
UPKEEP_SECONDS = 1.0


def ops_routes(server: Server) -> list[Route]:
    """/metrics (when metrics are on), /ready and /-/explain/{project}."""
    readiness = Readiness(server)

    async def ready(request: Request) -> JSONResponse:
        state = readiness.fresh()
        if state is None:  # probing blocks: in a thread, off the event loop
            state = await anyio.to_thread.run_sync(readiness.check)
        return JSONResponse(state.report, status_code=200 if state.ready else 503)

    async def explained(request: Request) -> JSONResponse:
        token = server.settings.admin_token
        if not token:
            # word for word as a path nothing answers: the endpoint does not tell it exists
            gone = f"Nothing is served at {request.url.path}"
            return JSONResponse({"code": "NotFound", "description": gone, "status": 404}, 404)
        given = request.headers.get(ADMIN_TOKEN_HEADER, "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            return JSONResponse({"code": "Forbidden", "description": "Wrong admin token"}, 403)
        secret = ADMIN_TOKEN_HEADER.lower()
        headers = [(k, v) for k, v in request.headers.items() if k.lower() != secret]
        query = request.url.query
        project = request.path_params["project"]
        try:
            report = await anyio.to_thread.run_sync(explain, server, project, query, headers)
        except ServiceError as error:
            body = {"code": error.code, "description": error.message}
            return JSONResponse(body, error.status)
        except PluginError as error:
            return JSONResponse({"code": "PluginError", "description": str(error)}, 500)
        return JSONResponse(report)

    routes = [Route("/ready", ready), Route("/-/explain/{project}", explained)]
    if server.metrics is not None:
        routes.append(Route("/metrics", _metrics_endpoint(server)))
    return routes


def _metrics_endpoint(server: Server) -> Callable[[Request], Awaitable[Response]]:
    metrics = server.metrics
    assert metrics is not None
    settings = server.settings
    networks = [ipaddress.ip_network(n, strict=False) for n in settings.metrics_networks]

    async def endpoint(request: Request) -> Response:
        client = request.client.host if request.client else ""
        if networks and not _in_networks(client, networks):
            return Response("Forbidden\n", 403, media_type="text/plain")
        if settings.metrics_token:
            given = request.headers.get("authorization", "")
            expected = f"Bearer {settings.metrics_token}"
            if not hmac.compare_digest(given.encode(), expected.encode()):
                return Response(
                    "Unauthorized\n", 401, {"WWW-Authenticate": "Bearer"}, media_type="text/plain"
                )
        metrics.pools(server.access.pool_stats())  # this worker's own pools, current
        body = await anyio.to_thread.run_sync(metrics.exposition)
        return Response(body, media_type=metrics.content_type)

    return endpoint


def _in_networks(host: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in networks)


@contextlib.asynccontextmanager
async def metrics_upkeep(server: Server) -> AsyncIterator[None]:
    """While the app runs, write this worker's pending counts and its database pools (the
    pool gauges add the live workers up) to the metrics every second; once more at the end."""
    metrics = server.metrics
    if metrics is None:
        yield
        return

    def upkeep() -> None:
        metrics.flush()
        metrics.pools(server.access.pool_stats())

    async def every_second() -> None:
        while True:
            await asyncio.sleep(UPKEEP_SECONDS)
            with contextlib.suppress(Exception):
                upkeep()

    task = asyncio.ensure_future(every_second())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(Exception):
            upkeep()
