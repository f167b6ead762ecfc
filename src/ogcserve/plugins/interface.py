"""`ServerInterface`: what a plugin's `setup()` (or `serverClassFactory()`) receives."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ogcserve.context import RequestContext, current_context
from ogcserve.plugins.access import AccessControlFilter
from ogcserve.plugins.cache import CacheFilter, CacheKind
from ogcserve.plugins.filters import RequestFilter
from ogcserve.plugins.services import Route, RouteHandler, Service

if TYPE_CHECKING:
    from ogcserve.server import Server


class ServerInterface:
    """The server as one plugin sees it; everything it registers is recorded under its name."""

    def __init__(self, server: Server, plugin: str = "ogcserve") -> None:
        self.server = server
        self.plugin = plugin

    def register_filter(self, request_filter: RequestFilter, priority: int = 0) -> None:
        """Run `request_filter`'s hooks on every request (lower priority first)."""
        self.server.filters.add(request_filter, priority, self.plugin)

    def register_access_control(self, control: AccessControlFilter, priority: int = 0) -> None:
        """Restrict what callers may read and write."""
        self.server.access_controls.add(control, priority, self.plugin)

    def register_cache(self, cache: CacheFilter, priority: int = 0) -> None:
        """Store cacheable documents and images."""
        self.server.caches.add(cache, priority, self.plugin)

    def register_service(self, service: Service) -> bool:
        """Answer SERVICE=`service.name` (VERSION=`service.version`)."""
        return self.server.services.register(service, self.plugin)

    def add_route(
        self,
        path: str,
        handler: RouteHandler,
        methods: Sequence[str] = ("GET", "HEAD"),
        cache: CacheKind | None = None,
    ) -> Route:
        """Answer a URL path such as `/myapi/{item}` (OGC-API-style endpoints); with `cache`,
        its GET answers are cached per caller's rights, as capabilities are."""
        return self.server.services.add_route(
            path, handler, methods, owner=self.plugin, cache=cache
        )

    def request_handler(self) -> RequestContext | None:
        """The request being handled in this thread (None outside a request)."""
        return current_context.get()

    def config_file_path(self) -> str | None:
        """The project file of the current request."""
        ctx = current_context.get()
        return ctx.config_file_path if ctx else None

    def set_config_file_path(self, path: str) -> None:
        """Serve the current request from another project (call it in request-ready)."""
        ctx = current_context.get()
        if ctx is not None:
            ctx.config_file_path = path

    def env(self, name: str) -> str:
        """The request's environment: headers as HTTP_*, REMOTE_ADDR, ... ('' if absent)."""
        ctx = current_context.get()
        return ctx.request.environ.get(name, "") if ctx else ""

    def filters(self) -> dict[int, list[RequestFilter]]:
        """Registered request filters by priority, in call order."""
        return self.server.filters.by_priority()

    def access_controls(self) -> dict[int, list[AccessControlFilter]]:
        """Registered access-control filters by priority, in call order."""
        return self.server.access_controls.by_priority()

    def plugin_config(self) -> dict[str, object]:
        """This plugin's block of the settings (`plugins_config` in settings)."""
        return dict(self.server.settings.plugins_config.get(self.plugin, {}))
