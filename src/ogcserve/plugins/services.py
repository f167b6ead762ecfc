"""Services: what answers a request once the filters let it through.

A `Service` answers a SERVICE name and version (WMS 1.3.0, WFS 2.0.0, a plugin's HELLO); a
`Route` answers a URL path (OGC API endpoints, a plugin's own API). Built-in services register
here exactly as plugins do.

Name/version semantics follow QGIS's QgsServiceRegistry (reference §1.9): the first version
registered for a name is its default, and an unknown or missing VERSION falls back to it. Names
are matched case-insensitively (OGC clients send "wms" as often as "WMS").
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ogcserve.errors import ServiceError
from ogcserve.plugins.cache import CacheKind

if TYPE_CHECKING:
    from ogcserve.context import RequestContext


class Service:
    """Base class for services; `execute` writes the answer into `ctx.response`."""

    name: str = ""
    version: str = ""

    def execute(self, ctx: RequestContext) -> None:
        """Answer the request (raise ServiceError subclasses for OGC errors)."""
        raise NotImplementedError

    def render_error(self, error: ServiceError, ctx: RequestContext) -> tuple[bytes, str]:
        """The error document and its content type; custom services answer plain text."""
        return f"{error.code}: {error.message}\n".encode(), "text/plain; charset=utf-8"

    def cache_kind(self, ctx: RequestContext) -> CacheKind | None:
        """Whether this request's answer may be cached, and as what (None: never)."""
        return None


RouteHandler = Callable[["RequestContext"], None]


@dataclass(frozen=True)
class Route:
    """A URL path answered by a handler, e.g. `/ogcapi/{project}/collections/{collection}`."""

    path: str
    handler: RouteHandler
    methods: tuple[str, ...] = ("GET", "HEAD")
    name: str = ""
    cache: CacheKind | None = None  # GET/HEAD answers cached by the pipeline, per caller
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)
    # The first path segment when it is literal ("wmts" of /wmts/{project}/...), else "".
    head: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        first = self.path.lstrip("/").split("/", 1)[0]
        object.__setattr__(self, "head", "" if "{" in first else first)
        # "{name}" matches one path segment, "{name:path}" the rest of the path.
        regex = re.sub(
            r"\{(\w+)(:path)?\}",
            lambda m: f"(?P<{m[1]}>.+)" if m[2] else f"(?P<{m[1]}>[^/]+)",
            self.path.rstrip("/"),
        )
        object.__setattr__(self, "pattern", re.compile(f"^{regex}/?$"))

    def match(self, path: str) -> dict[str, str] | None:
        """The captures if `path` is this route's, else None."""
        found = self.pattern.match(path)
        return found.groupdict() if found else None


class ServiceRegistry:
    """Services by name and version, and routes by path."""

    def __init__(self) -> None:
        self._services: dict[str, list[Service]] = {}  # upper name -> versions, default first
        self._routes: tuple[tuple[Route, str], ...] = ()
        self._owners: dict[int, str] = {}
        self._lock = threading.Lock()

    def register(self, service: Service, owner: str = "ogcserve") -> bool:
        """Add a service; a second registration of the same name and version is ignored."""
        with self._lock:
            versions = self._services.setdefault(service.name.upper(), [])
            if any(s.version == service.version for s in versions):
                return False
            versions.append(service)
            self._owners[id(service)] = owner
            return True

    def remove_owner(self, owner: str) -> None:
        """Drop every service and route a plugin registered (it failed to start)."""
        with self._lock:
            for name, versions in self._services.items():
                self._services[name] = [s for s in versions if self._owners.get(id(s)) != owner]
            self._routes = tuple((r, o) for r, o in self._routes if o != owner)

    def registered_by(self, owner: str) -> bool:
        """Whether the plugin `owner` has a service or a route here."""
        with self._lock:
            services = (s for versions in self._services.values() for s in versions)
            return any(self._owners.get(id(s)) == owner for s in services) or any(
                o == owner for _, o in self._routes
            )

    def owner(self, service: Service) -> str:
        """The plugin that registered `service`."""
        return self._owners.get(id(service), "ogcserve")

    def unregister(self, name: str, version: str = "") -> int:
        """Remove one version (or all, when `version` is empty); return how many went."""
        with self._lock:
            versions = self._services.get(name.upper(), [])
            kept = [s for s in versions if version and s.version != version]
            removed = len(versions) - len(kept)
            if kept and version:
                # QGIS: once a version is removed, the highest remaining becomes the default.
                kept.sort(key=lambda s: _version_key(s.version), reverse=True)
            self._services[name.upper()] = kept
            return removed

    def get(self, name: str, version: str = "") -> Service | None:
        """The service for name/version; an unknown or empty version gives the default."""
        versions = self._services.get(name.upper())
        if not versions:
            return None
        return next((s for s in versions if s.version == version), versions[0])

    def versions(self, name: str) -> list[str]:
        """The registered versions of a service, default first."""
        return [s.version for s in self._services.get(name.upper(), [])]

    def names(self) -> list[str]:
        """Every registered service name."""
        return [versions[0].name for versions in self._services.values() if versions]

    def add_route(
        self,
        path: str,
        handler: RouteHandler,
        methods: Sequence[str] = ("GET", "HEAD"),
        name: str = "",
        owner: str = "ogcserve",
        cache: CacheKind | None = None,
    ) -> Route:
        """Answer `path` (with `{captures}`) with `handler`; earlier routes win. With `cache`,
        GET and HEAD answers are cached by the pipeline like capabilities (keyed by the URL
        and the caller's access fingerprint)."""
        route = Route(path, handler, tuple(m.upper() for m in methods), name or path, cache)
        with self._lock:
            self._routes = (*self._routes, (route, owner))
        return route

    def routes(self) -> list[tuple[Route, str]]:
        """Every route with the plugin that added it."""
        return list(self._routes)

    def match_route(self, path: str) -> tuple[Route, dict[str, str], str] | None:
        """The first route matching `path`, its captures and owner."""
        first = path.lstrip("/").split("/", 1)[0]
        for route, owner in self._routes:
            if route.head and route.head != first:
                continue  # cannot match: no regex run (a tile request passes a dozen routes)
            captures = route.match(path)
            if captures is not None:
                return route, captures, owner
        return None


def _version_key(version: str) -> tuple[int, ...]:
    # isdigit() alone takes "³", which int() refuses.
    return tuple(int(p) if p.isascii() and p.isdigit() else 0 for p in version.split("."))
