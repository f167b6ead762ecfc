"""Features (Part 1 §7.15-7.16, Part 2, Part 3): `/collections/{id}/items` and
`/collections/{id}/items/{featureId}`.

Every parameter is checked before the first byte is written. A page of GeoJSON is streamed
while the source streams, by the WFS GeoJSON writer (one writer for both services), flushed
every `CHUNK` features; its counts and paging links are written after the features, once they
are known (GeoJSON members have no order). One row past the page is read, so that a page that
ends the data proves its count without a count query. Rows and attributes the caller may not
see never leave the access layer, so `numberMatched` counts the caller's rows only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from ogcserve.access import Read
from ogcserve.errors import InvalidParameterValueError, NotFoundError
from ogcserve.expressions import ID
from ogcserve.features import FeatureBatch, Schema, SortKey
from ogcserve.services.wfs.crs import bbox_to_xy
from ogcserve.services.wfs.formats import OutputFormat
from ogcserve.services.wfs.geojson_features import json_column
from ogcserve.services.wfs.geojson_write import TextColumn
from ogcserve.services.wfs.output import GeoJSONWriter, PlannedQuery, Totals, timestamp
from ogcserve.services.wfs.params import CHUNK

from . import html
from .collections import collection_layer, collection_url
from .crs import collection_crs, default_srs, requested_srs, uri
from .etag import item_etag
from .filtering import Terms, request_filter, visible_time_field
from .links import api_root, here, link, self_links
from .negotiation import GEOJSON, HTML, Format, check_parameters, negotiate
from .schemas import queryable_fields

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.http.response import ServerResponse

FORMATS = (Format.GEOJSON, Format.HTML)
ITEMS_PARAMETERS = frozenset(
    {"F", "LIMIT", "OFFSET", "BBOX", "BBOX-CRS", "DATETIME", "CRS", "FILTER", "FILTER-LANG"}
    | {"FILTER-CRS", "SORTBY", "PROPERTIES"}
)
ITEM_PARAMETERS = frozenset({"F", "CRS"})


@dataclass(frozen=True, slots=True)
class Page:
    """An items request, decided: what to read, where the page starts, how to write it."""

    query: PlannedQuery
    limit: int
    offset: int


# --- planning ------------------------------------------------------------------------------


def plan(ctx: RequestContext) -> Page:
    """Read and check every parameter of an items request."""
    layer = collection_layer(ctx)
    access = ctx.server.access
    schema = access.schema(ctx, layer)
    native = access.crs(ctx, layer)
    crs = collection_crs(ctx, layer)
    equalities = check_parameters(ctx, ITEMS_PARAMETERS, [f.name for f in queryable_fields(schema)])
    params = ctx.request.params
    srs = requested_srs(params["CRS"], crs, "crs") if params.get("CRS") else default_srs()
    terms = Terms(schema, native, crs, visible_time_field(layer.wfs.time, schema))
    bbox, bbox_crs = _bbox(params.get("BBOX", ""), params.get("BBOX-CRS", ""), crs)
    properties = _properties(params.get("PROPERTIES"), schema)
    read = Read(
        bbox=bbox,
        bbox_crs=bbox_crs,
        filter=request_filter(ctx, terms, equalities),
        properties=properties,
        sort=_stable(_sortby(params.get("SORTBY", ""), schema)),
    )
    query = PlannedQuery(
        layer, schema, read, properties, srs, native, layer.wfs.number_matched, layer.wfs.precision
    )
    limit, offset = _paging(ctx)
    return Page(query, limit, offset)


def _paging(ctx: RequestContext) -> tuple[int, int]:
    """Part 1 §7.15.3: a limit above the maximum is lowered to it, not refused."""
    settings, params = ctx.server.settings, ctx.request.params
    limit = _integer(params.get("LIMIT", ""), "limit", settings.ogcapi_limit)
    if limit < 1:
        raise InvalidParameterValueError(f"limit={limit}: at least 1", locator="limit")
    offset = _integer(params.get("OFFSET", ""), "offset", 0)
    if offset < 0:
        raise InvalidParameterValueError(f"offset={offset}: at least 0", locator="offset")
    return min(limit, settings.ogcapi_max_limit), offset


def _integer(text: str, name: str, default: int) -> int:
    if not text.strip():
        return default
    value = text.strip()
    digits = value.lstrip("+-")
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 18:
        raise InvalidParameterValueError(f"{name}={text!r} is not an integer", locator=name)
    return int(value)


def _bbox(
    text: str, crs_text: str, crs: list[str]
) -> tuple[tuple[float, float, float, float] | None, str | None]:
    """Part 1 §7.15.3 bbox: 4 numbers (or 6, heights ignored) in `bbox-crs` (default CRS84),
    in that CRS's axis order; each minimum at most its maximum."""
    srs = requested_srs(crs_text, crs, "bbox-crs") if crs_text.strip() else default_srs()
    if not text.strip():
        if crs_text.strip():
            raise InvalidParameterValueError("bbox-crs needs a bbox", locator="bbox-crs")
        return None, None
    parts = text.split(",")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (4, 6) or not all(np.isfinite(numbers)):
        raise InvalidParameterValueError(
            f"bbox={text!r}: four numbers (or six, with heights)", locator="bbox"
        )
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    box = bbox_to_xy((numbers[0], numbers[1], numbers[2], numbers[3]), srs)
    if box[0] > box[2] or box[1] > box[3]:
        raise InvalidParameterValueError(
            f"bbox={text!r}: a lower corner above its upper corner", locator="bbox"
        )
    return box, srs.code


