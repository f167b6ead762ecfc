"""JSON Schemas of a collection as the caller sees it: its queryables (Part 3 §6.3), its
sortables, and the schema of its features. Hidden attributes are in none of them."""

from __future__ import annotations

from typing import Any

from ogcserve.features import Field, FieldType, Schema

_JSON_SCHEMA = "https://json-schema.org/draft/2019-09/schema"
_TYPES: dict[FieldType, dict[str, str]] = {
    FieldType.INTEGER: {"type": "integer"},
    FieldType.REAL: {"type": "number"},
    FieldType.TEXT: {"type": "string"},
    FieldType.BOOLEAN: {"type": "boolean"},
    FieldType.DATE: {"type": "string", "format": "date"},
    FieldType.DATETIME: {"type": "string", "format": "date-time"},
    FieldType.BINARY: {"type": "string", "contentEncoding": "base16"},
}
_GEOMETRIES = {
    "POINT": "point",
    "MULTIPOINT": "multipoint",
    "LINESTRING": "linestring",
    "MULTILINESTRING": "multilinestring",
    "POLYGON": "polygon",
    "MULTIPOLYGON": "multipolygon",
}


def property_schema(field: Field) -> dict[str, Any]:
    """One attribute's schema."""
    return {"title": field.name, **_TYPES[field.type]}


def queryable_fields(schema: Schema) -> list[Field]:
    """Attributes a filter may name: every visible one but binary blobs."""
    return [f for f in schema.fields if f.type is not FieldType.BINARY]


def geometry_schema(schema: Schema) -> dict[str, Any]:
    """The geometry's schema (`format` after Part 3 §6.3's geometry-* names)."""
    kind = _GEOMETRIES.get((schema.geometry_type or "").upper(), "any")
    return {"title": "geometry", "format": f"geometry-{kind}", "x-ogc-role": "primary-geometry"}


def _document(url: str, title: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": _JSON_SCHEMA,
        "$id": url,
        "type": "object",
        "title": title,
        "properties": properties,
        "additionalProperties": False,
    }


def queryables(schema: Schema, url: str, title: str) -> dict[str, Any]:
    """The queryables: the geometry (by its column name) and the visible attributes."""
    properties: dict[str, Any] = {}
    if schema.geometry_field:
        properties[schema.geometry_field] = geometry_schema(schema)
    for field in queryable_fields(schema):
        properties[field.name] = property_schema(field)
    return _document(url, title, properties)


def sortables(schema: Schema, url: str, title: str) -> dict[str, Any]:
    """The attributes `sortby` takes."""
    properties = {f.name: property_schema(f) for f in queryable_fields(schema)}
    return _document(url, title, properties)


def feature_schema(schema: Schema, url: str, title: str) -> dict[str, Any]:
    """The schema of the collection's features' properties, the key marked as the id."""
    properties: dict[str, Any] = {}
    if schema.geometry_field:
        properties[schema.geometry_field] = geometry_schema(schema)
    for field in schema.fields:
        described = property_schema(field)
        if field.name == schema.key:
            described["x-ogc-role"] = "id"
        properties[field.name] = described
    return _document(url, title, properties)
