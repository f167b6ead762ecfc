"""WFS request parameters: the strings every operation shares (versions, prefix, namespace), the
KVP value parsers, and GetFeature's parsed `GetFeatureParams` (KVP and XML encodings).

Parsing raises the OGC error of the first bad parameter; planning (`get_feature.plan`) checks
the names against the project and the caller's rights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lxml import etree

from ogcserve.access.read import MAX_OFFSET
from ogcserve.errors import FilterError, InvalidParameterValueError, MissingParameterValueError
from ogcserve.expressions import Expression, parse
from ogcserve.features import SortKey

from .formats import OutputFormat, media_type, output_format
from .xml_input import children, local, parse_body, text

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.projects.model import Project

VERSIONS = ("2.0.0", "1.1.0", "1.0.0")
FEATURE_PREFIX = "ogcserve"
CHUNK = 1000  # features per flush (DESIGN §2: stream in chunks, never per feature)
MAX_QUERIES = 20  # typenames in one GetFeature; each may hold a database cursor
GET_FEATURE_BY_ID = "urn:ogc:def:query:OGC-WFS::GetFeatureById"


def feature_namespace(project: Project) -> str:
    """The target namespace of a project's feature types."""
    return f"https://ogcserve.org/{project.name}"


def integer(value: str, locator: str, *, minimum: int = 0) -> int:
    """A non-negative integer parameter (COUNT, STARTINDEX, MAXFEATURES), at most 2**53
    (the access layer's largest offset; beyond it databases overflow)."""
    try:
        number = int(value.strip())
    except ValueError:
        raise InvalidParameterValueError(
            f"{locator} must be an integer, not {value!r}", locator=locator
        ) from None
    if number < minimum:
        raise InvalidParameterValueError(
            f"{locator} must be at least {minimum}, not {number}", locator=locator
        )
    if number > MAX_OFFSET:
        raise InvalidParameterValueError(f"{locator} is too large", locator=locator)
    return number


def type_name(value: str) -> str:
    """A typename without its namespace prefix (`ogcserve:countries` -> `countries`)."""
    name = value.strip()
    if name.startswith("{"):
        name = name.rpartition("}")[2]
    return name.rpartition(":")[2]


def split_list(value: str) -> list[str]:
    """A comma-separated KVP list, blanks dropped."""
    return [v.strip() for v in value.split(",") if v.strip()]


def split_groups(value: str) -> list[str]:
    """WFS 2.0 §7.9.2.4.2 / 1.1 §14.7: `(a,b)(c)` gives one group per query; no parentheses,
    one group."""
    text = value.strip()
    if not text.startswith("("):
        return [text]
    groups, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char == "(":
            if depth == 0:
                start = i + 1
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                groups.append(text[start:i])
            if depth < 0:
                break
    if depth != 0:
        raise InvalidParameterValueError(
            "Unbalanced parentheses in a parameter list", locator="PROPERTYNAME"
        )
    return groups


def sort_keys(value: str, locator: str = "SORTBY") -> tuple[SortKey, ...]:
    """SORTBY: `name DESC,pop ASC` (2.0), `name D,pop A` (1.1), `name` (ascending)."""
    keys = []
    for part in split_list(value):
        words = part.split()
        if len(words) > 2:
            raise InvalidParameterValueError(f"Invalid sort key {part!r}", locator=locator)
        order = words[1].upper() if len(words) == 2 else "ASC"
        if order not in ("ASC", "DESC", "A", "D"):
            raise InvalidParameterValueError(f"Invalid sort order {order!r}", locator=locator)
        keys.append(SortKey(type_name(words[0]), order in ("DESC", "D")))
    return tuple(keys)


@dataclass(frozen=True, slots=True)
class QueryParams:
    """One wfs:Query (or one KVP typename) as the client wrote it."""

    type_name: str
    properties: tuple[str, ...] | None = None
    filter: etree._Element | str | None = None  # an element (XML) or FILTER text (KVP)
    bbox: tuple[float, float, float, float] | None = None
    bbox_srs: str | None = None
    srs_name: str | None = None
    sort: tuple[SortKey, ...] = ()
    ids: tuple[str, ...] | None = None
    expression: Expression | None = None  # EXP_FILTER (QGIS Server's vendor parameter)


@dataclass(frozen=True, slots=True)
class GetFeatureParams:
    """A GetFeature request, KVP or XML."""

    version: str
    queries: tuple[QueryParams, ...]
    count: int | None = None
    start_index: int = 0
    hits: bool = False
    output_format: OutputFormat = OutputFormat.GML32
    media_type: str | None = None  # the Content-Type, when not CONTENT_TYPES[output_format]
    by_id: bool = False  # the GetFeatureById stored query: one bare feature, or 404
    kvp: bool = True


