"""RESTful WMTS (WMTS 1.0.0 §10): the capabilities, tiles and feature info as resource URLs.

/wmts/<project>/1.0.0/WMTSCapabilities.xml
/wmts/<project>/<layer>/<style>/<matrix set>/<matrix>/<row>/<col>.<png|jpg|webp>
/wmts/<project>/<layer>/<style>/<matrix set>/<matrix>/<row>/<col>/<j>/<i>.<txt|html|xml|json>

Errors are OWS ExceptionReports with the status of the error (§10.2.1: 400 for a bad request,
404 for a tile outside the matrix, as for a resource that does not exist).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ogcserve.errors import InvalidParameterValueError, ServiceError
from ogcserve.plugins.cache import CacheKind
from ogcserve.services.wms.layers import project_of

from .params import EXTENSIONS, TileOutOfRangeError, parse_feature_info, parse_tile

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.plugins.interface import ServerInterface
    from ogcserve.plugins.services import RouteHandler

    from .service import WMTSService

_INFO_EXTENSIONS = {
    "txt": "text/plain",
    "html": "text/html",
    "xml": "text/xml",
    "json": "application/json",
}
_READ = ("GET", "HEAD")
_TILE = "/wmts/{project}/{layer}/{style}/{tms}/{level}/{row}"


def _split(ctx: RequestContext, name: str) -> None:
    """`12.png` into `12` and `png` (a route segment cannot hold two captures)."""
    route = ctx.request.route
    route[name], _, route["ext"] = route.pop("last").rpartition(".")


def _params(ctx: RequestContext) -> dict[str, str]:
    route = ctx.request.route
    return {
        "LAYER": route["layer"],
        "STYLE": route["style"],
        "TILEMATRIXSET": route["tms"],
        "TILEMATRIX": route["level"],
        "TILEROW": route["row"],
        "TILECOL": route["col"],
    }


def _reporting(service: WMTSService, handler: RouteHandler) -> RouteHandler:
    """Answer the route's errors as OWS ExceptionReports, not OGC API JSON."""

    def handle(ctx: RequestContext) -> None:
        try:
            service.execute_rest(ctx, handler)
        except TileOutOfRangeError as error:
            body, content_type = service.render_error(error, ctx)
            ctx.response.replace(404, {"Content-Type": content_type}, body)
        except ServiceError as error:
            body, content_type = service.render_error(error, ctx)
            headers = {"Content-Type": content_type, **error.headers}
            ctx.response.replace(error.status, headers, body)

    return handle


def _extension(ctx: RequestContext, table: dict[str, str]) -> str:
    ext = ctx.request.route["ext"].lower()
    if ext not in table:
        raise InvalidParameterValueError(f"No format has the extension {ext!r}", locator="FORMAT")
    return table[ext]


def setup_routes(server: ServerInterface, service: WMTSService) -> None:
    """Register the RESTful resources."""
    sets = service.tiles.sets

    def tile(ctx: RequestContext) -> None:
        _split(ctx, "col")
        params = {**_params(ctx), "FORMAT": _extension(ctx, EXTENSIONS)}
        service.get_tile(ctx, parse_tile(params, sets, project_of(ctx)))

    def feature_info(ctx: RequestContext) -> None:
        _split(ctx, "i")
        route = ctx.request.route
        params = {**_params(ctx), "FORMAT": "image/png", "I": route["i"], "J": route["j"]}
        params["INFOFORMAT"] = _extension(ctx, _INFO_EXTENSIONS)
        service.get_feature_info(ctx, parse_feature_info(params, sets, project_of(ctx)))

    # The capabilities are cached per caller's rights, like the KVP ones; tiles by the tile
    # renderer itself.
    capabilities = "/wmts/{project}/1.0.0/WMTSCapabilities.xml"
    server.add_route(
        capabilities, _reporting(service, service.get_capabilities), _READ, CacheKind.DOCUMENT
    )
    routes: tuple[tuple[str, RouteHandler], ...] = (
        (_TILE + "/{last}", tile),
        (_TILE + "/{col}/{j}/{last}", feature_info),
    )
    for path, handler in routes:
        server.add_route(path, _reporting(service, handler), _READ)
