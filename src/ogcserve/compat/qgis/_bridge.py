"""What the facade's one-line methods delegate to when QGIS's shapes need translating.

Everything here is snake_case glue between QGIS's types and the core's: no server behaviour
lives here (that is in the core), only conversions. The facade modules import this one; it
imports them lazily, inside functions, to stay free of import cycles.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import shapely

from ogcserve.compat.qgis.qt import body_bytes, named_captures
from ogcserve.context import RequestContext, current_context
from ogcserve.errors import ServiceError
from ogcserve.plugins.cache import CachedResponse, CacheKind

if TYPE_CHECKING:
    from ogcserve.access.rules import RequestAccess
    from ogcserve.compat.qgis.core import QgsMapLayer
    from ogcserve.compat.qgis.handler import QgsRequestHandler
    from ogcserve.compat.qgis.qtcore import QRegularExpressionMatch
    from ogcserve.compat.qgis.services import (
        QgsServerApi,
        QgsServerApiContext,
        QgsServerOgcApiHandler,
        QgsServerQueryStringParameter,
        QgsService,
    )
    from ogcserve.features import Feature
    from ogcserve.http.response import ServerResponse
    from ogcserve.plugins.interface import ServerInterface
    from ogcserve.projects.model import Layer, Project
    from ogcserve.server import Server

B = TypeVar("B", bound=bytearray)
T = TypeVar("T")

# --- Qt ---------------------------------------------------------------------------------


def extend_bytes(array: B, data: bytes | str) -> B:
    """Append bytes or UTF-8 text to `array`; return it (Qt's chaining style)."""
    array.extend(data.encode("utf-8") if isinstance(data, str) else data)
    return array


def compile_qt_regex(pattern: str) -> re.Pattern[str]:
    """Qt/PCRE `(?<name>...)` named groups are `(?P<name>...)` in Python."""
    return re.compile(re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", pattern))


def regex_match(regex: re.Pattern[str], subject: str) -> QRegularExpressionMatch:
    """Search `subject` and wrap the result."""
    from ogcserve.compat.qgis.qtcore import QRegularExpressionMatch

    found = regex.search(subject)
    if found is None:
        return QRegularExpressionMatch(None, ())
    groups = {k: v or "" for k, v in found.groupdict().items()}
    return QRegularExpressionMatch(groups, (found.group(0), *(g or "" for g in found.groups())))


def captured(groups: dict[str, str] | None, numbered: tuple[str, ...], key: str | int) -> str:
    """A captured group by name or number, '' when absent."""
    if groups is None:
        return ""
    if isinstance(key, str):
        return groups.get(key, "")
    return numbered[key] if 0 <= key < len(numbered) else ""


# --- errors -----------------------------------------------------------------------------


def set_error_status(error: ServiceError, status: int) -> None:
    """Give one error instance its own HTTP status (the core keeps it on the class)."""
    vars(error)["status"] = status


def ogc_error(code: str, message: str, locator: str, status: int) -> ServiceError:
    """A `ServiceError` with this instance's OGC code and HTTP status."""
    error = ServiceError(message, locator=locator or None)
    vars(error)["code"] = code
    vars(error)["status"] = status
    return error


# --- logging ----------------------------------------------------------------------------

_LEVELS = {
    0: logging.INFO,
    1: logging.WARNING,
    2: logging.CRITICAL,
    3: logging.INFO,
    4: logging.DEBUG,
}


def log_message(message: str, tag: str, level: int) -> None:
    """QgsMessageLog.logMessage -> logger `qgis.<tag>` at the matching level."""
    logger = logging.getLogger(f"qgis.{tag}" if tag else "qgis")
    logger.log(_LEVELS.get(int(level), logging.WARNING), "%s", message)


# --- fields, features, geometries ------------------------------------------------------


def field_name(names: Sequence[str], key: int | str) -> str:
    """The name at position `key`, or `key` itself when it is a name."""
    return names[key] if isinstance(key, int) else key


def index_of(names: Sequence[str], name: str) -> int:
    """The position of `name` in `names`, -1 if absent."""
    return list(names).index(name) if name in names else -1


def feature_attribute(feature: Feature, key: str | int) -> Any:
    """An attribute by name or by position among the feature's attributes."""
    if isinstance(key, int):
        values = list(feature.properties.values())
        return values[key] if 0 <= key < len(values) else None
    return feature.attribute(key)


def geometry_wkt(shape: Any | None, precision: int) -> str:
    """WKT with at most `precision` decimals, '' for no geometry."""
    return "" if shape is None else shapely.to_wkt(shape, rounding_precision=precision, trim=True)


def geometry_empty(shape: Any | None) -> bool:
    """No geometry, or an empty one."""
    return shape is None or bool(shape.is_empty)


def geometry_json(shape: Any | None) -> str:
    """GeoJSON text, 'null' for no geometry."""
    return "null" if shape is None else str(shapely.to_geojson(shape))


def geometry_measure(shape: Any | None, what: str) -> float:
    """Planar area or length, 0 for no geometry."""
    return 0.0 if shape is None else float(getattr(shape, what))


# --- layers and projects ----------------------------------------------------------------


def layer_fields(layer: Layer) -> tuple[str, ...]:
    """Every attribute of a layer's source, read for the current request's project."""
    ctx = current_context.get()
    if ctx is None or ctx.project is None or layer.source is None or layer.is_raster:
        return ()
    return ctx.server.access.source_fields(ctx, layer)


def provider_type(layer: Layer) -> str:
    """The source type of a layer ('' for groups)."""
    return str(getattr(layer.source, "type", "")) if layer.source is not None else ""


def current_project() -> Project | None:
    """The project of the current request, if any."""
    ctx = current_context.get()
    return ctx.project if ctx is not None else None


def project_text(project: Project | None, attribute: str) -> str:
    """A text attribute of a project, '' when there is none."""
    return "" if project is None else str(getattr(project, attribute))


def project_layers(project: Project | None, name: str | None = None) -> list[Layer]:
    """The data layers of a project (all, or those called `name`)."""
    if project is None:
        return []
    return [layer for layer in project.walk() if name is None or layer.name == name]


def map_layer(layer: Layer) -> QgsMapLayer:
    """A vector-layer view for layers with features, a map-layer view for the others."""
    from ogcserve.compat.qgis.core import QgsMapLayer, QgsVectorLayer

    vector = layer.source is not None and not layer.is_raster
    return QgsVectorLayer(layer) if vector else QgsMapLayer(layer)


# --- request and response ---------------------------------------------------------------


def request_handler(ctx: RequestContext | None) -> QgsRequestHandler | None:
    """A request-handler view of `ctx` (None outside a request)."""
    from ogcserve.compat.qgis.handler import QgsRequestHandler

    return QgsRequestHandler(ctx) if ctx is not None else None


def clear_headers(response: ServerResponse) -> None:
    """QGIS 2's clearHeaders: the headers go, and the status (a header in QGIS 2) is 200."""
    if not response.headers_sent:
        response.headers.clear()
        response.status = 200


def send_error(response: ServerResponse, status: int, message: str) -> None:
    """QgsServerResponse.sendError: replace everything by a text/plain message."""
    if response.headers_sent:
        logging.getLogger("qgis").error("sendError(%s) after headers were sent", status)
        return
    response.clear()
    response.status = status
    response.set_header("Content-Type", "text/plain; charset=utf-8")
    response.write(message)


def write_response(ctx: RequestContext, data: Any) -> None:
    """QgsServerResponse.write: bytes and text are appended; an exception answers instead."""
    if hasattr(data, "service_error"):
        ctx.set_service_exception(data.service_error())
    else:
        ctx.response.write(body_bytes(data))


def write_json(data: Any, ctx: RequestContext, content_type: int) -> None:
    """An OGC API handler's `write`: JSON (GeoJSON when that is the handler's format)."""
    media = "application/geo+json" if content_type == 0 else "application/json"
    ctx.response.set_header("Content-Type", media)
    ctx.response.write(json.dumps(data))


# --- filters, access control --------------------------------------------------------------


def call_then_continue(hook: Callable[[], object]) -> bool:
    """QGIS's default bool hook: call the deprecated void one, then let the chain go on."""
    hook()
    return True


def instance_of(item: T | type[T], server_iface: object) -> T:
    """`registerFilter(HelloFilter, 100)` (the cookbook passes the class): build it."""
    return item(server_iface) if isinstance(item, type) else item  # type: ignore[call-arg]


def request_access(server_iface: ServerInterface) -> RequestAccess:
    """The combined access answers of the current request (a fresh set outside one)."""
    ctx = server_iface.request_handler()
    return ctx.access if ctx is not None else server_iface.server.access_controls.for_request()


def and_all(parts: Iterable[str]) -> str:
    """`((a) AND (b))`, as QGIS combines subset strings; '' for none."""
    items = [f"({p})" for p in parts]
    return f"({' AND '.join(items)})" if items else ""


# --- caches ---------------------------------------------------------------------------------


def _cache_args(key: str) -> tuple[Any, Any, str]:
    from ogcserve.compat.qgis.core import QgsProject
    from ogcserve.compat.qgis.handler import QgsServerRequest

    ctx = current_context.get()
    request = QgsServerRequest(ctx) if ctx is not None else None
    return QgsProject(current_project()), request, key


def _sniff(kind: CacheKind, body: bytes) -> str:
    # QGIS caches bodies only; the content type is read back from the bytes.
    if kind is CacheKind.IMAGE:
        return "image/jpeg" if body[:3] == b"\xff\xd8\xff" else "image/png"
    return "text/xml; charset=utf-8" if body.lstrip()[:1] == b"<" else "application/json"


def cache_get(cache: Any, kind: CacheKind, key: str) -> CachedResponse | None:
    """getCachedDocument/getCachedImage; an empty answer is a miss."""
    method = cache.getCachedImage if kind is CacheKind.IMAGE else cache.getCachedDocument
    body = bytes(method(*_cache_args(key)) or b"")
    return CachedResponse(body, _sniff(kind, body)) if body else None


def cache_set(cache: Any, kind: CacheKind, key: str, value: CachedResponse) -> bool:
    """setCachedDocument/setCachedImage with the body's bytes."""
    from ogcserve.compat.qgis.qtcore import byte_array

    method = cache.setCachedImage if kind is CacheKind.IMAGE else cache.setCachedDocument
    return bool(method(byte_array(value.body), *_cache_args(key)))


def cache_delete(cache: Any, kind: CacheKind, key: str) -> bool:
    """deleteCachedDocument/deleteCachedImage."""
    method = cache.deleteCachedImage if kind is CacheKind.IMAGE else cache.deleteCachedDocument
    return bool(method(*_cache_args(key)))


def cache_clear(cache: Any, kind: CacheKind, project: str) -> bool:
    """deleteCachedDocuments/deleteCachedImages."""
    from ogcserve.compat.qgis.core import QgsProject

    method = cache.deleteCachedImages if kind is CacheKind.IMAGE else cache.deleteCachedDocuments
    return bool(method(QgsProject(current_project())))


def clear_caches(server: Server, project: Project | None) -> bool:
    """Drop a project's cached entries from every cache."""
    if project is None:
        return False
    server.caches.clear(project.name)
    return True


def forget_project(server: Server, path: str) -> None:
    """removeConfigCacheEntry: drop the cached entries and open sources of the project `path`."""
    for name in server.projects.names():
        project = server.projects.get(name)
        if path in (name, str(project.path)):
            server.caches.clear(project.name)
            server.access.release(project)


# --- services and OGC APIs ------------------------------------------------------------------


def qgs_service(service: object) -> QgsService | None:
    """The QgsService behind a registered service (None for the server's own)."""
    return getattr(service, "qgs_service", None)


def add_api_routes(api: QgsServerApi, server_iface: ServerInterface) -> bool:
    """Route the API's root path, and everything under it, to the API."""
    root = "/" + api.rootPath().strip("/")
    methods = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
    server_iface.add_route(root, api.execute_route, methods)
    server_iface.add_route(root + "/{path:path}", api.execute_route, methods)
    return True


def dispatch_api(handlers: Sequence[QgsServerOgcApiHandler], context: QgsServerApiContext) -> None:
    """The first handler whose `path()` matches the path after the API root answers."""
    from ogcserve.compat.qgis.exceptions import QgsServerApiBadRequestException

    path = context.handlerPath()
    for handler in handlers:
        regex = handler.path()
        found = regex.match(path)
        if found.hasMatch():
            context.match = named_captures(regex, found)
            handler.handleRequest(context)
            return
    raise QgsServerApiBadRequestException("Requested URI does not match any registered API handler")


_CONVERTERS: dict[int, Callable[[str], Any]] = {
    0: str,
    1: int,
    2: float,
    3: lambda v: v.lower() in ("1", "true", "yes", "on"),
    4: lambda v: [p for p in v.split(",") if p],
}
_TYPE_NAMES = {0: "String", 1: "Integer", 2: "Double", 3: "Boolean", 4: "List"}


def query_value(parameter: QgsServerQueryStringParameter, ctx: RequestContext) -> Any:
    """A declared query parameter, converted to its type (400 if missing or malformed)."""
    from ogcserve.compat.qgis.exceptions import QgsServerApiBadRequestException

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


def handler_values(
    parameters: Sequence[QgsServerQueryStringParameter], context: QgsServerApiContext
) -> dict[str, Any]:
    """Path captures, then the declared parameters."""
    values: dict[str, Any] = dict(context.match)
    for parameter in parameters:
        values[parameter.name()] = parameter.value(context)
    return values


def overridden_hooks(instance: object, base: type, names: dict[str, tuple[str, ...]]) -> list[str]:
    """The core hooks whose QGIS methods `instance`'s class overrides from `base`."""
    cls = type(instance)
    return [
        hook
        for hook, methods in names.items()
        if any(getattr(cls, m, None) is not getattr(base, m, None) for m in methods)
    ]