def _sortby(text: str, schema: Schema) -> tuple[SortKey, ...]:
    """`sortby=+name,-pop`: names the caller may see (others are unknown, 400)."""
    sortable = {f.name for f in queryable_fields(schema)}
    keys = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name = part.lstrip("+-").strip()
        if name not in sortable:
            raise InvalidParameterValueError(f"Unknown sort property {name!r}", locator="sortby")
        keys.append(SortKey(name, descending=part.startswith("-")))
    return tuple(keys)


def _stable(sort: tuple[SortKey, ...]) -> tuple[SortKey, ...]:
    # Paging needs a total order: the id breaks ties, so that pages neither repeat nor skip.
    return sort if any(k.name == ID for k in sort) else (*sort, SortKey(ID))


def _properties(text: str | None, schema: Schema) -> tuple[str, ...]:
    """`properties=a,b`: the attributes to return (the geometry always comes)."""
    names = schema.field_names()
    if text is None:
        return tuple(names)
    wanted = [p.strip() for p in text.split(",") if p.strip()]
    for name in wanted:
        if name not in names and name != schema.geometry_field:
            raise InvalidParameterValueError(f"Unknown property {name!r}", locator="properties")
    return tuple(n for n in names if n in wanted)


# --- answering -----------------------------------------------------------------------------


class _FeaturesWriter(GeoJSONWriter):
    """The WFS GeoJSON writer with OGC API's ids (bare, as `/items/{featureId}` takes them)
    and its collection members (counts, links)."""

    def ids(self, query: PlannedQuery, batch: FeatureBatch) -> TextColumn:
        """The keys themselves."""
        return json_column(batch.ids)

    def finish(self, matched: int | None, links: list[dict[str, Any]]) -> None:
        """Part 1 §7.15.7-8: numberMatched (when known), numberReturned, links."""
        tail: dict[str, Any] = {"numberReturned": self.written, "timeStamp": timestamp()}
        if matched is not None:
            tail["numberMatched"] = matched
        tail["links"] = links
        self.response.write(b"]," + orjson.dumps(tail)[1:])


def _writer(response: ServerResponse) -> _FeaturesWriter:
    return _FeaturesWriter(response, "2.0.0", OutputFormat.GEOJSON)


def items(ctx: RequestContext) -> None:
    """GET items: a page of features as GeoJSON (streamed) or HTML."""
    page = plan(ctx)
    fmt = negotiate(ctx, FORMATS)
    ctx.response.set_header("Content-Crs", f"<{uri(page.query.srs.code)}>")
    if fmt is Format.HTML:
        return _items_html(ctx, page)
    ctx.response.set_header("Content-Type", GEOJSON)
    writer = _writer(ctx.response)
    writer.begin(Totals(None, None), "", "")
    pending = 0
    rows = _PageRows(ctx, page)
    for batch in rows:
        # Flush what is written once more follows: a one-chunk answer goes out whole.
        if pending >= CHUNK:
            ctx.response.flush()
            pending = 0
        writer.batch(page.query, batch)
        pending += len(batch)
    matched = _matched(ctx, page, writer.written, rows.more)
    writer.finish(matched, _page_links(ctx, page, Format.GEOJSON, writer.written, rows.more))


class _PageRows:
    """The page's features, read one row past the page: once they are read, `more` says
    whether a feature follows. When none does, the page ends the data, which proves the count
    (no count query) and that there is no next page, whatever the count policy."""

    def __init__(self, ctx: RequestContext, page: Page) -> None:
        self.ctx, self.page = ctx, page
        self.more = False

    def __iter__(self) -> Iterator[FeatureBatch]:
        page = self.page
        read = replace(page.query.read, offset=page.offset, limit=page.limit + 1)
        room = page.limit
        for batch in self.ctx.server.access.features(self.ctx, page.query.layer, read):
            if len(batch) > room:
                self.more = True
                if room:
                    yield batch.head(room)
                return
            room -= len(batch)
            if len(batch):
                yield batch


