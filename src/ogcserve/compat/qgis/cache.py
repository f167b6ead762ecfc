"""`QgsServerCacheFilter`: a `CacheFilter` whose get/set/delete call the QGIS methods.

QGIS hands a cache filter the project, the request and a key made of the service URL only; the
core hands over the key it built from project, request and the caller's access fingerprint, so
a QGIS cache plugin that stores under `key` never serves one user's document to another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ogcserve.compat.qgis import _bridge
from ogcserve.compat.qgis.qtcore import QByteArray
from ogcserve.plugins.cache import CachedResponse, CacheFilter, CacheKind

if TYPE_CHECKING:
    from ogcserve.compat.qgis.core import QgsProject
    from ogcserve.compat.qgis.handler import QgsServerRequest
    from ogcserve.compat.qgis.interface import QgsServerInterface
    from ogcserve.server import Server


class QgsServerCacheFilter(CacheFilter):
    """QGIS Server cache filter: override getCachedDocument/setCachedDocument and friends."""

    def __init__(self, serverIface: QgsServerInterface | None = None) -> None:
        self._server_iface = serverIface

    def serverInterface(self) -> QgsServerInterface | None:
        """The interface given to the constructor."""
        return self._server_iface

    def getCachedDocument(
        self, project: QgsProject, request: QgsServerRequest, key: str
    ) -> QByteArray:
        """The cached document for `key`, empty for a miss; default: always a miss."""
        return QByteArray()

    def setCachedDocument(
        self, doc: QByteArray, project: QgsProject, request: QgsServerRequest, key: str
    ) -> bool:
        """Store a document (its bytes); True if stored; default: not stored."""
        return False

    def deleteCachedDocument(
        self, project: QgsProject, request: QgsServerRequest, key: str
    ) -> bool:
        """Drop one document; default: nothing dropped."""
        return False

    def deleteCachedDocuments(self, project: QgsProject) -> bool:
        """Drop every document of a project; default: nothing dropped."""
        return False

    def getCachedImage(
        self, project: QgsProject, request: QgsServerRequest, key: str
    ) -> QByteArray:
        """The cached image for `key`, empty for a miss; default: always a miss."""
        return QByteArray()

    def setCachedImage(
        self, img: QByteArray, project: QgsProject, request: QgsServerRequest, key: str
    ) -> bool:
        """Store an image; True if stored; default: not stored."""
        return False

    def deleteCachedImage(self, project: QgsProject, request: QgsServerRequest, key: str) -> bool:
        """Drop one image; default: nothing dropped."""
        return False

    def deleteCachedImages(self, project: QgsProject) -> bool:
        """Drop every image of a project; default: nothing dropped."""
        return False

    # The bridge to the core: the only place the two vocabularies meet.
    def get(self, kind: CacheKind, project: str, key: str) -> CachedResponse | None:
        """Core method: `getCachedDocument()` or `getCachedImage()`."""
        return _bridge.cache_get(self, kind, key)

    def set(self, kind: CacheKind, project: str, key: str, value: CachedResponse) -> bool:
        """Core method: `setCachedDocument()` or `setCachedImage()`."""
        return _bridge.cache_set(self, kind, key, value)

    def delete(self, kind: CacheKind, project: str, key: str) -> bool:
        """Core method: `deleteCachedDocument()` or `deleteCachedImage()`."""
        return _bridge.cache_delete(self, kind, key)

    def clear(self, kind: CacheKind, project: str) -> bool:
        """Core method: `deleteCachedDocuments()` or `deleteCachedImages()`."""
        return _bridge.cache_clear(self, kind, project)


class QgsServerCacheManager:
    """What `cacheManager()` returns: the registered caches of the server."""

    def __init__(self, server: Server) -> None:
        self._server = server

    def deleteCachedDocuments(self, project: QgsProject) -> bool:
        """Drop every cached document and image of `project` from every cache."""
        return _bridge.clear_caches(self._server, project.project)

    def deleteCachedImages(self, project: QgsProject) -> bool:
        """Drop every cached document and image of `project` from every cache."""
        return _bridge.clear_caches(self._server, project.project)

    def registerServerCache(self, serverCache: QgsServerCacheFilter, priority: int = 0) -> None:
        """Register a cache filter."""
        self._server.caches.add(serverCache, priority, "qgis")
