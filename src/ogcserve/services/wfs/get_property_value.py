"""GetPropertyValue (WFS 2.0.0 §10): the values of one property, as a wfs:ValueCollection."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ogcserve.errors import InvalidParameterValueError, MissingParameterValueError

from .formats import OutputFormat
from .get_feature import plan
from .gml_write import GeometryTexts, GeometryWriter, escape, value_text
from .layers import require_project
from .output import PlannedQuery, timestamp
from .params import CHUNK, FEATURE_PREFIX, feature_namespace, parse_kvp, parse_xml
from .params import type_name as strip_prefix
from .xml_input import WFS_NS, parse_body

if TYPE_CHECKING:
    from ogcserve.context import RequestContext


def get_property_value(ctx: RequestContext) -> None:
    """Answer GetPropertyValue (KVP or XML)."""
    version = ctx.request.parameter("VERSION").strip() or "2.0.0"
    if "REQUEST_BODY" in ctx.request.params:
        root = parse_body(ctx.request.params["REQUEST_BODY"], ctx.request.xml_limits)
        reference = root.get("valueReference", "")
        params = parse_xml(ctx, version)
    else:
        reference = ctx.request.parameter("VALUEREFERENCE")
        params = parse_kvp(ctx, version)
    if not reference.strip():
        raise MissingParameterValueError("VALUEREFERENCE is missing", locator="VALUEREFERENCE")
    if len(params.queries) != 1:
        raise InvalidParameterValueError("GetPropertyValue takes one type", locator="TYPENAMES")
    name = strip_prefix(reference.strip().lstrip("/"))
    query = replace(params.queries[0], properties=(name,))
    planned: PlannedQuery = plan(ctx, params, query)
    geometry = planned.schema.geometry_field
    if name not in planned.properties and name != geometry:
        raise InvalidParameterValueError(f"Unknown property {name!r}", locator="VALUEREFERENCE")
    data = ctx.server.access
    read = replace(planned.read, limit=params.count, offset=params.start_index)
    matched = data.count(ctx, planned.layer, planned.read)
    returned = (
        0
        if params.hits
        else max(
            0,
            min(
                matched - params.start_index, params.count if params.count is not None else matched
            ),
        )
    )
    wfs = WFS_NS["2.0.0"]
    namespace = feature_namespace(require_project(ctx))
    ctx.response.set_header("Content-Type", "application/gml+xml; version=3.2")
    ctx.response.write(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<wfs:ValueCollection xmlns:wfs="{wfs}" '
        f'xmlns:gml="http://www.opengis.net/gml/3.2" '
        f'xmlns:{FEATURE_PREFIX}="{escape(namespace)}" timeStamp="{timestamp()}" '
        f'numberMatched="{matched}" numberReturned="{returned}">'
    )
    tag = f"{FEATURE_PREFIX}:{name}"
    writer = GeometryWriter(OutputFormat.GML32, planned.srs.text)
    if not params.hits:
        pending = 0
        for batch in data.features(ctx, planned.layer, read):
            if pending >= CHUNK:  # flushed once more follows (see get_feature.run)
                ctx.response.flush()
                pending = 0
            out: list[str] = []
            if name == geometry:
                convert = planned.transform()
                geoms = batch.geometries
                if geoms is not None and convert is not None:
                    import shapely

                    geoms = shapely.transform(geoms, convert)
                if geoms is not None:
                    gml = writer.write_many(
                        GeometryTexts.wkt(geoms, planned.precision),
                        [f"{name}.{fid}" for fid in batch.ids],
                    )
                    out.extend(f"<wfs:member>{g}</wfs:member>" for g in gml)
            else:
                for value in batch.columns.get(name, []):
                    if value is not None:
                        out.append(f"<wfs:member><{tag}>{value_text(value)}</{tag}></wfs:member>")
            ctx.response.write("".join(out))
            pending += len(batch)
    ctx.response.write("</wfs:ValueCollection>\n")
