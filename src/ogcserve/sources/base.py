"""The seam every data backend implements: `FeatureSource` (vectors), `CoverageSource` (rasters).

Only the access layer (`ogcserve.access`) opens sources and calls these methods; services ask the
access layer, which applies the caller's rights before any feature leaves the source.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from ogcserve.errors import ServiceError
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
    # geometries over undecoded, as `FeatureBatch.wkb`, instead of as shapely objects.
    exact: bool = True
    wkb: bool = False


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


class Transaction(Protocol):
    """Writes made inside one database transaction: all of them land, or none."""

    def insert(self, features: Sequence[Feature]) -> list[Any]:
        """Insert features; return their ids (generated ones included), in order."""
        ...

    def update(self, fid: Any, properties: Mapping[str, Any], geometry: Any | None = None) -> None:
        """Change some attributes (and the geometry, when given) of one feature."""
        ...

    def delete(self, fids: Sequence[Any]) -> int:
        """Delete features by id; return how many were deleted."""
        ...

    def get(self, fid: Any) -> Feature | None:
        """Read one feature as the transaction sees it (for checks before and after a change)."""
        ...


@runtime_checkable
class FeatureSource(Protocol):
    """A vector layer's data: a table, a file or a database view."""

    def schema(self) -> Schema:
        """Key, attributes and geometry column."""
        ...

    def crs(self) -> str:
        """The native CRS as an authority string, e.g. 'EPSG:4326'."""
        ...

    def extent(self) -> BBox | None:
        """Bounding box of all features in the native CRS (None when empty or unknown)."""
        ...

    def count(self, query: FeatureQuery) -> int:
        """How many features `query` matches (limit and offset ignored)."""
        ...

    def query(self, query: FeatureQuery, batch_size: int = 1000) -> Iterator[FeatureBatch]:
        """Stream the matching features in batches, in constant memory."""
        ...

    def get(self, fid: Any, query: FeatureQuery | None = None) -> Feature | None:
        """One feature by id, or None (also None when `query`'s filters exclude it)."""
        ...

    def transaction(self) -> AbstractContextManager[Transaction]:
        """A write transaction; leaving the block by an exception rolls everything back.

        Read-only sources raise `ReadOnlySourceError`.
        """
        ...

    def close(self) -> None:
        """Release files and connections."""
        ...


@dataclass(frozen=True, slots=True)
class CoverageRequest:
    """A window to read from a coverage, in any CRS, at a given size."""

    bbox: BBox
    crs: str
    width: int
    height: int
    resampling: str = "nearest"  # nearest, bilinear, cubic, average, ...
    bands: tuple[int, ...] | None = None  # 1-based; None: all


@dataclass(frozen=True, slots=True)
class CoverageInfo:
    """What a coverage is: CRS, extent, size, bands."""

    crs: str
    extent: BBox
    width: int
    height: int
    band_count: int
    dtype: str
    nodata: float | None
    resolution: tuple[float, float]


@runtime_checkable
class CoverageSource(Protocol):
    """A raster layer's data."""

    def info(self) -> CoverageInfo:
        """CRS, extent, size and bands."""
        ...

    def read(self, request: CoverageRequest) -> npt.NDArray[Any]:
        """A (bands, height, width) masked array for the window, reprojected and resampled."""
        ...

    def close(self) -> None:
        """Release the file."""
        ...


class SourceError(ServiceError):
    """A data backend failed (file missing, database down, bad table)."""

    code = "NoApplicableCode"
    status = 500


class SourceUnavailableError(SourceError):
    """A source could not be opened."""


class SourceUnreachableError(SourceUnavailableError):
    """The source's database cannot be reached now: a condition of the moment (the server
    starts anyway and answers 503 for its layers), not a mistake in the project."""


class ReadOnlySourceError(SourceError):
    """A write was asked of a source that cannot be written."""

    code = "OperationNotSupported"
    status = 400


class ConstraintError(SourceError):
    """A write broke a constraint of the database (NOT NULL, type, unique).

    The message names the constraint, never the row; `column` is the attribute a NOT NULL
    constraint is on, for the access layer to name to callers who may read it.
    """

    code = "InvalidParameterValue"
    status = 400

    def __init__(
        self, message: str, *, locator: str | None = None, column: str | None = None
    ) -> None:
        super().__init__(message, locator=locator)
        self.column = column
