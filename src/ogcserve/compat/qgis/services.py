"""Services and OGC APIs registered from a QGIS plugin: `QgsService` (a SERVICE name and
version), `QgsServerOgcApi` + `QgsServerOgcApiHandler` (URL routes under a root path)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from ogcserve.compat.qgis.core import QgsProject
from ogcserve.compat.qgis.exceptions import QgsServerApiBadRequestException
from ogcserve.compat.qgis.handler import QgsServerRequest, QgsServerResponse
from ogcserve.compat.qgis.qt import named_captures
from ogcserve.plugins.services import Service

if TYPE_CHECKING:
    from ogcserve.compat.qgis.interface import QgsServerInterface
    from ogcserve.compat.qgis.qtcore import QRegularExpression
    from ogcserve.context import RequestContext
    from ogcserve.plugins.interface import ServerInterface


class QgsService:
    """A service answering SERVICE=`name()` (VERSION=`version()`): override all three."""

    def name(self) -> str:
        """The SERVICE name."""
        raise NotImplementedError

    def version(self) -> str:
        """The VERSION this object answers."""
        raise NotImplementedError

    def executeRequest(
        self, request: QgsServerRequest, response: QgsServerResponse, project: QgsProject
    ) -> None:
        """Answer the request into `response`."""
        raise NotImplementedError


class ServiceAdapter(Service):
    """A `QgsService` as the core's service registry sees it."""

    def __init__(self, service: QgsService) -> None:
        self.qgs_service = service
        self.name = service.name()
        self.version = service.version()

    def execute(self, ctx: RequestContext) -> None:
        """Run `executeRequest` on views of the request, response and project."""
        self.qgs_service.executeRequest(
            QgsServerRequest(ctx), QgsServerResponse(ctx), QgsProject(ctx.project)
        )


class QgsServiceRegistry:
    """What `serviceRegistry()` returns: register services and OGC APIs."""

    def __init__(self, server_iface: ServerInterface) -> None:
        self._server_iface = server_iface

    def registerService(self, service: QgsService) -> None:
        """Register a service; a second one with the same name and version is ignored."""
        self._server_iface.register_service(ServiceAdapter(service))

    def getService(self, name: str, version: str = "") -> QgsService | None:
        """The plugin service for name/version (unknown version: the first registered)."""
        return _qgs_service(self._server_iface.server.services.get(name, version))

    def unregisterService(self, name: str, version: str = "") -> int:
        """Remove one version (or all); returns how many were removed."""
        return self._server_iface.server.services.unregister(name, version)

    def registerApi(self, api: QgsServerApi) -> bool:
        """Answer the URL paths under `api.rootPath()`."""
        return api.register_routes(self._server_iface)


def _qgs_service(service: object) -> QgsService | None:
    """The QgsService behind a registered service (None for the server's own)."""
    return getattr(service, "qgs_service", None)


