"""GML 3.2, 3.1.1 and 2.1.2 features as text: string templates, coordinates by GEOS.

No element tree per feature (render_bench §6: lxml's incremental writer is 2.5x slower):
`shapely.to_wkt` formats the coordinates of a whole batch in C, and the WKT is cut into
posList / coordinates strings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from ogcserve.sources.base import FieldType

from .params import OutputFormat

GML_URI = {OutputFormat.GML32: "http://www.opengis.net/gml/3.2",
           OutputFormat.GML31: "http://www.opengis.net/gml",
           OutputFormat.GML2: "http://www.opengis.net/gml"}

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})


def escape(value: str) -> str:
    """Text and attribute values."""
    return value.translate(_ESCAPES)


def value_text(value: Any) -> str:
    """An attribute value as xsd text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return escape(str(value))


def column_elements(tag: str, values: list[Any], kind: FieldType) -> list[str]:
    """`<tag>value</tag>` for each value of a column ('' for nulls), formatted per type once
    per batch rather than dispatched per value."""
    start, end = f"<{tag}>", f"</{tag}>"
    if kind in (FieldType.INTEGER, FieldType.TEXT):
        # str() then escape also covers values of another type (SQLite's loose typing).
        return [f"{start}{str(v).translate(_ESCAPES)}{end}"
                if v is not None and type(v) is not bool else
                (f"{start}{value_text(v)}{end}" if v is not None else "") for v in values]
    if kind is FieldType.REAL:
        return [f"{start}{v!r}{end}" if type(v) is float else
                (f"{start}{value_text(v)}{end}" if v is not None else "") for v in values]
    return [f"{start}{value_text(v)}{end}" if v is not None else "" for v in values]


def wkt_batch(geometries: npt.NDArray[np.object_]) -> list[str | None]:
    """WKT of a batch at full precision, 2D; None for missing geometries."""
    texts = shapely.to_wkt(geometries, rounding_precision=-1, output_dimension=2)
    return list(texts)


def _coordinates(text: str, fmt: OutputFormat) -> str:
    """WKT coordinates `x y, x y` as a posList `x y x y` or GML 2 `x,y x,y`."""
    if fmt is OutputFormat.GML2:
        return text.replace(", ", "|").replace(" ", ",").replace("|", " ")
    return text.replace(",", "")


