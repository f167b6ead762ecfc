"""WFS output formats: the names clients send for each, what each version advertises, and the
OUTPUTFORMAT parser."""

from __future__ import annotations

from enum import StrEnum

from ogcserve.errors import InvalidFormatError


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
