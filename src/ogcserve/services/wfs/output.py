"""Feature collections as they stream out: GML (3.2, 3.1.1, 2), GeoJSON and CSV.

A writer gets the collection's header facts up front (`Totals`), then one `FeatureBatch` at a
time, and writes text into the response buffer; the operation flushes every ~1,000 features.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import repeat
from typing import TYPE_CHECKING, Any

import orjson
import shapely

from .crs import SrsName, coordinate_function
from .formats import OutputFormat
from .geojson_features import feature_texts, features_text, json_column, prefixed_ids
from .geojson_write import TextColumn, geojson_column
from .gml_write import GML_URI, GeometryTexts, GeometryWriter, column_elements, escape
from .params import FEATURE_PREFIX
from .xml_input import WFS_NS

if TYPE_CHECKING:
    from ogcserve.access import Read
    from ogcserve.features import FeatureBatch, Schema
    from ogcserve.http.response import ServerResponse
    from ogcserve.projects.model import Layer

XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMAS = {
    "2.0.0": "http://schemas.opengis.net/wfs/2.0/wfs.xsd",
    "1.1.0": "http://schemas.opengis.net/wfs/1.1.0/wfs.xsd",
    "1.0.0": "http://schemas.opengis.net/wfs/1.0.0/WFS-basic.xsd",
}
GML_SCHEMAS = {
    OutputFormat.GML32: "http://schemas.opengis.net/gml/3.2.1/gml.xsd",
    OutputFormat.GML31: "http://schemas.opengis.net/gml/3.1.1/base/gml.xsd",
    OutputFormat.GML2: "http://schemas.opengis.net/gml/2.1.2/feature.xsd",
}
CONTENT_TYPES = {
    OutputFormat.GML32: "application/gml+xml; version=3.2",
    OutputFormat.GML31: "text/xml; subtype=gml/3.1.1",
    OutputFormat.GML2: "text/xml; subtype=gml/2.1.2",
    OutputFormat.GEOJSON: "application/geo+json",
    OutputFormat.CSV: "text/csv; charset=utf-8",
}


@dataclass(frozen=True, slots=True)
class PlannedQuery:
    """One query of a GetFeature, decided: layer, read, output attributes and CRS."""

    layer: Layer
    schema: Schema  # the caller's view: hidden attributes are not in it
    read: Read
    properties: tuple[str, ...]  # output attributes, schema order
    srs: SrsName  # output CRS and axis order
    native_crs: str
    number_matched: str  # exact | estimated | unknown
    precision: int | None = None  # coordinate decimals written (None: full)

    def transform(self) -> Callable[[Any], Any] | None:
        """The coordinate function from the layer's CRS to the output's (None: as stored)."""
        return coordinate_function(self.native_crs, self.srs)


@dataclass(frozen=True, slots=True)
class Totals:
    """What a collection says about itself before its first feature."""

    matched: int | None  # None: unknown
    returned: int | None  # None: not known up front (GeoJSON and CSV count as they go)
    next: str | None = None
    previous: str | None = None


def timestamp() -> str:
    """Now, in xsd:dateTime form."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class CollectionWriter:
    """Base of the writers: begin, batches, end."""

    content_type = ""

    def __init__(self, response: ServerResponse, version: str, fmt: OutputFormat) -> None:
        self.response, self.version, self.fmt = response, version, fmt
        self.written = 0

    def begin(self, totals: Totals, namespace: str, schema_location: str) -> None:
        """The collection's head."""

    def batch(self, query: PlannedQuery, batch: FeatureBatch) -> None:
        """Some features."""

    def texts(self, query: PlannedQuery, batch: FeatureBatch) -> GeometryTexts | None:
        """The batch's geometries in the output CRS as text, all at once (WKT by default;
        None: no geometry)."""
        geoms = self.geometries(query, batch)
        return None if geoms is None else GeometryTexts.wkt(geoms, query.precision)

    def end(self, totals: Totals) -> None:
        """The collection's tail."""

    def geometries(self, query: PlannedQuery, batch: FeatureBatch) -> Any:
        """The batch's geometries in the output CRS and axis order (None: no geometry)."""
        geoms = batch.geometries
        if geoms is None:
            return None
        convert = query.transform()
        return geoms if convert is None else shapely.transform(geoms, convert)


