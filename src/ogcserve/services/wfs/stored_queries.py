"""ListStoredQueries and DescribeStoredQueries (WFS 2.0.0 §14.3, §14.4): the one mandatory
stored query, GetFeatureById (§7.9.3.6). Managing stored queries is not offered."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lxml import etree

from ogcserve.errors import InvalidParameterValueError

from .layers import published_layers, require_project
from .params import FEATURE_PREFIX, GET_FEATURE_BY_ID, feature_namespace
from .xml_input import WFS_NS, children, local, parse_body, text

if TYPE_CHECKING:
    from ogcserve.context import RequestContext

_WFS = WFS_NS["2.0.0"]
_TITLE = "Get feature by identifier"


def list_stored_queries(ctx: RequestContext) -> None:
    """The stored queries and the types they return."""
    project = require_project(ctx)
    root = etree.Element(
        f"{{{_WFS}}}ListStoredQueriesResponse",
        nsmap={"wfs": _WFS, FEATURE_PREFIX: feature_namespace(project)},
    )
    query = etree.SubElement(root, f"{{{_WFS}}}StoredQuery", id=GET_FEATURE_BY_ID)
    etree.SubElement(query, f"{{{_WFS}}}Title").text = _TITLE
    for layer in published_layers(ctx, project):
        etree.SubElement(
            query, f"{{{_WFS}}}ReturnFeatureType"
        ).text = f"{FEATURE_PREFIX}:{layer.name}"
    _write(ctx, root)


def describe_stored_queries(ctx: RequestContext) -> None:
    """GetFeatureById's parameter and result types."""
    project = require_project(ctx)
    wanted = _requested(ctx)
    for name in wanted:
        if name != GET_FEATURE_BY_ID:
            raise InvalidParameterValueError(
                f"Unknown stored query {name!r}", locator="STOREDQUERY_ID"
            )
    root = etree.Element(
        f"{{{_WFS}}}DescribeStoredQueriesResponse",
        nsmap={
            "wfs": _WFS,
            "xsd": "http://www.w3.org/2001/XMLSchema",
            FEATURE_PREFIX: feature_namespace(project),
        },
    )
    description = etree.SubElement(root, f"{{{_WFS}}}StoredQueryDescription", id=GET_FEATURE_BY_ID)
    etree.SubElement(description, f"{{{_WFS}}}Title").text = _TITLE
    etree.SubElement(
        description, f"{{{_WFS}}}Abstract"
    ).text = "Returns the single feature whose identifier (type.id) is given."
    etree.SubElement(description, f"{{{_WFS}}}Parameter", name="id", type="xsd:string")
    names = " ".join(f"{FEATURE_PREFIX}:{layer.name}" for layer in published_layers(ctx, project))
    expression = etree.SubElement(
        description,
        f"{{{_WFS}}}QueryExpressionText",
        returnFeatureTypes=names,
        isPrivate="true",
        language="urn:ogc:def:queryLanguage:OGC-WFS::WFSQueryExpression",
    )
    expression.text = ""
    _write(ctx, root)


def _requested(ctx: RequestContext) -> list[str]:
    params = ctx.request.params
    if "REQUEST_BODY" in params:
        root = parse_body(params["REQUEST_BODY"], ctx.request.xml_limits)
        return [text(c) for c in children(root) if local(c) == "StoredQueryId"]
    return [v.strip() for v in params.get("STOREDQUERY_ID", "").split(",") if v.strip()]


def _write(ctx: RequestContext, root: etree._Element) -> None:
    ctx.response.set_header("Content-Type", "text/xml; charset=utf-8")
    ctx.response.write(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
