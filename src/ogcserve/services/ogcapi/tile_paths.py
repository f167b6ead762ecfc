"""The OGC API - Tiles part of the API definition (/api): the tile matrix sets, the tilesets
and tiles of the dataset and of every layer the caller may read (OGC API - Tiles 1.0 §13,
conf/oas30). Collections are one templated path whose `collectionId` lists the caller's
layers and groups, so a forbidden layer is named nowhere."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ogcserve.services.tiles.matrices import TileMatrixSets
from ogcserve.services.wms.layers import project_of, root_name

if TYPE_CHECKING:
    from ogcserve.context import RequestContext

_ERROR = {"$ref": "#/components/responses/Error"}
_JSON = {"application/json": {"schema": {"type": "object"}}}
_IMAGES = {
    m: {"schema": {"type": "string", "format": "binary"}}
    for m in ("image/png", "image/jpeg", "image/webp")
}


def _path_parameter(name: str, description: str, schema: dict[str, Any]) -> Any:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema,
    }


def _operation(summary: str, operation: str, parameters: list[Any], content: Any) -> Any:
    responses: dict[str, Any] = {"200": {"description": summary, "content": content}}
    if content is _IMAGES:
        responses["304"] = {"description": "The client's copy (If-None-Match) is current"}
    responses["default"] = _ERROR
    return {
        "get": {
            "summary": summary,
            "operationId": operation,
            "parameters": parameters,
            "responses": responses,
        }
    }


def tile_paths(ctx: RequestContext, sets: TileMatrixSets) -> dict[str, Any]:
    """The paths, relative to the API root."""
    project = project_of(ctx)
    ids = [tms.id for tms in sets.of(project)]
    tms = _path_parameter("tileMatrixSetId", "A tile matrix set", {"type": "string", "enum": ids})
    indices = [
        _path_parameter("tileMatrix", "The level", {"type": "string"}),
        _path_parameter("tileRow", "The row, from the top", {"type": "integer", "minimum": 0}),
        _path_parameter("tileCol", "The column, from the left", {"type": "integer", "minimum": 0}),
    ]
    image = {
        "name": "f",
        "in": "query",
        "required": False,
        "description": "The tile format (else the Accept header decides, else PNG)",
        "schema": {"type": "string", "enum": ["png", "jpg", "webp"]},
    }
    paths: dict[str, Any] = {
        "/tileMatrixSets": _operation("The tile matrix sets", "getTileMatrixSetsList", [], _JSON),
        "/tileMatrixSets/{tileMatrixSetId}": _operation(
            "A tile matrix set", "getTileMatrixSet", [tms], _JSON
        ),
    }
    names = [
        layer.name
        for top in ctx.server.access.readable_layers(ctx, project)
        for layer in top.walk()
    ]
    bases: list[tuple[str, str, list[Any]]] = []
    if root_name(ctx, project):
        bases.append(("/map/tiles", "dataset", []))
    if names:
        collection = _path_parameter(
            "collectionId", "A layer or group", {"type": "string", "enum": names}
        )
        bases.append(("/collections/{collectionId}/map/tiles", "collection", [collection]))
    for base, what, own in bases:
        paths[base] = _operation(
            f"The {what}'s map tilesets", f"{what}.getTileSetsList", own, _JSON
        )
        paths[f"{base}/{{tileMatrixSetId}}"] = _operation(
            f"The {what}'s map tileset", f"{what}.getTileSet", [*own, tms], _JSON
        )
        paths[f"{base}/{{tileMatrixSetId}}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"] = _operation(
            f"A map tile of the {what}", f"{what}.getTile", [*own, tms, *indices, image], _IMAGES
        )
    return paths