def _matched(ctx: RequestContext, page: Page, returned: int, more: bool) -> int | None:
    """numberMatched as the layer's count policy says (`wfs.number_matched`): a count query
    ("exact"), only what the page proves ("estimated"), or nothing ("unknown")."""
    policy = page.query.number_matched
    if policy == "unknown":
        return None
    if not more and (returned > 0 or page.offset == 0):
        return page.offset + returned  # nothing follows the page: it ends the data
    if policy == "exact":
        return ctx.server.access.count(ctx, page.query.layer, page.query.read)
    return None


def _page_links(
    ctx: RequestContext, page: Page, fmt: Format, returned: int, more: bool
) -> list[dict[str, Any]]:
    out = self_links(ctx, fmt, FORMATS)
    media = GEOJSON if fmt is Format.GEOJSON else HTML
    limit = str(page.limit)
    if more:
        out.append(link(here(ctx, offset=str(page.offset + returned), limit=limit), "next", media))
    if page.offset > 0:
        back = str(max(0, page.offset - page.limit))
        out.append(link(here(ctx, offset=back, limit=limit), "prev", media))
    url = collection_url(ctx, page.query.layer)
    out.append(link(url, "collection", "application/json", "The collection"))
    return out


def _items_html(ctx: RequestContext, page: Page) -> None:
    writer = _writer(ctx.response)
    features: list[dict[str, Any]] = []
    geometries: list[Any] = []
    rows = _PageRows(ctx, page)
    for batch in rows:
        features += [orjson.loads(f) for f in writer.features(page.query, batch)]
        geometries += [] if batch.geometries is None else list(batch.geometries)
    matched = _matched(ctx, page, len(features), rows.more)
    links = _page_links(ctx, page, Format.HTML, len(features), rows.more)
    layer = page.query.layer
    count = f"{len(features)} features" + (f" of {matched}" if matched is not None else "")
    body = (
        html.paragraph(count)
        + html.svg_map(geometries)
        + html.features_table(features, f"{collection_url(ctx, layer)}/items")
    )
    _html_page(ctx, layer.title or layer.name, body, links)


def _html_page(ctx: RequestContext, title: str, body: str, links: list[dict[str, Any]]) -> None:
    root = api_root(ctx)
    crumbs = [("Home", f"{root}?f=html"), ("Collections", f"{root}/collections?f=html")]
    name = ctx.request.route.get("collection", "")
    crumbs.append((name, f"{root}/collections/{name}?f=html"))
    ctx.response.set_header("Content-Type", HTML)
    ctx.response.write(html.page(title, body + html.links(links), crumbs))


# --- one feature ---------------------------------------------------------------------------


def item(ctx: RequestContext) -> None:
    """GET one feature (404 when it does not exist for the caller), with its ETag."""
    check_parameters(ctx, ITEM_PARAMETERS)
    layer = collection_layer(ctx)
    access = ctx.server.access
    crs = collection_crs(ctx, layer)
    params = ctx.request.params
    srs = requested_srs(params["CRS"], crs, "crs") if params.get("CRS") else default_srs()
    fmt = negotiate(ctx, FORMATS)
    fid = ctx.request.route.get("feature", "")
    feature = access.get(ctx, layer, fid)
    if feature is None:
        raise NotFoundError(f"Feature {fid!r} was not found", locator="featureId")
    schema = access.schema(ctx, layer)
    native = access.crs(ctx, layer)
    properties = tuple(n for n in schema.field_names() if n in feature.properties)
    query = PlannedQuery(
        layer, schema, Read(), properties, srs, native, "unknown", layer.wfs.precision
    )
    geometries = np.empty(1, dtype=object)
    geometries[0] = feature.geometry
    batch = FeatureBatch(
        [feature.id],
        geometries if schema.geometry_field else None,
        {n: [feature.properties[n]] for n in properties},
    )
    doc = orjson.loads(_writer(ctx.response).features(query, batch)[0])
    url = collection_url(ctx, layer)
    doc["links"] = [
        *self_links(ctx, fmt, FORMATS),
        link(url, "collection", "application/json", "The collection"),
    ]
    ctx.response.set_header("ETag", item_etag(feature))
    ctx.response.set_header("Content-Crs", f"<{uri(srs.code)}>")
    if fmt is Format.HTML:
        body = html.svg_map([feature.geometry]) + html.features_table([doc], f"{url}/items")
        return _html_page(ctx, f"{layer.title or layer.name}: {fid}", body, doc["links"])
    ctx.response.set_header("Content-Type", GEOJSON)
    ctx.response.write(orjson.dumps(doc))
