"""OGC API - Tiles (1.0, map tiles) under /ogcapi/<project>, and the XYZ template.

/ogcapi/<p>/tileMatrixSets[/<id>]                       the matrix sets (2D TMS 2.0 JSON)
/ogcapi/<p>/map/tiles[/<tms>[/<z>/<row>/<col>]]         the whole project as a map
/ogcapi/<p>/collections/<layer>/map/tiles[/...]         one layer or group
/tiles/<p>/<layer>/{z}/{x}/{y}.<png|jpg|webp>           XYZ (WebMercatorQuad) for Leaflet

Tiles come from the shared tile renderer (metatiles, the cache backend, ETag and 304). Errors
are OGC API JSON: 404 for an unknown matrix set, a level, row or column outside it (OGC API -
Tiles /req/core/tc-error), a layer that does not exist or that the caller may not read (as
OGC API - Features answers its collections: hidden and absent cannot be told apart).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson

from ogcserve.errors import (
    InvalidParameterValueError,
    LayerNotDefinedError,
    NotFoundError,
    SecurityError,
)
from ogcserve.services.tiles.http import write_tile
from ogcserve.services.tiles.keys import TileAddress
from ogcserve.services.tiles.matrices import TILE_SIZE, TileMatrixSet
from ogcserve.services.wms.layers import named_layer, project_of

from .links import api_root

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.plugins.interface import ServerInterface
    from ogcserve.plugins.services import RouteHandler
    from ogcserve.services.tiles import TileService

_FORMATS = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}
_JSON = "application/json"
_TILING_SCHEME = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
_READ = ("GET", "HEAD")


def _write(ctx: RequestContext, doc: dict[str, Any]) -> None:
    ctx.response.set_header("Content-Type", _JSON)
    ctx.response.write(orjson.dumps(doc))


def _layer_name(ctx: RequestContext) -> str:
    """The collection's layer, or the project for the dataset's tiles (404 if unknown, or if
    the caller may not read it)."""
    name = ctx.request.route.get("collection") or project_of(ctx).name
    try:
        named_layer(ctx, name)
    except (LayerNotDefinedError, SecurityError):
        raise NotFoundError(f"No collection {name!r}") from None
    return name


def _tileset_root(ctx: RequestContext) -> str:
    collection = ctx.request.route.get("collection")
    inner = f"/collections/{quote(collection, safe='')}" if collection else ""
    return f"{api_root(ctx)}{inner}/map/tiles"


def _tms(tiles: TileService, ctx: RequestContext) -> TileMatrixSet:
    identifier = ctx.request.route["tms"]
    tms = tiles.sets.get(identifier, project_of(ctx))
    if tms is None:
        raise NotFoundError(f"No tile matrix set {identifier!r}")
    return tms


def _format(ctx: RequestContext, default: str = "png") -> str:
    """`f=png|jpg|webp`, else the Accept header, else PNG."""
    asked = ctx.request.parameter("F").strip().lower()
    if asked:
        if asked not in _FORMATS and asked not in _FORMATS.values():
            raise InvalidParameterValueError(f"No tile format {asked!r}", locator="f")
        return _FORMATS.get(asked, asked)
    accept = ctx.request.headers.get("Accept", "")
    for mime in ("image/png", "image/webp", "image/jpeg"):
        if mime in accept:
            return mime
    return _FORMATS[default]


def tile_matrix_set_doc(tms: TileMatrixSet) -> dict[str, Any]:
    """A matrix set in the 2D TMS 2.0 JSON encoding."""
    if tms.crs == "CRS:84":
        axes = ["Lon", "Lat"]
    else:
        axes = ["Lat", "Lon"] if tms.north_first else ["X", "Y"]
    known = {"uri": tms.uri, "wellKnownScaleSet": tms.well_known_scale_set}
    return {
        "id": tms.id,
        "title": tms.title,
        **{k: v for k, v in known.items() if v},  # a project's own set has neither
        "crs": tms.crs_uri,
        "orderedAxes": axes,
        "tileMatrices": [
            {
                "id": str(m.level),
                "scaleDenominator": m.scale_denominator,
                "cellSize": m.cell_size,
                "cornerOfOrigin": "topLeft",
                "pointOfOrigin": list(tms.in_crs_order(*m.top_left)),
                "tileWidth": TILE_SIZE,
                "tileHeight": TILE_SIZE,
                "matrixWidth": m.matrix_width,
                "matrixHeight": m.matrix_height,
            }
            for m in tms.matrices
        ],
    }


def _tileset(ctx: RequestContext, tms: TileMatrixSet, name: str) -> dict[str, Any]:
    href = f"{_tileset_root(ctx)}/{quote(tms.id, safe=':')}"
    template = href + "/{tileMatrix}/{tileRow}/{tileCol}"
    return {
        "title": f"{name} ({tms.id})",
        "dataType": "map",
        "crs": tms.crs_uri,
        **({"tileMatrixSetURI": tms.uri} if tms.uri else {}),
        "links": [
            {"href": href, "rel": "self", "type": _JSON},
            {
                "href": f"{api_root(ctx)}/tileMatrixSets/{quote(tms.id, safe=':')}",
                "rel": _TILING_SCHEME,
            },
            *(
                {"href": f"{template}?f={ext}", "rel": "item", "type": mime, "templated": True}
                for ext, mime in _FORMATS.items()
                if ext != "jpeg"
            ),
        ],
    }


def routes(tiles: TileService) -> list[tuple[str, RouteHandler]]:
    """Every route, relative to the server root."""

    def matrix_sets(ctx: RequestContext) -> None:
        root = f"{api_root(ctx)}/tileMatrixSets"
        entries = [
            {
                "id": tms.id,
                "title": tms.title,
                **({"uri": tms.uri} if tms.uri else {}),
                "links": [
                    {"href": f"{root}/{quote(tms.id, safe=':')}", "rel": "self", "type": _JSON}
                ],
            }
            for tms in tiles.sets.of(project_of(ctx))
        ]
        _write(ctx, {"tileMatrixSets": entries})

    def matrix_set(ctx: RequestContext) -> None:
        _write(ctx, tile_matrix_set_doc(_tms(tiles, ctx)))

    def tilesets(ctx: RequestContext) -> None:
        name = _layer_name(ctx)
        sets = tiles.sets.of(project_of(ctx))
        _write(ctx, {"tilesets": [_tileset(ctx, tms, name) for tms in sets]})

    def tileset(ctx: RequestContext) -> None:
        _write(ctx, _tileset(ctx, _tms(tiles, ctx), _layer_name(ctx)))

    def tile(ctx: RequestContext) -> None:
        route = ctx.request.route
        indices = (route["z"], route["row"], route["col"])
        address = _address(ctx, _tms(tiles, ctx), indices, _format(ctx))
        by_url = bool(ctx.request.parameter("F").strip())  # else the Accept header chose
        write_tile(ctx, tiles.renderer.tile(ctx, address, url_decides=by_url))

    def xyz(ctx: RequestContext) -> None:
        route = ctx.request.route
        route["y"], _, ext = route["last"].rpartition(".")
        ext = ext.lower()
        if ext not in _FORMATS:
            raise NotFoundError(f"No tile format {ext!r}")
        tms = tiles.sets.get("WebMercatorQuad")
        assert tms is not None
        address = _address(ctx, tms, (route["z"], route["y"], route["x"]), _FORMATS[ext])
        write_tile(ctx, tiles.renderer.tile(ctx, address))

    result: list[tuple[str, RouteHandler]] = [
        ("/ogcapi/{project}/tileMatrixSets", matrix_sets),
        ("/ogcapi/{project}/tileMatrixSets/{tms}", matrix_set),
        ("/tiles/{project}/{collection}/{z}/{x}/{last}", xyz),
    ]
    for base in ("/ogcapi/{project}", "/ogcapi/{project}/collections/{collection}"):
        result += [
            (f"{base}/map/tiles", tilesets),
            (f"{base}/map/tiles/{{tms}}", tileset),
            (f"{base}/map/tiles/{{tms}}/{{z}}/{{row}}/{{col}}", tile),
        ]
    return result


def _address(
    ctx: RequestContext, tms: TileMatrixSet, indices: tuple[str, str, str], image_format: str
) -> TileAddress:
    """The tile at level/row/col of `tms`: 404 outside the matrix set (OGC API - Tiles)."""
    level, row, col = (int(n) if n.isascii() and n.isdigit() else -1 for n in indices)
    matrix = tms.matrix(level)
    if matrix is None or not matrix.contains(row, col):
        raise NotFoundError(f"No tile {'/'.join(indices)} in {tms.id}")
    return TileAddress(_layer_name(ctx), "default", tms, level, row, col, image_format)


def setup(server: ServerInterface, tiles: TileService) -> None:
    """Register the OGC API - Tiles routes and the XYZ template."""
    for path, handler in routes(tiles):
        server.add_route(path, handler, _READ)


__all__ = ["setup", "tile_matrix_set_doc"]
