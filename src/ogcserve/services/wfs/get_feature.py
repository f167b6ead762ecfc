"""GetFeature (WFS 2.0.0 §11, 1.1.0 §9, 1.0.0 §8): KVP and XML, several queries, streamed.

Everything that can be refused is refused while planning, before the first byte is written:
unknown or forbidden types, unknown properties, bad filters, CRSs and formats. Rows and
attributes the caller may not see never leave the access layer, so COUNT and numberMatched
apply to the caller's rows only.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import chain
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit, urlunsplit

from ogcserve.access import Read, ReadParameters
from ogcserve.errors import InvalidParameterValueError, NotFoundError
from ogcserve.expressions import ID, check_properties, conjunction

from .crs import SrsName, bbox_to_xy, parse_srs, srs_for
from .filters import LayerTerms, ParsedFilter, feature_id, parse_filter, parse_filter_text
from .formats import OutputFormat
from .gml_write import GML_URI, escape
from .layers import feature_layer, require_project
from .output import (
    CONTENT_TYPES,
    GML_SCHEMAS,
    XSI,
    CollectionWriter,
    GeoJSONWriter,
    GMLWriter,
    PlannedQuery,
    Totals,
    writer_for,
)
from .params import (
    CHUNK,
    FEATURE_PREFIX,
    GetFeatureParams,
    QueryParams,
    feature_namespace,
    parse_kvp,
    parse_xml,
    type_name,
)

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.features import FeatureBatch, SortKey

# The WFS parameters a read's values come from, named in the access layer's errors.
WFS_PARAMETERS = ReadParameters(
    sort="SORTBY", properties="PROPERTYNAME", limit="COUNT", offset="STARTINDEX"
)


def get_feature(ctx: RequestContext) -> None:
    """Answer GetFeature."""
    version = ctx.request.parameter("VERSION").strip() or "2.0.0"
    params = (
        parse_xml(ctx, version) if "REQUEST_BODY" in ctx.request.params else parse_kvp(ctx, version)
    )
    run(ctx, params)


# --- planning -----------------------------------------------------------------------------------


def plan(ctx: RequestContext, params: GetFeatureParams, query: QueryParams) -> PlannedQuery:
    """Decide one query; every refusal happens here."""
    project = require_project(ctx)
    data = ctx.server.access
    layer = feature_layer(ctx, project, query.type_name, "TYPENAMES")
    schema = data.schema(ctx, layer)
    native = data.crs(ctx, layer)
    version = params.version
    # How the request writes coordinates (filter geometries without an srsName)...
    given = parse_srs(query.srs_name, version) if query.srs_name else srs_for(native, version)
    # ... and how the answer does.
    srs = given
    if params.output_format is OutputFormat.GEOJSON:
        # RFC 7946 §4: longitude, latitude in CRS84 unless the client asked for another CRS.
        srs = given if query.srs_name else parse_srs("OGC:CRS84", version)
    if not params.output_format.is_gml:
        srs = SrsName(srs.code, False, srs.text)  # GeoJSON and WKT are always x/y
    visible = set(schema.field_names())
    geometry = schema.geometry_field
    properties = tuple(f.name for f in schema.fields)
    with_geometry = geometry is not None
    if query.properties is not None:
        wanted = set()
        for name in query.properties:
            name = type_name(name)
            if name == geometry:
                continue
            if name not in visible:
                raise InvalidParameterValueError(
                    f"Unknown property {name!r}", locator="PROPERTYNAME"
                )
            wanted.add(name)
        properties = tuple(n for n in properties if n in wanted)
        # WFS 2.0 §7.9.2.4.3: the geometry is kept when named; mandatory properties only else.
        with_geometry = geometry is not None and geometry in {
            type_name(n) for n in query.properties
        }
    sort = query.sort
    for key in sort:
        if key.name not in visible and key.name != ID:
            raise InvalidParameterValueError(f"Unknown property {key.name!r}", locator="SORTBY")
    terms = LayerTerms(layer.name, schema, native, given, version)
    parsed = ParsedFilter(None, None)
    if isinstance(query.filter, str):
        parsed = parse_filter_text(query.filter, terms, ctx.request.xml_limits)
    elif query.filter is not None:
        parsed = parse_filter(query.filter, terms)
    expression = conjunction([parsed.expression, query.expression])
    if expression is not None:
        check_properties(expression, [*visible, *([geometry] if geometry else [])])
    ids = parsed.ids
    if query.ids is not None:
        ids = tuple(i for i in (feature_id(r, layer.name) for r in query.ids) if i is not None)
    bbox, bbox_crs = None, None
    if query.bbox is not None:
        corners = (
            parse_srs(query.bbox_srs, version, "BBOX")
            if query.bbox_srs
            else srs_for(native, version)
        )
        bbox, bbox_crs = bbox_to_xy(query.bbox, corners), corners.code
    read = Read(
        bbox=bbox,
        bbox_crs=bbox_crs,
        filter=expression,
        properties=properties,
        sort=_stable(sort),
        ids=ids,
        with_geometry=with_geometry,
        parameters=WFS_PARAMETERS,
    )
    return PlannedQuery(
        layer, schema, read, properties, srs, native, layer.wfs.number_matched, layer.wfs.precision
    )


def _stable(sort: tuple[SortKey, ...]) -> tuple[SortKey, ...]:
    # Paging needs a total order: the id breaks ties (and orders unsorted requests), so that
    # consecutive pages neither repeat nor skip features.
    from ogcserve.features import SortKey

    if any(k.name == ID for k in sort):
        return sort
    return (*sort, SortKey(ID))


# --- execution ----------------------------------------------------------------------------------


def run(ctx: RequestContext, params: GetFeatureParams) -> None:
    """Plan every query, then count and stream."""
    if params.by_id:
        return _by_id(ctx, params)
    planned = [plan(ctx, params, q) for q in params.queries]
    data = ctx.server.access
    limit = min(params.count, data.max_features) if params.count is not None else data.max_features
    if len(planned) == 1 and not params.hits and not params.output_format.is_gml:
        return _counted_after(ctx, params, planned[0], limit)
    # numberMatched: an exact count where the layer asks for it and the answer shows it (WFS
    # 2.0, and hits; a 1.1.0 collection states only how many it holds), and always when several
    # queries need their sizes to place STARTINDEX; None means unknown. A count scans every
    # row a filter keeps (an access rule's too), so it is never made for nothing.
    shown = params.hits or params.version == "2.0.0"
    matched: list[int | None] = []
    for q in planned:
        exact = (shown and q.number_matched == "exact") or (
            len(planned) > 1 and params.start_index > 0
        )
        matched.append(data.count(ctx, q.layer, q.read) if exact else None)
    if len(planned) == 1 and not params.hits and matched[0] is None:
        return _counted_first(ctx, params, planned[0], limit)
    slices = _slices(ctx, planned, matched, params.start_index, limit)
    returned = sum(n for _, _, _, n in slices)
    total = _total(planned, matched, slices, params.start_index, returned, limit)
    if params.hits:
        # WFS 2.0 §11.3.3.5: numberMatched, and numberReturned="0". WFS 1.1.0 §9.3 has a single
        # count, numberOfFeatures: how many features the same request would return.
        totals = Totals(total, returned if params.version == "1.1.0" else 0)
        slices = []
    else:
        totals = Totals(total, returned, *_links(ctx, params, total, returned, limit))
    writer = _begin(ctx, params, totals)
    pending = 0
    for q, offset, count, _ in slices:
        if count:
            pending = _write(ctx, writer, q, replace(q.read, offset=offset, limit=count), pending)
    writer.end(totals)


def _counted_after(
    ctx: RequestContext, params: GetFeatureParams, q: PlannedQuery, limit: int
) -> None:
    """One query in a format whose counts come after the features (GeoJSON, CSV): stream
    first; a page that is not full tells numberMatched, so only a full page (or one past the
    end) is counted, once the features are out."""
    start = params.start_index
    writer = _begin(ctx, params, Totals(None, None))
    _write(ctx, writer, q, replace(q.read, offset=start, limit=limit), 0)
    returned = writer.written
    total = None if q.number_matched == "unknown" else _proven_total(start, returned, limit)
    if total is None and q.number_matched == "exact":
        total = ctx.server.access.count(ctx, q.layer, q.read)
    writer.end(Totals(total, returned, *_links(ctx, params, total, returned, limit)))


def _counted_first(
    ctx: RequestContext, params: GetFeatureParams, q: PlannedQuery, limit: int
) -> None:
    """One query in GML without numberMatched, whose head states how many features follow:
    the first batches are read before anything is written. When they are the whole answer
    (a page of 1,000), their number is the count; otherwise the page is counted as
    `_page_size` counts it (a count bounded by the page), and the batches held are written first."""
    start = params.start_index
    batches = iter(
        ctx.server.access.features(ctx, q.layer, replace(q.read, offset=start, limit=limit))
    )
    held: list[FeatureBatch] = []
    size = 0
    complete = False
    while not complete and size <= CHUNK:
        batch = next(batches, None)
        complete = batch is None
        if batch is not None:
            held.append(batch)
            size += len(batch)
    returned = size if complete else _page_size(ctx, q, start, limit)
    total = None if q.number_matched == "unknown" else _proven_total(start, returned, limit)
    totals = Totals(total, returned, *_links(ctx, params, total, returned, limit))
    writer = _begin(ctx, params, totals)
    pending = 0
    for batch in chain(held, batches):
        if pending >= CHUNK:
            ctx.response.flush()
            pending = 0
        writer.batch(q, batch)
        pending += len(batch)
    writer.end(totals)


def _begin(ctx: RequestContext, params: GetFeatureParams, totals: Totals) -> CollectionWriter:
    """The writer of the request's format, with the collection's head written."""
    writer = writer_for(ctx.response, params.version, params.output_format)
    ctx.response.set_header(
        "Content-Type", params.media_type or CONTENT_TYPES[params.output_format]
    )
    writer.begin(totals, feature_namespace(require_project(ctx)), describe_url(ctx, params))
    return writer


def _write(
    ctx: RequestContext, writer: CollectionWriter, q: PlannedQuery, read: Read, pending: int
) -> int:
    """Write the features of `read`, flushing every CHUNK features; `pending`: how many are
    written and not flushed yet (returned updated, for the next query)."""
    for batch in ctx.server.access.features(ctx, q.layer, read):
        # Flush what is written once more follows: an answer of one chunk stays buffered and
        # goes out in one piece with its Content-Length.
        if pending >= CHUNK:
            ctx.response.flush()
            pending = 0
        writer.batch(q, batch)
        pending += len(batch)
    return pending


def _proven_total(start: int, returned: int, limit: int) -> int | None:
    """The total a page proves: one that is not full ends the data (when it starts inside
    it); None when it proves nothing."""
    if returned < limit and (returned > 0 or start == 0):
        return start + returned
    return None


def _slices(
    ctx: RequestContext,
    planned: list[PlannedQuery],
    matched: list[int | None],
    start: int,
    limit: int,
) -> list[tuple[PlannedQuery, int, int, int]]:
    """(query, offset, limit, rows it will return) for each query, STARTINDEX and COUNT
    spread over the queries in order (WFS 2.0 §7.7.3.2: they apply to the whole response)."""
    out = []
    skip, left = start, limit
    for q, size in zip(planned, matched, strict=True):
        if size is not None:
            offset = min(skip, size)
            rows = max(0, min(size - offset, left))
            skip -= offset
        else:
            # No count was asked for: count the page itself (bounded by COUNT), since a GML
            # 2.0 collection states numberReturned before its members.
            offset = skip
            rows = _page_size(ctx, q, offset, left)
            skip = 0
        out.append((q, offset, left, rows))
        left -= rows
    return out


def _page_size(ctx: RequestContext, q: PlannedQuery, offset: int, limit: int) -> int:
    if limit <= 0:
        return 0
    read = replace(q.read, offset=offset, limit=limit, properties=(), with_geometry=False, sort=())
    return ctx.server.access.count(ctx, q.layer, read, paged=True)


def _total(
    planned: list[PlannedQuery],
    matched: list[int | None],
    slices: list[tuple[PlannedQuery, int, int, int]],
    start: int,
    returned: int,
    limit: int,
) -> int | None:
    if all(m is not None for m in matched):
        return sum(m for m in matched if m is not None)
    if all(q.number_matched == "unknown" for q in planned):
        return None
    return _proven_total(start, returned, limit)  # "estimated"


def _links(
    ctx: RequestContext, params: GetFeatureParams, total: int | None, returned: int, limit: int
) -> tuple[str | None, str | None]:
    """WFS 2.0 §10.2.4.1: next/previous as KVP URLs (only for KVP requests with COUNT)."""
    if params.version != "2.0.0" or not params.kvp or params.count is None:
        return None, None
    start = params.start_index
    more = returned == limit and (total is None or start + returned < total)
    nxt = _page_url(ctx, start + limit, limit) if more else None
    prev = _page_url(ctx, max(0, start - limit), limit) if start > 0 else None
    return nxt, prev


def _page_url(ctx: RequestContext, start: int, count: int) -> str:
    parts = urlsplit(ctx.request.url)
    query = {
        k: v
        for k, v in ctx.request.params.items()
        if k not in ("STARTINDEX", "COUNT", "MAXFEATURES")
    }
    query.update(STARTINDEX=str(start), COUNT=str(count))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def describe_url(ctx: RequestContext, params: GetFeatureParams) -> str:
    """Where the schema of the returned types is (xsi:schemaLocation)."""
    parts = urlsplit(ctx.request.url)
    names = ",".join(dict.fromkeys(type_name(q.type_name) for q in params.queries))
    query = {
        "SERVICE": "WFS",
        "VERSION": params.version,
        "REQUEST": "DescribeFeatureType",
        "TYPENAME" if params.version != "2.0.0" else "TYPENAMES": names,
    }
    if "MAP" in ctx.request.params:
        query["MAP"] = ctx.request.params["MAP"]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def _by_id(ctx: RequestContext, params: GetFeatureParams) -> None:
    """WFS 2.0 §7.9.3.6: GetFeatureById answers the bare feature, or 404."""
    query = plan(ctx, params, params.queries[0])
    if not query.read.ids:
        raise NotFoundError("No such feature", locator="ID")
    read = replace(query.read, limit=1)
    batches = [b for b in ctx.server.access.features(ctx, query.layer, read) if len(b)]
    if not batches:
        raise NotFoundError(f"No feature {params.queries[0].ids!r}", locator="ID")
    fmt = params.output_format
    ctx.response.set_header("Content-Type", params.media_type or CONTENT_TYPES[fmt])
    if fmt is OutputFormat.GEOJSON:
        ctx.response.write(
            GeoJSONWriter(ctx.response, params.version, fmt).features(query, batches[0])[0]
        )
    elif fmt is OutputFormat.CSV:
        writer = writer_for(ctx.response, params.version, fmt)
        writer.begin(Totals(1, 1), "", "")
        writer.batch(query, batches[0])
    else:
        namespace = feature_namespace(require_project(ctx))
        bare = (
            f'xmlns:{FEATURE_PREFIX}="{escape(namespace)}" xmlns:gml="{GML_URI[fmt]}" '
            f'xmlns:xsi="{XSI}" xsi:schemaLocation="{escape(namespace)} '
            f'{escape(describe_url(ctx, params))} {GML_URI[fmt]} {GML_SCHEMAS[fmt]}"'
        )
        ctx.response.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        GMLWriter(ctx.response, params.version, fmt, bare=bare).batch(query, batches[0])
