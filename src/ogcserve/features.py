"""The values that pass between sources, the access layer, services and renderers: a feature
type's `Schema`, a decided read (`FeatureQuery`), its results (`FeatureBatch`, `Feature`).

They depend on nothing of the server, so every layer can use them without depending on the
sources that produce them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from ogcserve.geo.wkb import WKBColumn

BBox = tuple[float, float, float, float]
"""minx, miny, maxx, maxy in the CRS it is given in (x = easting/longitude)."""


class FieldType(StrEnum):
    """Attribute types, as every backend maps its own onto them."""

    INTEGER = "integer"
    REAL = "real"
    TEXT = "text"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    BINARY = "binary"


@dataclass(frozen=True, slots=True)
class Field:
    """One attribute of a feature type."""

    name: str
    type: FieldType
    nullable: bool = True


@dataclass(frozen=True, slots=True)
class Schema:
    """What a feature type is made of: its key, attributes and geometry.

    The key (the feature id: the layer's `key`, else the source's primary key) is one of the
    `fields`, typed as the source types it, as QGIS Server publishes a GeoPackage's fid column
    or a PostGIS primary key. Everything that lists, filters, sorts, hides or writes attributes
    therefore sees it as an attribute like any other; only its values double as the ids
    (`FeatureBatch.ids`). A source's schema always lists it; a caller's view of it (see
    `AccessLayer.schema`) may not, when the key is hidden from them.
    """

    key: str
    fields: tuple[Field, ...]
    geometry_field: str | None
    geometry_type: str | None  # POINT, MULTIPOLYGON, ... (OGC names, upper case)

    def field_names(self) -> list[str]:
        """Attribute names in schema order (the key included, the geometry not)."""
        return [f.name for f in self.fields]


@dataclass(frozen=True, slots=True)
class SortKey:
    """One ORDER BY term."""

    name: str
    descending: bool = False


@dataclass(frozen=True, slots=True)
class FeatureQuery:
    """A read, fully decided: the access layer has already merged the caller's rights into it.

    `filter` is an `ogcserve.expressions.Expression` (pushed into SQL where it translates,
    evaluated in Python otherwise); `subsets` are trusted SQL WHERE fragments for the source's own
    database (from the project or from plugin code, never from a request); `bbox` is in the
    source's CRS.
    """

    bbox: BBox | None = None
    filter: Any | None = None  # ogcserve.expressions.Expression
    subsets: tuple[str, ...] = ()
    properties: tuple[str, ...] | None = None  # None: every field
    sort: tuple[SortKey, ...] = ()
    limit: int | None = None
    offset: int = 0
    with_geometry: bool = True
    ids: tuple[Any, ...] | None = None  # restrict to these feature ids
    # For drawing. `exact=False`: with a bbox, a feature whose envelope meets it may be returned
    # even if its shape does not (drawing it shows nothing). `wkb=True`: the source may hand its
    # geometries over undecoded, as `FeatureBatch.wkb`, instead of as shapely objects; its reader
    # takes every batch at once and waits on no client, so a database source may read them all
    # on one pooled connection (docs/decisions/0005-streams-off-the-pool.md).
    exact: bool = True
    wkb: bool = False
    # For drawing lines and polygons whose look depends on their outlines only (no label, no
    # marker): the smallest length one pixel of the map spans, in the source's CRS units (0: no
    # such drawing). The source may drop the vertices of a line or ring that lie within half
    # of it from the last one kept (PostGIS: ST_RemoveRepeatedPoints); the renderer drops them
    # anyway (rendering/thinning.py). Points are never thinned; sources may ignore it.
    pixel_size: float = 0.0
    # With `pixel_size`: (extent, tolerance) in pixels. A line whose bounding box is no longer
    # than `extent` is mostly its stroke's blob and may lose the vertices within `tolerance`
    # pixels of the last one kept, not only half a pixel (rendering/thinning.py, tiny lines).
    tiny_lines: tuple[float, float] = (0.0, 0.0)


@dataclass(slots=True)
class FeatureBatch:
    """A slice of a result, column-wise so that geometry decoding and drawing stay vectorised.

    `geometries` is a numpy object array of shapely geometries (or None entries), decoded in bulk
    with `shapely.from_wkb`; `columns` maps each requested property to its values, row-aligned
    with `ids` (the key, when requested, is the `ids` list itself: read once, never copied).
    When the query asked for `wkb` and the source could skip decoding, the geometries are in
    `wkb` instead and `geometries` is None.
    """

    ids: list[Any]
    geometries: npt.NDArray[np.object_] | None
    columns: dict[str, list[Any]]
    wkb: WKBColumn | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def head(self, n: int) -> FeatureBatch:
        """The first `n` features."""
        return FeatureBatch(
            self.ids[:n],
            None if self.geometries is None else self.geometries[:n],
            {name: values[:n] for name, values in self.columns.items()},
            None if self.wkb is None else self.wkb.take(np.arange(min(n, len(self.wkb)))),
        )

    def rows(self) -> Iterator[Feature]:
        """The batch as features, for code that works row by row (formats, edits)."""
        names = list(self.columns)
        cols = [self.columns[n] for n in names]
        for i, fid in enumerate(self.ids):
            geom = None if self.geometries is None else self.geometries[i]
            yield Feature(fid, geom, {n: c[i] for n, c in zip(names, cols, strict=True)})


@dataclass(slots=True)
class Feature:
    """One feature: id, shapely geometry (or None) and attributes."""

    id: Any
    geometry: Any | None
    properties: dict[str, Any] = field(default_factory=dict)

    def attribute(self, name: str) -> Any:
        """The value of one attribute ("$id" answers with the id)."""
        return self.properties.get(name, self.id if name == "$id" else None)
