"""The metadata resources (Part 1 §7.2-7.14): landing page, conformance, the collections and
each collection's description, queryables, sortables and schema.

A collection is a vector layer published for WFS (`wfs.publish`) that the caller may read;
any other name, a forbidden layer included, is a 404 that reads the same (its existence stays
hidden, as it is absent from the list).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson

from ogcserve.access import Read
from ogcserve.errors import LayerNotDefinedError, NotFoundError, SecurityError
from ogcserve.expressions import parse
from ogcserve.expressions.model import quote_name
from ogcserve.features import Schema, SortKey
from ogcserve.geo import transform_bbox

from . import html, schemas
from .crs import CRS84, collection_crs, uri
from .filtering import visible_time_field
from .links import api_root, link, self_links
from .negotiation import GEOJSON, HTML, JSON, OPENAPI, SCHEMA, Format, check_parameters, negotiate

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.projects.model import Layer, Project

_METADATA = (Format.JSON, Format.HTML)

_TILESETS_MAP = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-map"
_TILING_SCHEMES = "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes"
CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/property-property",
    # OGC API - Tiles 1.0: map tiles of the dataset and of each collection (ogcapi/tiles.py).
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/dataset-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/png",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/jpeg",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/oas30",
)


# --- resolving -----------------------------------------------------------------------------


def project_of(ctx: RequestContext) -> Project:
    """The request's project (the pipeline resolved it from the URL)."""
    if ctx.project is None:
        raise NotFoundError("No project is served here")
    return ctx.project


def _is_collection(layer: Layer) -> bool:
    return not layer.is_group and not layer.is_raster and layer.wfs.publish


def collection_layer(ctx: RequestContext) -> Layer:
    """The collection the URL names, if the caller may read it; else 404."""
    project = project_of(ctx)
    name = ctx.request.route.get("collection", "")
    layer = project.layer(name)
    missing = NotFoundError(f"Collection {name!r} was not found", locator="collectionId")
    if layer is None or not _is_collection(layer):
        raise missing
    try:
        return ctx.server.access.layer(ctx, project, name)
    except (SecurityError, LayerNotDefinedError):
        raise missing from None


def published(ctx: RequestContext) -> list[Layer]:
    """The collections the caller may read, in project order."""
    out: list[Layer] = []
    for top in ctx.server.access.readable_layers(ctx, project_of(ctx)):
        out.extend(layer for layer in top.walk() if _is_collection(layer))
    return out


def collection_url(ctx: RequestContext, layer: Layer) -> str:
    """`.../collections/<id>`."""
    return f"{api_root(ctx)}/collections/{quote(layer.name)}"


# --- answering -----------------------------------------------------------------------------


def answer(ctx: RequestContext, fmt: Format, doc: dict[str, Any], body: str, media: str) -> None:
    """Write `doc` as JSON (as `media`) or, for HTML, `body` in a page with the doc's links."""
    if fmt is Format.HTML:
        title = str(doc.get("title") or ctx.request.route.get("collection") or "OGC API")
        crumbs = [("Home", f"{api_root(ctx)}?f=html")]
        if "collection" in ctx.request.route:
            crumbs.append(("Collections", f"{api_root(ctx)}/collections?f=html"))
        text = html.page(title, body + html.links(doc.get("links", [])), crumbs)
        ctx.response.set_header("Content-Type", HTML)
        ctx.response.write(text)
        return
    ctx.response.set_header("Content-Type", media)
    ctx.response.write(orjson.dumps(doc))


def landing_page(ctx: RequestContext) -> None:
    """Part 1 §7.2: the landing page."""
    check_parameters(ctx, {"F"})
    fmt = negotiate(ctx, _METADATA)
    project, root = project_of(ctx), api_root(ctx)
    doc = {
        "title": project.title,
        "description": project.abstract,
        "links": [
            *self_links(ctx, fmt, _METADATA),
            link(f"{root}/api", "service-desc", OPENAPI, "The API definition"),
            link(f"{root}/api?f=html", "service-doc", HTML, "The API documentation"),
            link(f"{root}/conformance", "conformance", JSON, "Conformance classes"),
            link(f"{root}/collections", "data", JSON, "The collections"),
            link(f"{root}/map/tiles", _TILESETS_MAP, JSON, "Map tiles of the dataset"),
            link(f"{root}/tileMatrixSets", _TILING_SCHEMES, JSON, "The tile matrix sets"),
        ],
    }
    answer(ctx, fmt, doc, html.paragraph(project.abstract), JSON)


def conformance(ctx: RequestContext) -> None:
    """Part 1 §7.4: the conformance classes, each of which holds."""
    check_parameters(ctx, {"F"})
    fmt = negotiate(ctx, _METADATA)
    doc = {"conformsTo": list(CONFORMANCE), "links": self_links(ctx, fmt, _METADATA)}
    body = "<ul>" + "".join(f"<li>{html.escape(c)}</li>" for c in CONFORMANCE) + "</ul>"
    answer(ctx, fmt, {"title": "Conformance", **doc}, body, JSON)


def collections(ctx: RequestContext) -> None:
    """Part 1 §7.13: the collections the caller may read."""
    check_parameters(ctx, {"F"})
    fmt = negotiate(ctx, _METADATA)
    described = [describe(ctx, layer) for layer in published(ctx)]
    crs = sorted({c for d in described for c in d["crs"]}, key=lambda c: c != CRS84)
    doc = {"links": self_links(ctx, fmt, _METADATA), "collections": described, "crs": crs}
    answer(ctx, fmt, {"title": "Collections", **doc}, html.collections_table(described), JSON)


