"""The API definition (Part 1 §7.3 conf/oas30): an OpenAPI 3.0 document of exactly what this
server answers for the caller: one path per collection they may read, with the collection's
own queryable properties as `name=value` parameters, its CRS list, its paging bounds; and the
map tiles (`tile_paths`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from ogcserve.services.tiles.matrices import TileMatrixSets

from . import html
from .collections import answer, project_of, published
from .crs import CRS84, collection_crs
from .filtering import LANGUAGES, visible_time_field
from .items import ITEMS_PARAMETERS
from .links import api_root, self_links
from .negotiation import OPENAPI, Format, check_parameters, negotiate
from .schemas import property_schema, queryable_fields
from .tile_paths import tile_paths

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.projects.model import Layer

_REF = "#/components/parameters/"
_ERROR = {"$ref": "#/components/responses/Error"}


def _parameter(name: str, description: str, schema: dict[str, Any], **extra: Any) -> Any:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
        **extra,
    }


def _components(ctx: RequestContext) -> dict[str, Any]:
    settings = ctx.server.settings
    limit = {
        "type": "integer",
        "minimum": 1,
        "maximum": settings.ogcapi_max_limit,
        "default": settings.ogcapi_limit,
    }
    numbers = {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}
    text = {"type": "string"}
    parameters = {
        "f": _parameter(
            "f",
            "The format of the answer (else the Accept header decides)",
            {"type": "string", "enum": ["json", "geojson", "html"]},
        ),
        "limit": _parameter(
            "limit", "Items per page; a larger value is lowered to the maximum", limit
        ),
        "offset": _parameter(
            "offset",
            "Items skipped (the next links carry it)",
            {"type": "integer", "minimum": 0, "default": 0},
        ),
        "bbox": _parameter(
            "bbox",
            "minx,miny,maxx,maxy in bbox-crs's axis order",
            numbers,
            style="form",
            explode=False,
        ),
        "bbox-crs": _parameter("bbox-crs", "The CRS of bbox (default CRS84)", text),
        "crs": _parameter("crs", "The CRS of the answer's geometries (default CRS84)", text),
        "datetime": _parameter(
            "datetime",
            "An instant or an interval (a/b, ../b, a/..) on the collection's time field",
            text,
        ),
        "filter": _parameter("filter", "A CQL2 filter", text),
        "filter-lang": _parameter(
            "filter-lang",
            "The language of filter",
            {"type": "string", "enum": list(LANGUAGES), "default": "cql2-text"},
        ),
        "filter-crs": _parameter("filter-crs", "The CRS of the filter's geometries", text),
        "sortby": _parameter(
            "sortby",
            "+name or -name, comma-separated (see sortables)",
            {"type": "array", "items": text},
            style="form",
            explode=False,
        ),
        "properties": _parameter(
            "properties",
            "The properties to return",
            {"type": "array", "items": text},
            style="form",
            explode=False,
        ),
    }
    error = {
        "type": "object",
        "required": ["code", "description"],
        "properties": {"code": text, "description": text, "status": {"type": "integer"}},
    }
    json_body = {"application/json": {"schema": {"type": "object"}}}
    html_body = {"text/html": {"schema": text}}
    return {
        "parameters": parameters,
        "schemas": {"Exception": error},
        "responses": {
            "Error": {
                "description": "An error",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Exception"}}
                },
            },
            "Document": {"description": "A document", "content": {**json_body, **html_body}},
            "Schema": {
                "description": "A JSON Schema",
                "content": {"application/schema+json": {"schema": {"type": "object"}}, **html_body},
            },
            "Features": {
                "description": "Features",
                "content": {"application/geo+json": {"schema": {"type": "object"}}, **html_body},
            },
        },
    }


def _get(summary: str, operation: str, response: str, parameters: list[Any]) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "operationId": operation,
            "parameters": [{"$ref": _REF + "f"}, *parameters],
            "responses": {"200": {"$ref": f"#/components/responses/{response}"}, "default": _ERROR},
        }
    }


def _collection_paths(ctx: RequestContext, layer: Layer) -> dict[str, Any]:
    name = layer.name
    base = f"/collections/{name}"
    schema = ctx.server.access.schema(ctx, layer)
    crs = {"type": "string", "enum": collection_crs(ctx, layer), "default": CRS84}
    # `datetime` only where the collection has a time the caller may see (else it is a 400).
    timed = visible_time_field(layer.wfs.time, schema) is not None
    names = ("limit", "offset", "bbox", *(("datetime",) if timed else ()), "filter", "filter-lang")
    own = [{"$ref": _REF + p} for p in (*names, "sortby", "properties")]
    own += [_parameter(key, f"The CRS ({key})", crs) for key in ("crs", "bbox-crs", "filter-crs")]
    # Part 3 queryables-query-parameters: each queryable as an equality filter.
    own += [
        _parameter(f.name, f"Features whose {f.name} equals this", property_schema(f))
        for f in queryable_fields(schema)
        if f.name.upper() not in ITEMS_PARAMETERS  # those names mean the standard parameter
    ]
    feature_id = {"name": "featureId", "in": "path", "required": True, "schema": {"type": "string"}}
    item = _get(
        f"One feature of {name}",
        f"{name}.getFeature",
        "Features",
        [_parameter("crs", "The CRS of the answer", crs)],
    )
    item["get"]["parameters"].append(feature_id)
    return {
        base: _get(f"The collection {name}", f"{name}.describe", "Document", []),
        f"{base}/queryables": _get(f"Queryables of {name}", f"{name}.queryables", "Schema", []),
        f"{base}/sortables": _get(f"Sortables of {name}", f"{name}.sortables", "Schema", []),
        f"{base}/schema": _get(f"Schema of {name}", f"{name}.schema", "Schema", []),
        f"{base}/items": _get(f"Features of {name}", f"{name}.getFeatures", "Features", own),
        f"{base}/items/{{featureId}}": item,
    }


def _header(name: str, description: str) -> Any:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": {"type": "string"},
    }


def _body(*media: str) -> Any:
    feature = {"type": "object", "description": "A GeoJSON Feature"}
    return {"required": True, "content": {m: {"schema": feature} for m in media}}


def _write(summary: str, operation: str, status: str, **extra: Any) -> dict[str, Any]:
    described = {"201": "Created (Location and ETag headers)", "204": "Done (ETag header)"}
    return {
        "summary": summary,
        "operationId": operation,
        **extra,
        "responses": {status: {"description": described[status]}, "default": _ERROR},
    }


def _add_writes(ctx: RequestContext, layer: Layer, paths: dict[str, Any]) -> None:
    """Part 4: the write operations the caller may make on the collection's items."""
    rights = ctx.server.access.permissions(ctx, layer)
    name, base = layer.name, f"/collections/{layer.name}/items"
    crs = _header("Content-Crs", "The CRS of the body's coordinates (default CRS84)")
    match = _header("If-Match", "The item's ETag: the write fails (412) if it changed since")
    geojson = ("application/geo+json", "application/json")
    item_id = {"name": "featureId", "in": "path", "required": True, "schema": {"type": "string"}}
    if rights.can_insert:
        paths[base]["post"] = _write(
            f"Add a feature to {name}",
            f"{name}.create",
            "201",
            parameters=[crs],
            requestBody=_body(*geojson),
        )
    item = paths[f"{base}/{{featureId}}"]
    if rights.can_update:
        item["put"] = _write(
            f"Replace a feature of {name}",
            f"{name}.replace",
            "204",
            parameters=[item_id, crs, match],
            requestBody=_body(*geojson),
        )
        item["patch"] = _write(
            f"Change some of a feature of {name} (JSON merge patch)",
            f"{name}.update",
            "204",
            parameters=[item_id, crs, match],
            requestBody=_body("application/merge-patch+json", *geojson),
        )
    if rights.can_delete:
        item["delete"] = _write(
            f"Delete a feature of {name}", f"{name}.delete", "204", parameters=[item_id, match]
        )