def parse_kvp(ctx: RequestContext, version: str) -> GetFeatureParams:
    """WFS 2.0 §7.9.2 / 1.1 §14.7 KVP encoding."""
    p = ctx.request.params
    names_text = p.get("TYPENAMES") or p.get("TYPENAME") or ""
    ids_text = p.get("RESOURCEID") or p.get("FEATUREID") or ""
    stored = p.get("STOREDQUERY_ID", "")
    by_id = False
    if stored:
        if stored != GET_FEATURE_BY_ID:
            raise InvalidParameterValueError(
                f"Unknown stored query {stored!r}", locator="STOREDQUERY_ID"
            )
        if not p.get("ID"):
            raise MissingParameterValueError("GetFeatureById needs ID", locator="ID")
        ids_text, by_id, names_text = p["ID"], True, ""
    names = split_list(names_text.replace("(", "").replace(")", ""))
    ids = split_list(ids_text)
    if not names and ids:
        # WFS 2.0 §7.9.2.4.1: with RESOURCEID the types come from the ids (`type.id`).
        names = list(dict.fromkeys(i.rpartition(".")[0] for i in ids if "." in i))
        if not names:
            raise InvalidParameterValueError(
                "Resource ids must be written type.id", locator="RESOURCEID"
            )
    if not names:
        raise MissingParameterValueError("TYPENAMES is missing", locator="TYPENAMES")
    if len(names) > MAX_QUERIES:
        raise InvalidParameterValueError(
            f"At most {MAX_QUERIES} types per request", locator="TYPENAMES"
        )
    filters = split_filters(p.get("FILTER", ""))
    props = split_groups(p["PROPERTYNAME"]) if p.get("PROPERTYNAME") else []
    sorts = p.get("SORTBY", "")
    for given, locator in ((filters, "FILTER"), (props, "PROPERTYNAME")):
        if given and len(given) != len(names):
            raise InvalidParameterValueError(
                f"{locator} needs one entry per type name", locator=locator
            )
    if filters and (ids or p.get("BBOX")):
        raise InvalidParameterValueError(
            "FILTER, BBOX and RESOURCEID are mutually exclusive", locator="FILTER"
        )
    bbox, bbox_srs = parse_bbox(p.get("BBOX", ""))
    expression = exp_filter(p.get("EXP_FILTER", ""), len(names))
    queries = []
    for i, name in enumerate(names):
        queries.append(
            QueryParams(
                type_name=name,
                properties=tuple(split_list(props[i]))
                if props and props[i].strip() != "*"
                else None,
                filter=filters[i] if filters else None,
                bbox=bbox,
                bbox_srs=bbox_srs,
                srs_name=p.get("SRSNAME") or None,
                sort=sort_keys(sorts) if sorts else (),
                ids=tuple(ids) if ids else None,
                expression=expression,
            )
        )
    count_text = p.get("COUNT") or p.get("MAXFEATURES") or ""
    fmt = output_format(p.get("OUTPUTFORMAT", ""), version)
    return GetFeatureParams(
        version=version,
        queries=tuple(queries),
        count=integer(count_text, "COUNT") if count_text else None,
        start_index=integer(p.get("STARTINDEX") or "0", "STARTINDEX"),
        hits=result_type(p.get("RESULTTYPE", ""), version),
        output_format=fmt,
        media_type=media_type(p.get("OUTPUTFORMAT", ""), fmt),
        by_id=by_id,
    )


def exp_filter(value: str, types: int) -> Expression | None:
    """EXP_FILTER: one QGIS expression, ANDed with the query's other filters. QGIS Server takes
    it for a single type name and ignores it (with a log line) for several; ignoring a filter
    would return rows the client asked to exclude, so that is refused here."""
    if not value.strip():
        return None
    if types != 1:
        raise InvalidParameterValueError(
            "EXP_FILTER applies to a single type name", locator="EXP_FILTER"
        )
    try:
        return parse(value, "qgis")
    except FilterError as error:
        raise FilterError(f"EXP_FILTER: {error.message}", locator="EXP_FILTER") from None


def split_filters(value: str) -> list[str]:
    """FILTER: one XML filter per type, each in parentheses when there are several."""
    text = value.strip()
    if not text:
        return []
    if not text.startswith("("):
        return [text]
    out, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char == "(" and depth == 0:
            start, depth = i + 1, 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                out.append(text[start:i])
    return out


