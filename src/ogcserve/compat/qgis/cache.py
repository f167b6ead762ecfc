"""`QgsServerCacheFilter`: a `CacheFilter` whose get/set/delete call the QGIS methods.

QGIS hands a cache filter the project, the request and a key made of the service URL only; the
core hands over the key it built from project, request and the caller's access fingerprint, so
a QGIS cache plugin that stores under `key` never serves one user's document to another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ogcserve.compat.qgis.core import QgsProject
from ogcserve.compat.qgis.handler import QgsServerRequest
from ogcserve.compat.qgis.qtcore import QByteArray, byte_array
from ogcserve.context import current_context
from ogcserve.plugins.cache import CachedResponse, CacheFilter, CacheKind

if TYPE_CHECKING:
    from ogcserve.compat.qgis.interface import QgsServerInterface
    from ogcserve.projects.model import Project
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
        return _cache_get(self, kind, key)

    def set(self, kind: CacheKind, project: str, key: str, value: CachedResponse) -> bool:
        """Core method: `setCachedDocument()` or `setCachedImage()`."""
        return _cache_set(self, kind, key, value)

    def delete(self, kind: CacheKind, project: str, key: str) -> bool:
        """Core method: `deleteCachedDocument()` or `deleteCachedImage()`."""
        return _cache_delete(self, kind, key)

    def clear(self, kind: CacheKind, project: str) -> bool:
        """Core method: `deleteCachedDocuments()` or `deleteCachedImages()`."""
        return _cache_clear(self, kind, project)


def _cache_args(key: str) -> tuple[QgsProject, QgsServerRequest | None, str]:
    ctx = current_context.get()
    request = QgsServerRequest(ctx) if ctx is not None else None
    return QgsProject.instance(), request, key


def _sniff(kind: CacheKind, body: bytes) -> str:
    # QGIS caches bodies only; the content type is read back from the bytes.
    if kind is CacheKind.IMAGE:
        return "image/jpeg" if body[:3] == b"\xff\xd8\xff" else "image/png"
    return "text/xml; charset=utf-8" if body.lstrip()[:1] == b"<" else "application/json"


def _cache_get(cache: Any, kind: CacheKind, key: str) -> CachedResponse | None:
    """getCachedDocument/getCachedImage; an empty answer is a miss."""
    method = cache.getCachedImage if kind is CacheKind.IMAGE else cache.getCachedDocument
    body = bytes(method(*_cache_args(key)) or b"")
    return CachedResponse(body, _sniff(kind, body)) if body else None


def _cache_set(cache: Any, kind: CacheKind, key: str, value: CachedResponse) -> bool:
    """setCachedDocument/setCachedImage with the body's bytes."""
    method = cache.setCachedImage if kind is CacheKind.IMAGE else cache.setCachedDocument
    return bool(method(byte_array(value.body), *_cache_args(key)))


def _cache_delete(cache: Any, kind: CacheKind, key: str) -> bool:
    """deleteCachedDocument/deleteCachedImage."""
    method = cache.deleteCachedImage if kind is CacheKind.IMAGE else cache.deleteCachedDocument
    return bool(method(*_cache_args(key)))


def _cache_clear(cache: Any, kind: CacheKind, project: str) -> bool:
    """deleteCachedDocuments/deleteCachedImages."""
    method = cache.deleteCachedImages if kind is CacheKind.IMAGE else cache.deleteCachedDocuments
    return bool(method(QgsProject.instance()))


class QgsServerCacheManager:
    """What `cacheManager()` returns: the registered caches of the server."""

    def __init__(self, server: Server) -> None:
        self._server = server

    def deleteCachedDocuments(self, project: QgsProject) -> bool:
        """Drop every cached document and image of `project` from every cache."""
        return _clear_caches(self._server, project.project)

    def deleteCachedImages(self, project: QgsProject) -> bool:
        """Drop every cached document and image of `project` from every cache."""
        return _clear_caches(self._server, project.project)

    def registerServerCache(self, serverCache: QgsServerCacheFilter, priority: int = 0) -> None:
        """Register a cache filter."""
        self._server.caches.add(serverCache, priority, "qgis")


def _clear_caches(server: Server, project: Project | None) -> bool:
    """Drop a project's cached entries from every cache."""
    if project is None:
        return False
    server.caches.clear(project.name)
    return True