def collection(ctx: RequestContext) -> None:
    """Part 1 §7.14: one collection."""
    check_parameters(ctx, {"F"})
    layer = collection_layer(ctx)
    fmt = negotiate(ctx, _METADATA)
    doc = describe(ctx, layer)
    doc["links"] = self_links(ctx, fmt, _METADATA) + doc["links"][2:]
    body = html.paragraph(doc.get("description")) + _extent_html(doc)
    answer(ctx, fmt, doc, body, JSON)


def describe(ctx: RequestContext, layer: Layer) -> dict[str, Any]:
    """A collection's description: extent, CRSs, links."""
    access = ctx.server.access
    url = collection_url(ctx, layer)
    native = access.crs(ctx, layer)
    doc: dict[str, Any] = {
        "id": layer.name,
        "title": layer.title or layer.name,
        "description": layer.abstract,
        "keywords": list(layer.keywords),
        "itemType": "feature",
        "crs": collection_crs(ctx, layer),
        "storageCrs": uri(native),
        "extent": _extent(ctx, layer, native),
        "links": [
            link(url, "self", JSON, "This collection"),
            link(f"{url}?f=html", "alternate", HTML, "This collection as HTML"),
            link(f"{url}/items", "items", GEOJSON, "The features"),
            link(f"{url}/items?f=html", "items", HTML, "The features as HTML"),
            link(
                f"{url}/queryables",
                "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                SCHEMA,
                "The queryable properties",
            ),
            link(
                f"{url}/sortables",
                "http://www.opengis.net/def/rel/ogc/1.0/sortables",
                SCHEMA,
                "The sortable properties",
            ),
            link(f"{url}/schema", "describedby", SCHEMA, "The schema of the features"),
            link(f"{url}/map/tiles", _TILESETS_MAP, JSON, "Map tiles of the collection"),
        ],
    }
    return doc


def _extent(ctx: RequestContext, layer: Layer, native: str) -> dict[str, Any]:
    extent: dict[str, Any] = {}
    box = ctx.server.access.extent(ctx, layer)
    if box is not None:
        try:
            lonlat = transform_bbox(tuple(box), native, "CRS:84")
        except ValueError:
            lonlat = None
        if lonlat is not None:
            extent["spatial"] = {"bbox": [list(lonlat)], "crs": CRS84}
    schema = ctx.server.access.schema(ctx, layer)
    field = visible_time_field(layer.wfs.time, schema)
    if field is not None:
        interval = [_moment(ctx, layer, field, d) for d in (False, True)]
        extent["temporal"] = {
            "interval": [interval],
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
        }
    return extent


def _moment(ctx: RequestContext, layer: Layer, field: str, last: bool) -> str | None:
    """The first or last value of the time field among the caller's rows."""
    read = Read(
        filter=None,
        properties=(field,),
        sort=(SortKey(field, descending=last),),
        limit=1,
        with_geometry=False,
    )
    # Rows without a time sort first or last depending on the database: skip them.
    for batch in ctx.server.access.features(ctx, layer, _not_null(read, field)):
        for value in batch.columns.get(field, []):
            return _iso(value)
    return None


def _not_null(read: Read, field: str) -> Read:
    return replace(read, filter=parse(f"{quote_name(field)} IS NOT NULL"))


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        text = value.isoformat()
        return text.replace("+00:00", "Z") if value.tzinfo else text + "Z"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _extent_html(doc: dict[str, Any]) -> str:
    extent = doc.get("extent", {})
    rows = []
    if "spatial" in extent:
        rows.append(
            ["Extent (CRS84)", html.escape(", ".join(map(str, extent["spatial"]["bbox"][0])))]
        )
    if "temporal" in extent:
        rows.append(["Time", html.escape(" / ".join(map(str, extent["temporal"]["interval"][0])))])
    rows.append(["Storage CRS", html.escape(doc["storageCrs"])])
    rows.append(["CRSs", "<br>".join(html.escape(c) for c in doc["crs"])])
    return html.table(["", ""], rows)


# --- schemas -------------------------------------------------------------------------------


def _schema_resource(ctx: RequestContext, kind: str) -> tuple[Layer, Schema, Format, str]:
    check_parameters(ctx, {"F"})
    layer = collection_layer(ctx)
    fmt = negotiate(ctx, _METADATA)
    return layer, ctx.server.access.schema(ctx, layer), fmt, f"{collection_url(ctx, layer)}/{kind}"


def queryables(ctx: RequestContext) -> None:
    """Part 3 §6.3: what a filter may name (only what the caller sees)."""
    layer, schema, fmt, url = _schema_resource(ctx, "queryables")
    doc = schemas.queryables(schema, url, f"{layer.title or layer.name}: queryables")
    doc["links"] = self_links(ctx, fmt, _METADATA)
    answer(ctx, fmt, doc, html.properties_table(doc), SCHEMA)


def sortables(ctx: RequestContext) -> None:
    """What `sortby` takes."""
    layer, schema, fmt, url = _schema_resource(ctx, "sortables")
    doc = schemas.sortables(schema, url, f"{layer.title or layer.name}: sortables")
    doc["links"] = self_links(ctx, fmt, _METADATA)
    answer(ctx, fmt, doc, html.properties_table(doc), SCHEMA)


def schema(ctx: RequestContext) -> None:
    """The schema of the features (only the attributes the caller sees)."""
    layer, schema, fmt, url = _schema_resource(ctx, "schema")
    doc = schemas.feature_schema(schema, url, layer.title or layer.name)
    doc["links"] = self_links(ctx, fmt, _METADATA)
    answer(ctx, fmt, doc, html.properties_table(doc), SCHEMA)