def parse_bbox(value: str) -> tuple[tuple[float, float, float, float] | None, str | None]:
    """BBOX=a,b,c,d[,crs] (the corners in the axis order of crs)."""
    if not value.strip():
        return None, None
    parts = split_list(value)
    if len(parts) not in (4, 5):
        raise InvalidParameterValueError(
            "BBOX needs four numbers and an optional CRS", locator="BBOX"
        )
    try:
        a, b, c, d = (float(v) for v in parts[:4])
    except ValueError:
        raise InvalidParameterValueError("BBOX needs four numbers", locator="BBOX") from None
    if not all(math.isfinite(v) for v in (a, b, c, d)):
        raise InvalidParameterValueError("BBOX needs finite numbers", locator="BBOX")
    if a > c or b > d:
        raise InvalidParameterValueError("BBOX minimum is above its maximum", locator="BBOX")
    return (a, b, c, d), parts[4] if len(parts) == 5 else None


def result_type(value: str, version: str) -> bool:
    """RESULTTYPE: True for hits. WFS 1.0.0 has no such parameter, and its collection no count
    to answer hits with: it is ignored there (features are returned), as GeoServer does."""
    kind = value.strip().lower() or "results"
    if kind not in ("results", "hits"):
        raise InvalidParameterValueError(f"Unknown result type {value!r}", locator="RESULTTYPE")
    return kind == "hits" and version != "1.0.0"


def parse_xml(ctx: RequestContext, version: str) -> GetFeatureParams:
    """WFS 2.0 §11.2.2 / 1.1 §9.2 XML encoding."""
    root = parse_body(ctx.request.params["REQUEST_BODY"], ctx.request.xml_limits)
    version = root.get("version", version).strip()
    queries: list[QueryParams] = []
    by_id = False
    for element in children(root):
        name = local(element)
        if name == "Query":
            queries.extend(_xml_query(element))
        elif name == "StoredQuery":
            if element.get("id") != GET_FEATURE_BY_ID:
                raise InvalidParameterValueError(
                    f"Unknown stored query {element.get('id')!r}", locator="StoredQuery"
                )
            ids = [
                text(c)
                for c in children(element)
                if local(c) == "Parameter" and c.get("name", "").lower() == "id"
            ]
            if len(ids) != 1 or "." not in ids[0]:
                raise MissingParameterValueError(
                    "GetFeatureById needs one id (type.id)", locator="id"
                )
            by_id = True
            queries.append(QueryParams(type_name=ids[0].rpartition(".")[0], ids=(ids[0],)))
        else:
            raise InvalidParameterValueError(f"Unexpected element {name!r}", locator=name)
    if not queries:
        raise MissingParameterValueError("GetFeature needs a Query", locator="Query")
    if len(queries) > MAX_QUERIES:
        raise InvalidParameterValueError(
            f"At most {MAX_QUERIES} queries per request", locator="Query"
        )
    count_text = root.get("count") or root.get("maxFeatures") or ""
    fmt = output_format(root.get("outputFormat", ""), version, "outputFormat")
    return GetFeatureParams(
        version=version,
        queries=tuple(queries),
        count=integer(count_text, "count") if count_text else None,
        start_index=integer(root.get("startIndex", "0"), "startIndex"),
        hits=result_type(root.get("resultType", ""), version),
        output_format=fmt,
        media_type=media_type(root.get("outputFormat", ""), fmt),
        by_id=by_id,
        kvp=False,
    )


def _xml_query(element: etree._Element) -> list[QueryParams]:
    names = (element.get("typeNames") or element.get("typeName") or "").split()
    if not names:
        raise MissingParameterValueError("A Query needs typeNames", locator="typeNames")
    properties: list[str] = []
    filter_element = None
    sort: tuple[SortKey, ...] = ()
    for child in children(element):
        name = local(child)
        if name == "PropertyName":
            properties.append(type_name(text(child)))
        elif name == "Filter":
            filter_element = child
        elif name == "SortBy":
            keys = []
            for prop in children(child):
                parts = {local(c): text(c) for c in children(prop)}
                field = parts.get("ValueReference") or parts.get("PropertyName") or ""
                keys.append(f"{field} {parts.get('SortOrder', 'ASC')}")
            sort = sort_keys(",".join(keys), "SortBy")
        else:
            raise InvalidParameterValueError(f"Unexpected element {name!r} in Query", locator=name)
    return [
        QueryParams(
            type_name=n,
            properties=tuple(properties) or None,
            filter=filter_element,
            srs_name=element.get("srsName"),
            sort=sort,
        )
        for n in names
    ]
