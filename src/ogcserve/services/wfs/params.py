"""WFS strings in one place (versions, formats, namespaces) and the KVP value parsers they share."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from ogcserve.access.layer import MAX_OFFSET
from ogcserve.errors import (
    InvalidFormatError,
    InvalidParameterValueError,
    LayerNotDefinedError,
    NotFoundError,
)
from ogcserve.features import SortKey

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.projects.model import Layer, Project

VERSIONS = ("2.0.0", "1.1.0", "1.0.0")
FEATURE_PREFIX = "ogcserve"
CHUNK = 1000  # features per flush (DESIGN §2: stream in chunks, never per feature)
MAX_QUERIES = 20  # typenames in one GetFeature; each may hold a database cursor


def feature_namespace(project: Project) -> str:
    """The target namespace of a project's feature types."""
    return f"https://ogcserve.org/{project.name}"


class OutputFormat(StrEnum):
    """What GetFeature can write."""

    GML32 = "application/gml+xml; version=3.2"
    GML31 = "text/xml; subtype=gml/3.1.1"
    GML2 = "text/xml; subtype=gml/2.1.2"
    GEOJSON = "application/geo+json"
    CSV = "text/csv"

    @property
    def is_gml(self) -> bool:
        """GML formats share one writer."""
        return self in (OutputFormat.GML32, OutputFormat.GML31, OutputFormat.GML2)


DEFAULT_FORMAT = {
    "2.0.0": OutputFormat.GML32,
    "1.1.0": OutputFormat.GML31,
    "1.0.0": OutputFormat.GML2,
}

# Names clients send, lower-cased without spaces, for each format.
_FORMAT_NAMES = {
    OutputFormat.GML32: (
        "application/gml+xml;version=3.2",
        "text/xml;subtype=gml/3.2",
        "text/xml;subtype=gml/3.2.1",
        "gml32",
        "gml3.2",
        "application/gml+xml;version=3.2.1",
    ),
    OutputFormat.GML31: (
        "text/xml;subtype=gml/3.1.1",
        "gml3",
        "gml31",
        "application/gml+xml;version=3.1",
        "text/xml;subtype=gml/3.1",
    ),
    OutputFormat.GML2: (
        "text/xml;subtype=gml/2.1.2",
        "gml2",
        "text/xml;subtype=gml/2",
        "application/gml+xml;version=2.1",
    ),
    OutputFormat.GEOJSON: (
        "application/geo+json",
        "application/json",
        "geojson",
        "json",
        "application/vnd.geo+json",
    ),
    OutputFormat.CSV: ("text/csv", "csv"),
}
_BY_NAME = {name: fmt for fmt, names in _FORMAT_NAMES.items() for name in names}

# The names each version advertises (WFS 1.0.0 §8.2 uses GML2/GML3 keywords).
ADVERTISED_FORMATS = {
    "2.0.0": (
        "application/gml+xml; version=3.2",
        "text/xml; subtype=gml/3.2",
        "text/xml; subtype=gml/3.1.1",
        "text/xml; subtype=gml/2.1.2",
        "application/json",
        "application/geo+json",
        "text/csv",
    ),
    "1.1.0": (
        "text/xml; subtype=gml/3.1.1",
        "text/xml; subtype=gml/3.2",
        "text/xml; subtype=gml/2.1.2",
        "application/json",
        "text/csv",
    ),
    "1.0.0": ("GML2", "GML3", "application/json", "text/csv"),
}


def output_format(value: str, version: str, locator: str = "OUTPUTFORMAT") -> OutputFormat:
    """The format named by OUTPUTFORMAT (empty: the version's default)."""
    if not value.strip():
        return DEFAULT_FORMAT[version]
    key = value.strip().lower().replace(" ", "").replace('"', "")
    found = _BY_NAME.get(key)
    if found is None:
        raise InvalidFormatError(f"Output format {value!r} is not offered", locator=locator)
    return found


def media_type(value: str, fmt: OutputFormat) -> str | None:
    """The Content-Type answering OUTPUTFORMAT `value`, when it is not CONTENT_TYPES[fmt]: a
    format asked for by one of its media types is answered with that media type (as advertised:
    `text/xml; subtype=gml/3.2`, `application/json`...), so that what the capabilities list,
    the client asks for and the answer says agree; `json` is application/json."""
    key = value.strip().lower().replace(" ", "").replace('"', "")
    if _BY_NAME.get(key) is not fmt:
        return None
    if key == "json":
        return "application/json"
    return key.replace(";", "; ") if "/" in key else None


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


def feature_layer(ctx: RequestContext, project: Project, name: str, locator: str) -> Layer:
    """A feature type the caller may read: unknown, raster or unpublished types do not exist
    (LayerNotDefined), readable ones that the caller may not read are 403 (access layer)."""
    layer = project.layer(type_name(name))
    if layer is None or layer.is_group or layer.is_raster or not layer.wfs.publish:
        raise LayerNotDefinedError(f"Unknown feature type {name!r}", locator=locator)
    return ctx.server.access.layer(ctx, project, layer.name)


def published_layers(ctx: RequestContext, project: Project) -> list[Layer]:
    """The feature types the caller may read, in project order."""
    out: list[Layer] = []
    for top in ctx.server.access.readable_layers(ctx, project):
        out.extend(
            layer
            for layer in top.walk()
            if not layer.is_group and not layer.is_raster and layer.wfs.publish
        )
    return out


def require_project(ctx: RequestContext) -> Project:
    """The request's project (the pipeline resolved it before the service ran)."""
    if ctx.project is None:
        raise NotFoundError("No project is served here")
    return ctx.project