def document(ctx: RequestContext) -> dict[str, Any]:
    """The OpenAPI document for the caller."""
    project = project_of(ctx)
    paths: dict[str, Any] = {
        "/": _get("Landing page", "getLandingPage", "Document", []),
        "/conformance": _get("Conformance classes", "getConformance", "Document", []),
        "/api": _get("This document", "getApi", "Document", []),
        "/collections": _get("The collections", "getCollections", "Document", []),
    }
    for layer in published(ctx):
        paths.update(_collection_paths(ctx, layer))
        _add_writes(ctx, layer, paths)
    paths.update(tile_paths(ctx, TileMatrixSets()))
    return {
        "openapi": "3.0.3",
        "info": {
            "title": project.title or project.name,
            "version": "1.0.0",
            "description": project.abstract or "OGC API - Features",
        },
        "servers": [{"url": api_root(ctx)}],
        "paths": paths,
        "components": _components(ctx),
    }


def api(ctx: RequestContext) -> None:
    """GET /api: the document as OpenAPI JSON, or an HTML summary of its paths."""
    check_parameters(ctx, {"F"})
    fmt = negotiate(ctx, (Format.JSON, Format.HTML))
    doc = document(ctx)
    if fmt is Format.JSON:
        ctx.response.set_header("Content-Type", OPENAPI)
        ctx.response.write(orjson.dumps(doc))
        return
    root = api_root(ctx)
    rows = [
        [
            html.anchor(f"{root}{path}?f=html", path) if "{" not in path else html.escape(path),
            html.escape(spec["get"]["summary"]),
        ]
        for path, spec in doc["paths"].items()
    ]
    page = {
        "title": f"{doc['info']['title']}: API",
        "links": self_links(ctx, fmt, (Format.JSON, Format.HTML)),
    }
    answer(ctx, fmt, page, html.table(["Path", "Summary"], rows), OPENAPI)
