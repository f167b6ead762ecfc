"""GML 3.2, 3.1.1 and 2.1.2 features as text: string templates, coordinates by GEOS.

No element tree per feature (render_bench §6: lxml's incremental writer is 2.5x slower):
`shapely.to_wkt` formats the coordinates of a whole batch in C, and the WKT is cut into
posList / coordinates strings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from ogcserve.features import FieldType

from .formats import OutputFormat
from .gml_numbers import sequences_text

GML_URI = {
    OutputFormat.GML32: "http://www.opengis.net/gml/3.2",
    OutputFormat.GML31: "http://www.opengis.net/gml",
    OutputFormat.GML2: "http://www.opengis.net/gml",
}

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})


def escape(value: str) -> str:
    """Text and attribute values."""
    return value.translate(_ESCAPES)


def value_text(value: Any) -> str:
    """An attribute value as xsd text."""
    return escape(_raw_text(value))


def _raw_text(value: Any) -> str:
    """An attribute value as xsd text, not yet escaped."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


def column_elements(tag: str, values: list[Any], kind: FieldType) -> list[str]:
    """`<tag>value</tag>` for each value of a column ('' for nulls), formatted per type once
    per batch rather than dispatched per value."""
    start, end = f"<{tag}>", f"</{tag}>"
    # One type throughout, no nulls (most columns): one pass, whatever the declared type.
    types = set(map(type, values))
    if types == {int} or types == {float}:
        return [f"{start}{v!r}{end}" for v in values]
    if types == {str}:
        escaped = "\x00".join(values).translate(_ESCAPES).split("\x00")
        if len(escaped) == len(values):
            return [f"{start}{t}{end}" for t in escaped]
    if kind in (FieldType.INTEGER, FieldType.TEXT):
        # Integers need no escaping; text is escaped for the whole column in one translate
        # (NUL, which XML cannot carry anyway, separates the values). Other types still get
        # through (SQLite's loose typing) by value_text.
        texts = [
            v
            if type(v) is str
            else (str(v) if type(v) is int else (_raw_text(v) if v is not None else ""))
            for v in values
        ]
        if kind is FieldType.TEXT or any(type(v) is str for v in values):
            escaped = "\x00".join(texts).translate(_ESCAPES).split("\x00")
            texts = escaped if len(escaped) == len(texts) else [escape(t) for t in texts]
        return [
            f"{start}{t}{end}" if v is not None else "" for t, v in zip(texts, values, strict=True)
        ]
    if kind is FieldType.REAL:
        return [
            f"{start}{v!r}{end}"
            if type(v) is float
            else (f"{start}{value_text(v)}{end}" if v is not None else "")
            for v in values
        ]
    return [f"{start}{value_text(v)}{end}" if v is not None else "" for v in values]


def wkt_batch(
    geometries: npt.NDArray[np.object_], precision: int | None = None
) -> list[str | None]:
    """WKT of a batch, 2D, at full precision or with at most `precision` decimals; None for
    missing geometries."""
    texts = shapely.to_wkt(
        geometries,
        rounding_precision=-1 if precision is None else precision,
        trim=True,
        output_dimension=2,
    )
    return list(texts)


@dataclass(frozen=True, slots=True)
class GeometryTexts:
    """A batch's geometries as text (WKT or GeoJSON), written by GEOS in one call, and their
    shapely type ids (-1 missing, -2 empty)."""

    texts: list[str | None]
    kinds: npt.NDArray[np.int64]

    @classmethod
    def wkt(
        cls, geometries: npt.NDArray[np.object_], precision: int | None = None
    ) -> GeometryTexts:
        """WKT, 2D, with at most `precision` decimals (None: full precision)."""
        return cls(wkt_batch(geometries, precision), _kinds(geometries))


def _kinds(geometries: npt.NDArray[np.object_]) -> npt.NDArray[np.int64]:
    kinds: npt.NDArray[np.int64] = np.where(
        shapely.is_empty(geometries), -2, shapely.get_type_id(geometries)
    )
    return kinds


def _coordinates(text: str, fmt: OutputFormat) -> str:
    """WKT coordinates `x y, x y` as a posList `x y x y` or GML 2 `x,y x,y`."""
    if fmt is OutputFormat.GML2:
        return _gml2_coordinates(text)
    return _poslist(text)


def _poslist(text: str) -> str:
    return text.replace(",", "")


def _gml2_coordinates(text: str) -> str:
    return text.replace(", ", "|").replace(" ", ",").replace("|", " ")


