"""The QGIS Server facade: plugins written against `qgis.server` run on ogcserve unmodified.

The only camelCase code in the package. Each class subclasses (or wraps) its core counterpart
and each QGIS method is a one-line delegation to the snake_case core API, so behaviour lives
once, in the core. docs/qgis-compat.md lists every supported class and method (generated from
this package by scripts/qgis_compat_doc.py) and every difference from QGIS.

| QGIS                        | core                                         |
|-----------------------------|----------------------------------------------|
| `QgsServerInterface`        | `ServerInterface` (subclass)                 |
| `QgsServerFilter`           | `RequestFilter` (subclass)                   |
| `QgsAccessControlFilter`    | `AccessControlFilter` (subclass)             |
| `QgsServerCacheFilter`      | `CacheFilter` (subclass)                     |
| `QgsRequestHandler`, ...    | `RequestContext` (view)                      |
| `QgsService`                | `Service` (through `ServiceAdapter`)         |
| `QgsServerOgcApi`           | routes (`ServerInterface.add_route`)         |
"""

from ogcserve.compat.qgis.access import (
    LayerPermissions,
    QgsAccessControl,
    QgsAccessControlFilter,
    QgsAccessControlFilterBase,
)
from ogcserve.compat.qgis.cache import QgsServerCacheFilter, QgsServerCacheManager
from ogcserve.compat.qgis.core import (
    Qgis,
    QgsFeature,
    QgsField,
    QgsFields,
    QgsGeometry,
    QgsLogger,
    QgsMapLayer,
    QgsMessageLog,
    QgsProject,
    QgsVectorLayer,
)
from ogcserve.compat.qgis.exceptions import (
    QgsMapServiceException,
    QgsOgcServiceException,
    QgsServerApiBadRequestException,
    QgsServerApiInternalServerError,
    QgsServerApiNotFoundError,
    QgsServerApiPermissionDeniedException,
    QgsServerException,
)
from ogcserve.compat.qgis.filters import QgsServerFilter
from ogcserve.compat.qgis.handler import QgsRequestHandler, QgsServerRequest, QgsServerResponse
from ogcserve.compat.qgis.interface import QgsServerInterface
from ogcserve.compat.qgis.qtcore import QByteArray, QRegularExpression, QUrl
from ogcserve.compat.qgis.services import (
    QgsServerApi,
    QgsServerApiContext,
    QgsServerOgcApi,
    QgsServerOgcApiHandler,
    QgsServerQueryStringParameter,
    QgsService,
    QgsServiceRegistry,
)
from ogcserve.compat.qgis.shim import SERVER_NAMES, folder_interface

__all__ = [
    "SERVER_NAMES",
    "LayerPermissions",
    "QByteArray",
    "QRegularExpression",
    "QUrl",
    "Qgis",
    "QgsAccessControl",
    "QgsAccessControlFilter",
    "QgsAccessControlFilterBase",
    "QgsFeature",
    "QgsField",
    "QgsFields",
    "QgsGeometry",
    "QgsLogger",
    "QgsMapLayer",
    "QgsMapServiceException",
    "QgsMessageLog",
    "QgsOgcServiceException",
    "QgsProject",
    "QgsRequestHandler",
    "QgsServerApi",
    "QgsServerApiBadRequestException",
    "QgsServerApiContext",
    "QgsServerApiInternalServerError",
    "QgsServerApiNotFoundError",
    "QgsServerApiPermissionDeniedException",
    "QgsServerCacheFilter",
    "QgsServerCacheManager",
    "QgsServerException",
    "QgsServerFilter",
    "QgsServerInterface",
    "QgsServerOgcApi",
    "QgsServerOgcApiHandler",
    "QgsServerQueryStringParameter",
    "QgsServerRequest",
    "QgsServerResponse",
    "QgsService",
    "QgsServiceRegistry",
    "QgsVectorLayer",
    "folder_interface",
]
