"""DescribeFeatureType (WFS 2.0.0 §9, 1.1.0 §8, 1.0.0 §8): an XML Schema of the caller's view.

Unlike QGIS Server (reference §4.2), attributes the caller may not see are not in the schema
either: it is built from `data.schema`, which already dropped them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from lxml import etree

from ogcserve.errors import InvalidFormatError
from ogcserve.features import FieldType

from .formats import OutputFormat
from .gml_write import geometry_type_name
from .layers import feature_layer, published_layers, require_project
from .output import CONTENT_TYPES
from .params import FEATURE_PREFIX, feature_namespace, split_list
from .xml_input import children, local, parse_body, text

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.projects.model import Layer

XSD = "http://www.w3.org/2001/XMLSchema"
_XSD_TYPES = {
    FieldType.INTEGER: "xsd:long",
    FieldType.REAL: "xsd:double",
    FieldType.TEXT: "xsd:string",
    FieldType.BOOLEAN: "xsd:boolean",
    FieldType.DATE: "xsd:date",
    FieldType.DATETIME: "xsd:dateTime",
    FieldType.BINARY: "xsd:hexBinary",
}
_JSON_TYPES = {
    FieldType.INTEGER: "integer",
    FieldType.REAL: "number",
    FieldType.TEXT: "string",
    FieldType.BOOLEAN: "boolean",
    FieldType.DATE: "string",
    FieldType.DATETIME: "string",
    FieldType.BINARY: "string",
}
_GML = {
    OutputFormat.GML32: (
        "http://www.opengis.net/gml/3.2",
        "http://schemas.opengis.net/gml/3.2.1/gml.xsd",
    ),
    OutputFormat.GML31: (
        "http://www.opengis.net/gml",
        "http://schemas.opengis.net/gml/3.1.1/base/gml.xsd",
    ),
    OutputFormat.GML2: (
        "http://www.opengis.net/gml",
        "http://schemas.opengis.net/gml/2.1.2/feature.xsd",
    ),
}


def describe_feature_type(ctx: RequestContext) -> None:
    """Answer DescribeFeatureType."""
    project = require_project(ctx)
    version = ctx.request.parameter("VERSION").strip() or "2.0.0"
    names, output_format = _requested(ctx)
    # A named type the caller may not read is 403 (QGIS too); no names: every readable type.
    layers = (
        [feature_layer(ctx, project, n, "TYPENAMES") for n in names]
        if names
        else published_layers(ctx, project)
    )
    fmt = _format(output_format, version)
    if fmt is None:
        # As advertised: application/json when asked so, else the JSON Schema media type.
        plain = output_format.strip().lower() in ("application/json", "json")
        ctx.response.set_header(
            "Content-Type", "application/json" if plain else "application/schema+json"
        )
        ctx.response.write(orjson.dumps(_json_schema(ctx, layers), option=orjson.OPT_INDENT_2))
        return
    namespace = feature_namespace(project)
    gml_ns, gml_xsd = _GML[fmt]
    root = etree.Element(
        f"{{{XSD}}}schema", nsmap={"xsd": XSD, "gml": gml_ns, FEATURE_PREFIX: namespace}
    )
    root.set("targetNamespace", namespace)
    root.set("elementFormDefault", "qualified")
    root.set("version", "1.0")
    etree.SubElement(root, f"{{{XSD}}}import", namespace=gml_ns, schemaLocation=gml_xsd)
    for layer in layers:
        schema = ctx.server.access.schema(ctx, layer)
        type_name = f"{layer.name}Type"
        complex_type = etree.SubElement(root, f"{{{XSD}}}complexType", name=type_name)
        content = etree.SubElement(complex_type, f"{{{XSD}}}complexContent")
        extension = etree.SubElement(content, f"{{{XSD}}}extension", base="gml:AbstractFeatureType")
        sequence = etree.SubElement(extension, f"{{{XSD}}}sequence")
        if schema.geometry_field:
            etree.SubElement(
                sequence,
                f"{{{XSD}}}element",
                name=schema.geometry_field,
                type=f"gml:{geometry_type_name(schema.geometry_type, fmt)}",
                minOccurs="0",
                maxOccurs="1",
                nillable="true",
            )
        for field in schema.fields:
            etree.SubElement(
                sequence,
                f"{{{XSD}}}element",
                name=field.name,
                type=_XSD_TYPES[field.type],
                minOccurs="0",
                maxOccurs="1",
                nillable="true" if field.nullable else "false",
            )
        head = "gml:AbstractFeature" if fmt is OutputFormat.GML32 else "gml:_Feature"
        etree.SubElement(
            root,
            f"{{{XSD}}}element",
            name=layer.name,
            type=f"{FEATURE_PREFIX}:{type_name}",
            substitutionGroup=head,
        )
    # The media type of the schema's GML, as the capabilities advertise it.
    ctx.response.set_header("Content-Type", CONTENT_TYPES[fmt])
    ctx.response.write(
        etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    )


def _requested(ctx: RequestContext) -> tuple[list[str], str]:
    """The type names and OUTPUTFORMAT, from KVP or from the XML body."""
    params = ctx.request.params
    if "REQUEST_BODY" in params:
        root = parse_body(params["REQUEST_BODY"], ctx.request.xml_limits)
        return (
            [text(c) for c in children(root) if local(c) == "TypeName"],
            root.get("outputFormat", ""),
        )
    names = split_list(params.get("TYPENAMES") or params.get("TYPENAME") or "")
    return names, params.get("OUTPUTFORMAT", "")


def _format(value: str, version: str) -> OutputFormat | None:
    """The GML flavour of the schema (None: JSON schema)."""
    key = value.strip().lower().replace(" ", "")
    if key in ("application/json", "application/schema+json", "json", "geojson"):
        return None
    if not key:
        return {"2.0.0": OutputFormat.GML32, "1.1.0": OutputFormat.GML31}.get(
            version, OutputFormat.GML2
        )
    if key in ("xmlschema", "text/xml;subtype=gml/2.1.2", "gml2"):
        return (
            OutputFormat.GML2
            if version == "1.0.0" or key != "xmlschema"
            else {"2.0.0": OutputFormat.GML32, "1.1.0": OutputFormat.GML31}[version]
        )
    if "3.2" in key:
        return OutputFormat.GML32
    if "3.1" in key or key == "gml3":
        return OutputFormat.GML31
    raise InvalidFormatError(f"Output format {value!r} is not offered", locator="OUTPUTFORMAT")


def _json_schema(ctx: RequestContext, layers: list[Layer]) -> dict[str, Any]:
    """A JSON Schema of each type's GeoJSON properties (what OUTPUTFORMAT=geojson returns)."""
    types = {}
    for layer in layers:
        schema = ctx.server.access.schema(ctx, layer)
        properties = {
            f.name: {"type": [_JSON_TYPES[f.type], *(["null"] if f.nullable else [])]}
            | ({"format": "date"} if f.type is FieldType.DATE else {})
            | ({"format": "date-time"} if f.type is FieldType.DATETIME else {})
            for f in schema.fields
        }
        types[layer.name] = {
            "type": "object",
            "title": layer.title,
            "properties": {
                "type": {"const": "Feature"},
                "id": {"type": "string"},
                "geometry": {
                    "x-ogc-geometry-type": schema.geometry_type,
                    "type": ["object", "null"],
                },
                "properties": {
                    "type": "object",
                    "properties": properties,
                    "additionalProperties": False,
                },
            },
        }
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "featureTypes": types}
