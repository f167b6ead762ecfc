"""`QgsServerInterface`: what a folder plugin's `serverClassFactory(serverIface)` receives.

It *is* the core `ServerInterface` (folder plugins written against ogcserve call its snake_case
methods), plus QGIS's camelCase methods, each a one-line delegation to them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from ogcserve.compat.qgis.access import QgsAccessControl, QgsAccessControlFilterBase
from ogcserve.compat.qgis.cache import QgsServerCacheFilter, QgsServerCacheManager
from ogcserve.compat.qgis.handler import QgsRequestHandler
from ogcserve.compat.qgis.services import QgsServiceRegistry
from ogcserve.plugins.filters import RequestFilter
from ogcserve.plugins.interface import ServerInterface

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.server import Server

_T = TypeVar("_T")


class QgsServerInterface(ServerInterface):
    """The server as a QGIS plugin sees it."""

    def registerFilter(
        self, filter: RequestFilter | type[RequestFilter], priority: int = 0
    ) -> None:
        """Register a filter (an instance, or a class: it is built with this interface)."""
        self.register_filter(_instance_of(filter, self), priority)

    def setFilters(self, filters: dict[int, list[RequestFilter]]) -> None:
        """Replace every filter, the server's own included (list order is call order)."""
        self.server.filters.replace(filters, self.plugin)

    def filters(self) -> dict[int, list[RequestFilter]]:
        """Every filter by priority, in call order (the core method has QGIS's name)."""
        return super().filters()

    def registerAccessControl(
        self,
        accessControl: QgsAccessControlFilterBase | type[QgsAccessControlFilterBase],
        priority: int = 0,
    ) -> None:
        """Register an access-control filter (an instance, or a class built with this interface)."""
        self.register_access_control(_instance_of(accessControl, self), priority)

    def accessControls(self) -> QgsAccessControl:
        """The combined access-control answers for the current request."""
        return QgsAccessControl(self)

    def registerServerCache(
        self, serverCache: QgsServerCacheFilter | type[QgsServerCacheFilter], priority: int = 0
    ) -> None:
        """Register a cache filter (an instance, or a class built with this interface)."""
        self.register_cache(_instance_of(serverCache, self), priority)

    def cacheManager(self) -> QgsServerCacheManager:
        """The registered caches."""
        return QgsServerCacheManager(self.server)

    def serviceRegistry(self) -> QgsServiceRegistry:
        """Register services and OGC APIs."""
        return QgsServiceRegistry(self)

    def requestHandler(self) -> QgsRequestHandler | None:
        """The request being handled in this thread (None outside a request)."""
        return _request_handler(self.request_handler())

    def configFilePath(self) -> str:
        """The project file of the current request ('' before one is chosen)."""
        return self.config_file_path() or ""

    def setConfigFilePath(self, path: str) -> None:
        """Serve the current request from another project (call it in requestReady)."""
        self.set_config_file_path(path)

    def getEnv(self, name: str) -> str:
        """The request's environment (HTTP_* headers, REMOTE_ADDR, ...), '' if absent."""
        return self.env(name)

    def removeConfigCacheEntry(self, path: str) -> None:
        """Forget what is cached for the project `path`; it is re-read when its file changed."""
        _forget_project(self.server, path)


def _instance_of(item: _T | type[_T], server_iface: object) -> _T:
    """`registerFilter(HelloFilter, 100)` (the cookbook passes the class): build it."""
    return item(server_iface) if isinstance(item, type) else item  # type: ignore[call-arg]


def _request_handler(ctx: RequestContext | None) -> QgsRequestHandler | None:
    """A request-handler view of `ctx` (None outside a request)."""
    return QgsRequestHandler(ctx) if ctx is not None else None


def _forget_project(server: Server, path: str) -> None:
    """removeConfigCacheEntry: drop the cached entries and open sources of the project `path`."""
    for name in server.projects.names():
        project = server.projects.get(name)
        if path in (name, str(project.path)):
            server.caches.clear(project.name)
            server.access.release(project)