# The shapes most features have, written from one template per batch (`write_many`): shapely
# type -> (WKT name, a WKT body with a coordinates marker, where the coordinates start and end
# in the WKT, text that means the shape has more than one ring or part).
_COORDS, _GID = "\x00", "\x01"
_SIMPLE: dict[int, tuple[str, str, int, int, str | None]] = {
    shapely.GeometryType.POINT: ("POINT", f"({_COORDS})", 7, -1, None),
    shapely.GeometryType.LINESTRING: ("LINESTRING", f"({_COORDS})", 12, -1, None),
    shapely.GeometryType.POLYGON: ("POLYGON", f"(({_COORDS}))", 10, -2, "), ("),
    shapely.GeometryType.MULTIPOLYGON: ("MULTIPOLYGON", f"((({_COORDS})))", 16, -3, "), ("),
}


class GeometryWriter:
    """Writes geometries in one GML flavour, with one srsName."""

    def __init__(self, fmt: OutputFormat, srs_name: str) -> None:
        self.fmt = fmt
        self.srs = escape(srs_name)
        self.v32 = fmt is OutputFormat.GML32
        self.v2 = fmt is OutputFormat.GML2
        self._writers: dict[str, Callable[[str, str], str]] = {
            "POINT": self.point,
            "LINESTRING": self.line,
            "POLYGON": self.polygon,
            "MULTIPOINT": self.multipoint,
            "MULTILINESTRING": self.multiline,
            "MULTIPOLYGON": self.multipolygon,
        }
        # The templates come from the writers themselves, fed markers: both paths write the
        # same bytes. (pieces around the gml:ids, WKT slice, nesting sign, text after.)
        self._templates: dict[int, tuple[list[str], int, int, str | None, str]] = {}
        for kind, (name, body, start, end, nested) in _SIMPLE.items():
            head, tail = self._writers[name](body, _GID).split(_COORDS)
            self._templates[kind] = (head.split(_GID), start, end, nested, tail)

    def write_many(self, texts: GeometryTexts, gids: Sequence[str]) -> list[str]:
        """The GML of each geometry of a batch ('' for none or empty); `gids` as in `write`.

        Points, lines, and polygons and multipolygons of one ring take a template filled with
        string slices of the batch's WKT: the per-feature Python work is one f-string.
        """
        wkts, kinds = texts.texts, texts.kinds
        out = [""] * len(wkts)
        convert = _gml2_coordinates if self.v2 else _poslist
        for kind, (pieces, start, end, nested, tail) in self._templates.items():
            for i in np.flatnonzero(kinds == kind).tolist():
                wkt = wkts[i]
                if wkt is None:
                    continue
                if nested is not None and nested in wkt:
                    out[i] = self.write(wkt, gids[i])
                else:
                    out[i] = f"{gids[i].join(pieces)}{convert(wkt[start:end])}{tail}"
        for i in np.flatnonzero(~np.isin(kinds, list(self._templates)) & (kinds >= 0)).tolist():
            out[i] = self.write(wkts[i], gids[i])
        return out

    def write_batch(
        self, geometries: npt.NDArray[np.object_], precision: int | None, gids: Sequence[str]
    ) -> list[str]:
        """`write_many` of the batch's WKT, the same bytes (`write_parts` joined)."""
        return list(map("".join, zip(*self.write_parts(geometries, precision, gids), strict=True)))

    def write_parts(
        self,
        geometries: npt.NDArray[np.object_],
        precision: int | None,
        gids: Sequence[str],
        start: str = "",
        end: str = "",
    ) -> list[Iterable[str]]:
        """The GML of each geometry of a batch between `start` and `end` ('' for none or
        empty), as pieces to be zipped and joined (`write_many`'s bytes).

        In GML 3, a batch of points or lines or of polygons (or multipolygons of one polygon)
        of one ring has its coordinates formatted for all features at once (gml_numbers.py,
        unless GEOS's text could differ) and the pieces are the template's text repeated, the
        gml:ids and the coordinates: no Python work per feature. Other batches: their WKT."""
        kinds = _kinds(geometries)
        kind = int(kinds[0]) if len(kinds) else -1
        rings = geometries
        if (
            kind == shapely.GeometryType.MULTIPOLYGON
            and (shapely.get_num_geometries(geometries) == 1).all()
        ):
            kind, rings = shapely.GeometryType.POLYGON, shapely.get_geometry(geometries, 0)
        # One sequence of coordinates per geometry.
        single = kind in (shapely.GeometryType.POINT, shapely.GeometryType.LINESTRING) or (
            kind == shapely.GeometryType.POLYGON and not shapely.get_num_interior_rings(rings).any()
        )
        n = len(kinds)
        if single and not self.v2 and (kinds == kinds[0]).all() and not shapely.has_z(rings).any():
            bounds = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(shapely.get_num_coordinates(geometries), out=bounds[1:])
            texts = sequences_text(shapely.get_coordinates(geometries), bounds, precision)
            if texts is not None:
                pieces, _, _, _, tail = self._templates[int(kinds[0])]
                parts: list[Iterable[str]] = [repeat(start + pieces[0], n)]
                for piece in pieces[1:]:
                    parts += [gids, repeat(piece, n)]
                return [*parts, texts, repeat(tail + end, n)]
        gml = self.write_many(GeometryTexts(wkt_batch(geometries, precision), kinds), gids)
        return [[f"{start}{g}{end}" if g else "" for g in gml]]

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
        parts = [
            f"<gml:{outer}><gml:LinearRing>{self._list(rings[0])}</gml:LinearRing></gml:{outer}>"
        ]
        parts.extend(
            f"<gml:{hole}><gml:LinearRing>{self._list(r)}</gml:LinearRing></gml:{hole}>"
            for r in rings[1:]
        )
        return "".join(parts)

    def polygon(self, body: str, gid: str, top: bool = True) -> str:
        return f"{self._open('Polygon', gid, top)}{self._rings(body[2:-2])}</gml:Polygon>"

    def multipoint(self, body: str, gid: str) -> str:
        members = body[2:-2].split("), (")
        inner = "".join(
            f"<gml:pointMember>{self.point('(' + m + ')', f'{gid}.{i}', False)}</gml:pointMember>"
            for i, m in enumerate(members)
        )
        return f"{self._open('MultiPoint', gid, True)}{inner}</gml:MultiPoint>"

    def multiline(self, body: str, gid: str) -> str:
        name, member = (
            ("MultiLineString", "lineStringMember") if self.v2 else ("MultiCurve", "curveMember")
        )
        members = body[2:-2].split("), (")
        inner = "".join(
            f"<gml:{member}>{self.line('(' + m + ')', f'{gid}.{i}', False)}</gml:{member}>"
            for i, m in enumerate(members)
        )
        return f"{self._open(name, gid, True)}{inner}</gml:{name}>"

    def multipolygon(self, body: str, gid: str) -> str:
        if ")), ((" not in body and "), (" not in body:
            # One polygon, no holes (most features): one template, no splitting.
            name, member = (
                ("MultiPolygon", "polygonMember") if self.v2 else ("MultiSurface", "surfaceMember")
            )
            ring = self._list(body[3:-3])
            if self.v2:
                return (
                    f'<gml:{name} srsName="{self.srs}"><gml:{member}><gml:Polygon>'
                    f"<gml:outerBoundaryIs><gml:LinearRing>{ring}</gml:LinearRing>"
                    f"</gml:outerBoundaryIs></gml:Polygon></gml:{member}></gml:{name}>"
                )
            ident = f' gml:id="{gid}"' if self.v32 else ""
            inner = f' gml:id="{gid}.0"' if self.v32 else ""
            return (
                f'<gml:{name}{ident} srsName="{self.srs}"><gml:{member}><gml:Polygon{inner}>'
                f"<gml:exterior><gml:LinearRing>{ring}</gml:LinearRing></gml:exterior>"
                f"</gml:Polygon></gml:{member}></gml:{name}>"
            )
        return self._multipolygon(body, gid)

    def _multipolygon(self, body: str, gid: str) -> str:
        name, member = (
            ("MultiPolygon", "polygonMember") if self.v2 else ("MultiSurface", "surfaceMember")
        )
        members = body[3:-3].split(")), ((")
        inner = "".join(
            f"<gml:{member}>{self._open('Polygon', f'{gid}.{i}', False)}{self._rings(m)}"
            f"</gml:Polygon></gml:{member}>"
            for i, m in enumerate(members)
        )
        return f"{self._open(name, gid, True)}{inner}</gml:{name}>"


def geometry_type_name(geometry_type: str | None, fmt: OutputFormat) -> str:
    """The GML property type of a layer's geometry column (DescribeFeatureType)."""
    kind = (geometry_type or "GEOMETRY").upper()
    if fmt is OutputFormat.GML2:
        names = {
            "POINT": "PointPropertyType",
            "LINESTRING": "LineStringPropertyType",
            "POLYGON": "PolygonPropertyType",
            "MULTIPOINT": "MultiPointPropertyType",
            "MULTILINESTRING": "MultiLineStringPropertyType",
            "MULTIPOLYGON": "MultiPolygonPropertyType",
        }
    else:
        names = {
            "POINT": "PointPropertyType",
            "LINESTRING": "CurvePropertyType",
            "POLYGON": "SurfacePropertyType",
            "MULTIPOINT": "MultiPointPropertyType",
            "MULTILINESTRING": "MultiCurvePropertyType",
            "MULTIPOLYGON": "MultiSurfacePropertyType",
        }
    return names.get(kind, "GeometryPropertyType")