class GeometryWriter:
    """Writes one geometry per call, in one GML flavour, with one srsName."""

    def __init__(self, fmt: OutputFormat, srs_name: str) -> None:
        self.fmt = fmt
        self.srs = escape(srs_name)
        self.v32 = fmt is OutputFormat.GML32
        self.v2 = fmt is OutputFormat.GML2
        self._writers: dict[str, Callable[[str, str], str]] = {
            "POINT": self.point, "LINESTRING": self.line, "POLYGON": self.polygon,
            "MULTIPOINT": self.multipoint, "MULTILINESTRING": self.multiline,
            "MULTIPOLYGON": self.multipolygon,
        }

    def write(self, wkt: str | None, gid: str) -> str:
        """The GML of a WKT geometry ('' for none or empty); `gid` seeds the gml:ids (3.2)."""
        if wkt is None:
            return ""
        kind, _, body = wkt.partition(" ")
        if body.startswith("EMPTY") or body.startswith("Z") or body.startswith("M"):
            return ""
        writer = self._writers.get(kind)
        if writer is None:  # GeometryCollection: not a simple feature geometry
            return ""
        return writer(body, gid)

    def _open(self, name: str, gid: str, top: bool) -> str:
        ident = f' gml:id="{gid}"' if self.v32 else ""
        srs = f' srsName="{self.srs}"' if top else ""
        return f"<gml:{name}{ident}{srs}>"

    def _pos(self, coords: str) -> str:
        if self.v2:
            return f"<gml:coordinates>{_coordinates(coords, self.fmt)}</gml:coordinates>"
        return f"<gml:pos>{coords}</gml:pos>"

    def _list(self, coords: str) -> str:
        if self.v2:
            return f"<gml:coordinates>{_coordinates(coords, self.fmt)}</gml:coordinates>"
        return f"<gml:posList>{_coordinates(coords, self.fmt)}</gml:posList>"

    def point(self, body: str, gid: str, top: bool = True) -> str:
        return f"{self._open('Point', gid, top)}{self._pos(body[1:-1])}</gml:Point>"

    def line(self, body: str, gid: str, top: bool = True) -> str:
        return f"{self._open('LineString', gid, top)}{self._list(body[1:-1])}</gml:LineString>"

    def _rings(self, inner: str) -> str:
        rings = inner.split("), (")
        if self.v2:
            outer, hole = "outerBoundaryIs", "innerBoundaryIs"
        else:
            outer, hole = "exterior", "interior"
        parts = [f"<gml:{outer}><gml:LinearRing>{self._list(rings[0])}</gml:LinearRing>"
                 f"</gml:{outer}>"]
        parts.extend(f"<gml:{hole}><gml:LinearRing>{self._list(r)}</gml:LinearRing>"
                     f"</gml:{hole}>" for r in rings[1:])
        return "".join(parts)

    def polygon(self, body: str, gid: str, top: bool = True) -> str:
        return f"{self._open('Polygon', gid, top)}{self._rings(body[2:-2])}</gml:Polygon>"

    def multipoint(self, body: str, gid: str) -> str:
        members = body[2:-2].split("), (")
        inner = "".join(
            f"<gml:pointMember>{self.point('(' + m + ')', f'{gid}.{i}', False)}</gml:pointMember>"
            for i, m in enumerate(members))
        return f"{self._open('MultiPoint', gid, True)}{inner}</gml:MultiPoint>"

    def multiline(self, body: str, gid: str) -> str:
        name, member = ("MultiLineString", "lineStringMember") if self.v2 else \
            ("MultiCurve", "curveMember")
        members = body[2:-2].split("), (")
        inner = "".join(
            f"<gml:{member}>{self.line('(' + m + ')', f'{gid}.{i}', False)}</gml:{member}>"
            for i, m in enumerate(members))
        return f"{self._open(name, gid, True)}{inner}</gml:{name}>"

    def multipolygon(self, body: str, gid: str) -> str:
        if ")), ((" not in body and "), (" not in body:
            # One polygon, no holes (most features): one template, no splitting.
            name, member = ("MultiPolygon", "polygonMember") if self.v2 else \
                ("MultiSurface", "surfaceMember")
            ring = self._list(body[3:-3])
            if self.v2:
                return (f'<gml:{name} srsName="{self.srs}"><gml:{member}><gml:Polygon>'
                        f"<gml:outerBoundaryIs><gml:LinearRing>{ring}</gml:LinearRing>"
                        f"</gml:outerBoundaryIs></gml:Polygon></gml:{member}></gml:{name}>")
            ident = f' gml:id="{gid}"' if self.v32 else ""
            inner = f' gml:id="{gid}.0"' if self.v32 else ""
            return (f'<gml:{name}{ident} srsName="{self.srs}"><gml:{member}><gml:Polygon{inner}>'
                    f"<gml:exterior><gml:LinearRing>{ring}</gml:LinearRing></gml:exterior>"
                    f"</gml:Polygon></gml:{member}></gml:{name}>")
        return self._multipolygon(body, gid)

    def _multipolygon(self, body: str, gid: str) -> str:
        name, member = ("MultiPolygon", "polygonMember") if self.v2 else \
            ("MultiSurface", "surfaceMember")
        members = body[3:-3].split(")), ((")
        inner = "".join(
            f"<gml:{member}>{self._open('Polygon', f'{gid}.{i}', False)}{self._rings(m)}"
            f"</gml:Polygon></gml:{member}>"
            for i, m in enumerate(members))
        return f"{self._open(name, gid, True)}{inner}</gml:{name}>"


def geometry_type_name(geometry_type: str | None, fmt: OutputFormat) -> str:
    """The GML property type of a layer's geometry column (DescribeFeatureType)."""
    kind = (geometry_type or "GEOMETRY").upper()
    if fmt is OutputFormat.GML2:
        names = {"POINT": "PointPropertyType", "LINESTRING": "LineStringPropertyType",
                 "POLYGON": "PolygonPropertyType", "MULTIPOINT": "MultiPointPropertyType",
                 "MULTILINESTRING": "MultiLineStringPropertyType",
                 "MULTIPOLYGON": "MultiPolygonPropertyType"}
    else:
        names = {"POINT": "PointPropertyType", "LINESTRING": "CurvePropertyType",
                 "POLYGON": "SurfacePropertyType", "MULTIPOINT": "MultiPointPropertyType",
                 "MULTILINESTRING": "MultiCurvePropertyType",
                 "MULTIPOLYGON": "MultiSurfacePropertyType"}
    return names.get(kind, "GeometryPropertyType")