class QgsServerOgcApi:
    """An OGC API: handlers under a root path; the first handler whose path matches answers."""

    class ContentType(IntEnum):
        """Output formats."""

        GEOJSON = 0
        OPENAPI3 = 1
        JSON = 2
        HTML = 3
        XML = 4

    class Rel(IntEnum):
        """Link relations."""

        alternate = 0
        describedBy = 1
        collection = 2
        item = 3
        self = 4
        service_desc = 5
        service_doc = 6
        prev = 7
        next = 8
        license = 9
        items = 10
        conformance = 11
        data = 12

    GEOJSON = ContentType.GEOJSON
    OPENAPI3 = ContentType.OPENAPI3
    JSON = ContentType.JSON
    HTML = ContentType.HTML
    XML = ContentType.XML
    alternate = Rel.alternate
    collection = Rel.collection
    item = Rel.item
    items = Rel.items
    conformance = Rel.conformance
    data = Rel.data

    def __init__(
        self,
        serverIface: QgsServerInterface,
        rootPath: str,
        name: str,
        description: str = "",
        version: str = "",
    ) -> None:
        self._server_iface, self._root, self._name = serverIface, rootPath, name
        self._description, self._version = description, version
        self.handlers: list[QgsServerOgcApiHandler] = []

    def name(self) -> str:
        """The API name."""
        return self._name

    def description(self) -> str:
        """The API description."""
        return self._description

    def version(self) -> str:
        """The API version."""
        return self._version

    def rootPath(self) -> str:
        """The URL path the API answers under."""
        return self._root

    def serverIface(self) -> QgsServerInterface:
        """The interface given to the constructor."""
        return self._server_iface

    def registerHandler(self, handler: QgsServerOgcApiHandler) -> None:
        """Add a handler (earlier handlers are tried first)."""
        self.handlers.append(handler)

    def executeRequest(self, context: QgsServerApiContext) -> None:
        """Run the first handler whose path matches; none: a 400 bad request."""
        _dispatch_api(self.handlers, context)

    def register_routes(self, server_iface: ServerInterface) -> bool:
        """Core: answer the root path and everything under it."""
        return _add_api_routes(self, server_iface)

    def execute_route(self, ctx: RequestContext) -> None:
        """Core route handler: `executeRequest()` with a context for `ctx`."""
        self.executeRequest(QgsServerApiContext(self._root, ctx, self._server_iface))


QgsServerApi = QgsServerOgcApi


def _dispatch_api(handlers: Sequence[QgsServerOgcApiHandler], context: QgsServerApiContext) -> None:
    """The first handler whose `path()` matches the path after the API root answers."""
    path = context.handlerPath()
    for handler in handlers:
        regex = handler.path()
        found = regex.match(path)
        if found.hasMatch():
            context.match = named_captures(regex, found)
            handler.handleRequest(context)
            return
    raise QgsServerApiBadRequestException("Requested URI does not match any registered API handler")


def _add_api_routes(api: QgsServerApi, server_iface: ServerInterface) -> bool:
    """Route the API's root path, and everything under it, to the API."""
    root = "/" + api.rootPath().strip("/")
    methods = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
    server_iface.add_route(root, api.execute_route, methods)
    server_iface.add_route(root + "/{path:path}", api.execute_route, methods)
    return True


class QgsServerApiContext:
    """What an OGC API handler receives: request, response, project, paths."""

    def __init__(
        self, apiRootPath: str, ctx: RequestContext, serverInterface: QgsServerInterface
    ) -> None:
        self._root, self.ctx, self._server_iface = apiRootPath, ctx, serverInterface
        self.match: dict[str, str] = {}

    def request(self) -> QgsServerRequest:
        """The request."""
        return QgsServerRequest(self.ctx)

    def response(self) -> QgsServerResponse:
        """The response."""
        return QgsServerResponse(self.ctx)

    def project(self) -> QgsProject:
        """The project."""
        return QgsProject(self.ctx.project)

    def serverInterface(self) -> QgsServerInterface:
        """The server interface."""
        return self._server_iface

    def apiRootPath(self) -> str:
        """The API's root path."""
        return self._root

    def handlerPath(self) -> str:
        """The URL path after the API root."""
        return self.ctx.request.path.removeprefix(self._root)

    def matchedPath(self) -> str:
        """The URL path up to and including the API root."""
        return self._root


class QgsServerQueryStringParameter:
    """A declared query parameter of an OGC API handler, converted and checked by `values()`."""

    class Type(IntEnum):
        """Parameter types."""

        String = 0
        Integer = 1
        Double = 2
        Boolean = 3
        List = 4

    def __init__(
        self,
        name: str,
        required: bool = False,
        type: int = Type.String,
        description: str = "",
        defaultValue: Any = None,
    ) -> None:
        self._name, self._description = name, description
        self.required, self.type, self.default = required, type, defaultValue

    def name(self) -> str:
        """The parameter name."""
        return self._name

    def description(self) -> str:
        """The description."""
        return self._description

    def setDescription(self, description: str) -> None:
        """Change the description."""
        self._description = description

    def value(self, context: QgsServerApiContext) -> Any:
        """The converted value; missing or malformed: a 400 bad request."""
        return _query_value(self, context.ctx)


