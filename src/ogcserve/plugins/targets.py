"""What the pipeline executes: a service or a route, behind one small interface.

`resolve` finds the target of a request in the service registry; `error_document` renders an
error in the target's format, or, before a target is known, in the format of what the request
names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ogcserve.errors import (
    MethodNotAllowedError,
    MissingParameterValueError,
    NotFoundError,
    ServiceError,
    ServiceNotSupportedError,
)
from ogcserve.exception_reports import ows_exception_report
from ogcserve.http.response import ClientDisconnectedError
from ogcserve.plugins.cache import CacheKind
from ogcserve.plugins.ordering import PluginError
from ogcserve.plugins.services import Route, Service

if TYPE_CHECKING:
    from ogcserve.context import RequestContext


class Target(Protocol):
    """Executes a request and renders its errors."""

    def execute(self, ctx: RequestContext) -> None:
        """Write the answer into ctx.response."""
        ...

    def render_error(self, error: ServiceError, ctx: RequestContext) -> tuple[bytes, str]:
        """The error document and its content type."""
        ...

    def cache_kind(self, ctx: RequestContext) -> CacheKind | None:
        """Whether the answer may be cached."""
        ...


def resolve(ctx: RequestContext) -> Target:
    """SERVICE (+VERSION) names a service; without SERVICE, the URL path names a route."""
    request, registry = ctx.request, ctx.server.services
    name = request.parameter("SERVICE").strip()
    if name:
        service = registry.get(name, request.parameter("VERSION").strip())
        if service is None:
            raise ServiceNotSupportedError(f"Service {name!r} is not supported", locator="SERVICE")
        return ServiceTarget(service, registry.owner(service))
    if request.route.get("endpoint") != "ows":
        found = registry.match_route(request.path)
        if found is not None:
            route, captures, owner = found
            if request.method not in route.methods:
                raise MethodNotAllowedError(f"{request.method} is not allowed here", route.methods)
            request.route.update(captures)
            return RouteTarget(route, owner)
        raise NotFoundError(f"Nothing is served at {request.path}")
    raise MissingParameterValueError("The SERVICE parameter is missing", locator="SERVICE")


def error_document(
    target: Target | None, error: ServiceError, ctx: RequestContext
) -> tuple[bytes, str]:
    """`error` in the target's format; with no target yet (unknown SERVICE, a filter's
    refusal), in the format of the service the request names."""
    return (target or _Fallback()).render_error(error, ctx)


def _call(owner: str, what: str, fn: object, *args: object) -> object:
    try:
        return fn(*args)  # type: ignore[operator]
    except (ServiceError, ClientDisconnectedError):
        raise
    except (Exception, SystemExit) as error:  # sys.exit() in a plugin must not end a worker
        if owner == "ogcserve":
            raise
        raise PluginError(owner, what) from error


@dataclass(frozen=True)
class ServiceTarget:
    """A registered Service, called with its owner's name for error reports."""

    service: Service
    owner: str

    def execute(self, ctx: RequestContext) -> None:
        """Run the service."""
        _call(self.owner, f"{type(self.service).__name__}.execute", self.service.execute, ctx)

    def render_error(self, error: ServiceError, ctx: RequestContext) -> tuple[bytes, str]:
        """The service's own error format (falls back to the OWS report if that fails)."""
        try:
            return self.service.render_error(error, ctx)
        except Exception:
            return _ows_fallback(error)

    def cache_kind(self, ctx: RequestContext) -> CacheKind | None:
        """Ask the service."""
        kind = _call(
            self.owner, f"{type(self.service).__name__}.cache_kind", self.service.cache_kind, ctx
        )
        return kind if isinstance(kind, CacheKind) else None


@dataclass(frozen=True)
class RouteTarget:
    """A URL route; its errors are JSON, as OGC API wants."""

    route: Route
    owner: str

    def execute(self, ctx: RequestContext) -> None:
        """Run the route's handler."""
        _call(self.owner, f"route {self.route.path}", self.route.handler, ctx)

    def render_error(self, error: ServiceError, ctx: RequestContext) -> tuple[bytes, str]:
        """OGC API Common: a JSON exception."""
        return _json_error(error)

    def cache_kind(self, ctx: RequestContext) -> CacheKind | None:
        """What the route was registered with, for reads (never for writes)."""
        return self.route.cache if ctx.request.method in ("GET", "HEAD") else None


class _Fallback:
    def execute(self, ctx: RequestContext) -> None:
        raise NotImplementedError

    def render_error(self, error: ServiceError, ctx: RequestContext) -> tuple[bytes, str]:
        name = ctx.request.parameter("SERVICE").strip()
        if ctx.request.route.get("endpoint") != "ows" and not name:
            return _json_error(error)
        # A filter refused before the service ran: answer in the format the client expects
        # from the service it asked for.
        service = ctx.server.services.get(name, ctx.request.parameter("VERSION").strip())
        if service is not None:
            return ServiceTarget(service, "ogcserve").render_error(error, ctx)
        return _ows_fallback(error)

    def cache_kind(self, ctx: RequestContext) -> CacheKind | None:
        return None


def _json_error(error: ServiceError) -> tuple[bytes, str]:
    # OGC API Common: the OGC code, a description and the HTTP status, as JSON.
    doc = {"code": error.code, "description": error.message, "status": error.status}
    return json.dumps(doc).encode(), "application/json"


def _ows_fallback(error: ServiceError) -> tuple[bytes, str]:
    return ows_exception_report(error, "1.1.0", "1.1.0")