class GMLWriter(CollectionWriter):
    """wfs:FeatureCollection of the request's version, features in the format's GML."""

    def __init__(
        self, response: ServerResponse, version: str, fmt: OutputFormat, *, bare: str | None = None
    ) -> None:
        super().__init__(response, version, fmt)
        self._templates: dict[str, tuple[str, str, GeometryWriter]] = {}
        self.member = "wfs:member" if version == "2.0.0" else "gml:featureMember"
        # `bare`: write features without member wrappers, with these namespace declarations
        # on each (GetFeatureById answers a feature alone).
        self.bare = bare

    def begin(self, totals: Totals, namespace: str, schema_location: str) -> None:
        """Root element with the counts the version knows of."""
        wfs = WFS_NS[self.version]
        attrs = [
            f'xmlns:wfs="{wfs}"',
            f'xmlns:gml="{GML_URI[self.fmt]}"',
            f'xmlns:{FEATURE_PREFIX}="{escape(namespace)}"',
            f'xmlns:xsi="{XSI}"',
            f'xsi:schemaLocation="{wfs} {SCHEMAS[self.version]} '
            f"{GML_URI[self.fmt]} {GML_SCHEMAS[self.fmt]} "
            f'{escape(namespace)} {escape(schema_location)}"',
        ]
        if self.version == "2.0.0":
            # WFS 2.0 §11.3.3.5: numberMatched may be "unknown"; numberReturned is required.
            matched = "unknown" if totals.matched is None else str(totals.matched)
            attrs += [
                f'timeStamp="{timestamp()}"',
                f'numberMatched="{matched}"',
                f'numberReturned="{totals.returned or 0}"',
            ]
            if totals.next:
                attrs.append(f'next="{escape(totals.next)}"')
            if totals.previous:
                attrs.append(f'previous="{escape(totals.previous)}"')
        elif self.version == "1.1.0":
            attrs.append(f'timeStamp="{timestamp()}"')
            if totals.returned is not None:
                attrs.append(f'numberOfFeatures="{totals.returned}"')
        head = f'<?xml version="1.0" encoding="UTF-8"?>\n<wfs:FeatureCollection {" ".join(attrs)}>'
        if self.version == "1.0.0":
            # GML 2.1.2 feature.xsd: a collection must have a boundedBy; gml:null says unknown.
            head += "<gml:boundedBy><gml:null>unknown</gml:null></gml:boundedBy>"
        self.response.write(head)

    def _template(self, query: PlannedQuery) -> tuple[str, str, GeometryWriter]:
        name = query.layer.name
        cached = self._templates.get(name)
        if cached is None:
            ident = "fid" if self.fmt is OutputFormat.GML2 else "gml:id"
            if self.bare is None:
                open_ = f'<{self.member}><{FEATURE_PREFIX}:{name} {ident}="{name}.'
                close = f"</{FEATURE_PREFIX}:{name}></{self.member}>"
            else:
                open_ = f'<{FEATURE_PREFIX}:{name} {self.bare} {ident}="{name}.'
                close = f"</{FEATURE_PREFIX}:{name}>"
            cached = (open_, close, GeometryWriter(self.fmt, query.srs.text))
            self._templates[name] = cached
        return cached

    def batch(self, query: PlannedQuery, batch: FeatureBatch) -> None:
        """Members of a batch, built column by column (one list comprehension per attribute)
        and joined row by row in C, so that the per-feature Python work stays small."""
        open_, close, geometry = self._template(query)
        n = len(batch.ids)
        idents = [str(fid) if type(fid) is int else escape(str(fid)) for fid in batch.ids]
        parts: list[Iterable[str]] = [repeat(open_, n), idents, repeat('">', n)]
        geom_tag = query.schema.geometry_field
        geoms = self.geometries(query, batch) if geom_tag else None
        if geoms is not None:
            start, end = f"<{FEATURE_PREFIX}:{geom_tag}>", f"</{FEATURE_PREFIX}:{geom_tag}>"
            prefix = f"{query.layer.name}."
            gids = [f"{prefix}{ident}.g" for ident in idents] if geometry.v32 else [""] * n
            parts += geometry.write_parts(geoms, query.precision, gids, start, end)
        types = {f.name: f.type for f in query.schema.fields}
        for name in query.properties:
            values = batch.columns.get(name)
            if values is not None:
                parts.append(column_elements(f"{FEATURE_PREFIX}:{name}", values, types[name]))
        parts.append(repeat(close, n))
        self.response.write("".join(map("".join, zip(*parts, strict=True))))
        self.written += n

    def end(self, totals: Totals) -> None:
        """Close the root."""
        self.response.write("</wfs:FeatureCollection>\n")