_CONVERTERS: dict[int, Callable[[str], Any]] = {
    0: str,
    1: int,
    2: float,
    3: lambda v: v.lower() in ("1", "true", "yes", "on"),
    4: lambda v: [p for p in v.split(",") if p],
}
_TYPE_NAMES = {0: "String", 1: "Integer", 2: "Double", 3: "Boolean", 4: "List"}


def _query_value(parameter: QgsServerQueryStringParameter, ctx: RequestContext) -> Any:
    """A declared query parameter, converted to its type (400 if missing or malformed)."""
    name = parameter.name()
    if name not in ctx.request.params:
        if parameter.required:
            raise QgsServerApiBadRequestException(f"Missing required argument: '{name}'")
        return parameter.default
    try:
        return _CONVERTERS[int(parameter.type)](ctx.request.params[name])
    except ValueError:
        raise QgsServerApiBadRequestException(
            f"Argument '{name}' could not be converted to {_TYPE_NAMES[int(parameter.type)]}"
        ) from None


class QgsServerOgcApiHandler:
    """One endpoint of an OGC API: override path(), operationId() and handleRequest()."""

    def __init__(self) -> None:
        self._content_types: list[int] = [QgsServerOgcApi.JSON]

    def path(self) -> QRegularExpression:
        """The path (after the API root) this handler answers; named groups become values."""
        raise NotImplementedError

    def operationId(self) -> str:
        """A unique name of the operation."""
        raise NotImplementedError

    def summary(self) -> str:
        """A one-line summary."""
        return ""

    def description(self) -> str:
        """A description."""
        return ""

    def linkTitle(self) -> str:
        """The title of links to this endpoint."""
        return ""

    def linkType(self) -> int:
        """The relation of links to this endpoint."""
        return QgsServerOgcApi.data

    def tags(self) -> list[str]:
        """OpenAPI tags."""
        return []

    def parameters(self, context: QgsServerApiContext) -> list[QgsServerQueryStringParameter]:
        """The declared query parameters; default: none."""
        return []

    def setContentTypes(self, contentTypes: list[int]) -> None:
        """The output formats this handler offers."""
        self._content_types = list(contentTypes)

    def contentTypes(self) -> list[int]:
        """The output formats this handler offers."""
        return list(self._content_types)

    def defaultContentType(self) -> int:
        """The first offered format."""
        return self._content_types[0]

    def values(self, context: QgsServerApiContext) -> dict[str, Any]:
        """Path captures and declared parameters, converted (400 if one is missing or bad)."""
        return _handler_values(self.parameters(context), context)

    def handleRequest(self, context: QgsServerApiContext) -> None:
        """Answer the request."""
        raise NotImplementedError

    def write(
        self, data: Any, context: QgsServerApiContext, htmlMetadata: dict[str, Any] | None = None
    ) -> None:
        """Write `data` as JSON (GeoJSON if that is the default format)."""
        _write_json(data, context.ctx, self.defaultContentType())


def _handler_values(
    parameters: Sequence[QgsServerQueryStringParameter], context: QgsServerApiContext
) -> dict[str, Any]:
    """Path captures, then the declared parameters."""
    values: dict[str, Any] = dict(context.match)
    for parameter in parameters:
        values[parameter.name()] = parameter.value(context)
    return values


def _write_json(data: Any, ctx: RequestContext, content_type: int) -> None:
    """An OGC API handler's `write`: JSON (GeoJSON when that is the handler's format)."""
    media = "application/geo+json" if content_type == 0 else "application/json"
    ctx.response.set_header("Content-Type", media)
    ctx.response.write(json.dumps(data))