class GeoJSONWriter(CollectionWriter):
    """An RFC 7946 FeatureCollection; the counts go at the end, once known."""

    def begin(self, totals: Totals, namespace: str, schema_location: str) -> None:
        """Open the collection."""
        self.response.write('{"type":"FeatureCollection","features":[')
        self._first = True
        self._crs: str | None = None

    def batch(self, query: PlannedQuery, batch: FeatureBatch) -> None:
        """The batch's features, written as one text."""
        if not len(batch):
            return
        text = features_text(*self._columns(query, batch))
        self.response.write(text if self._first else "," + text)
        self._first = False
        self.written += len(batch)

    def features(self, query: PlannedQuery, batch: FeatureBatch) -> list[bytes]:
        """Each feature of the batch as a GeoJSON Feature."""
        return [text.encode() for text in feature_texts(*self._columns(query, batch))]

    def _columns(
        self, query: PlannedQuery, batch: FeatureBatch
    ) -> tuple[TextColumn, TextColumn | None, list[tuple[str, TextColumn]]]:
        """The batch's ids, geometries (in the output CRS) and attributes as JSON texts."""
        self._crs = query.srs.code
        geometries = None
        if batch.geometries is not None:
            geometries = geojson_column(batch.geometries, None, query.precision, query.transform())
        names = [name for name in query.properties if name in batch.columns]
        columns = [(name, json_column(batch.columns[name])) for name in names]
        return self.ids(query, batch), geometries, columns

    def ids(self, query: PlannedQuery, batch: FeatureBatch) -> TextColumn:
        """The features' `id` members: WFS's `<layer>.<key>`, as its GML ids."""
        return prefixed_ids(f"{query.layer.name}.", batch.ids)

    def end(self, totals: Totals) -> None:
        """Counts, links and the CRS when it is not CRS84."""
        tail: dict[str, Any] = {"numberReturned": self.written, "timeStamp": timestamp()}
        if totals.matched is not None:
            tail["numberMatched"] = totals.matched
        links = [
            {"href": href, "rel": rel, "type": "application/geo+json"}
            for rel, href in (("next", totals.next), ("previous", totals.previous))
            if href
        ]
        if links:
            tail["links"] = links
        if self._crs and self._crs not in ("OGC:CRS84", "EPSG:4326"):
            tail["crs"] = {"type": "name", "properties": {"name": _urn(self._crs)}}
        self.response.write(b"]," + orjson.dumps(tail)[1:])


def _urn(code: str) -> str:
    from .crs import urn

    return urn(code)


class CSVWriter(CollectionWriter):
    """One row per feature: gml_id, attributes, WKT geometry (the header comes from the first
    query). The id column is `gml_id` (the name GDAL's GML reader gives it) so that an attribute
    named `id`, a feature key say, keeps a column of its own."""

    def begin(self, totals: Totals, namespace: str, schema_location: str) -> None:
        """Nothing yet: the header is the first query's columns."""
        self._header: Sequence[str] | None = None

    def batch(self, query: PlannedQuery, batch: FeatureBatch) -> None:
        """Rows through the csv module."""
        buffer = io.StringIO()
        out = csv.writer(buffer, lineterminator="\r\n")
        names = [n for n in query.properties if n in batch.columns]
        if self._header is None:
            self._header = ["gml_id", *names, "geometry"]
            out.writerow(self._header)
        geometry_texts = self.texts(query, batch)
        wkts = geometry_texts.texts if geometry_texts is not None else [None] * len(batch.ids)
        cols = [batch.columns[n] for n in names]
        layer = query.layer.name
        for i, fid in enumerate(batch.ids):
            out.writerow([f"{layer}.{fid}", *(c[i] for c in cols), wkts[i] or ""])
        self.written += len(batch.ids)
        self.response.write(buffer.getvalue())

    def end(self, totals: Totals) -> None:
        """A header even for an empty result."""
        if self._header is None:
            self.response.write("gml_id,geometry\r\n")


def writer_for(response: ServerResponse, version: str, fmt: OutputFormat) -> CollectionWriter:
    """The writer of `fmt`."""
    if fmt.is_gml:
        return GMLWriter(response, version, fmt)
    if fmt is OutputFormat.GEOJSON:
        return GeoJSONWriter(response, version, fmt)
    return CSVWriter(response, version, fmt)
