"""The seam every data backend implements: `FeatureSource` (vectors), `CoverageSource` (rasters).

Only the access layer (`ogcserve.access`) opens sources and calls these methods; services ask the
access layer, which applies the caller's rights before any feature leaves the source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

import numpy.typing as npt

from ogcserve.coverages import CoverageInfo, CoverageRequest
from ogcserve.errors import ServiceError
from ogcserve.features import BBox, Feature, FeatureBatch, FeatureQuery, Schema


class Transaction(Protocol):
    """Writes made inside one database transaction: all of them land, or none."""

    def insert(self, features: Sequence[Feature]) -> list[Any]:
        """Insert features; return their ids (generated ones included), in order."""
        ...

    def update(self, fid: Any, properties: Mapping[str, Any], geometry: Any | None = None) -> None:
        """Change some attributes (and the geometry, when given) of one feature."""
        ...

    def update_many(
        self, fids: Sequence[Any], properties: Mapping[str, Any], geometry: Any | None = None
    ) -> None:
        """Set the same attributes (and geometry, when given) on several features at once."""
        ...

    def delete(self, fids: Sequence[Any]) -> int:
        """Delete features by id; return how many were deleted."""
        ...

    def get(self, fid: Any) -> Feature | None:
        """Read one feature as the transaction sees it (for checks before and after a change)."""
        ...

    def get_many(self, fids: Sequence[Any]) -> list[Feature]:
        """The features `fids` as the transaction sees them, in one read (absent ones left
        out, in no particular order)."""
        ...

    def ids(self, query: FeatureQuery) -> list[Any]:
        """The ids of the features `query` matches as the transaction sees them, its own
        uncommitted writes included (how the access layer judges written rows by the subset
        strings, SQL only the database can evaluate)."""
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

    def count(self, query: FeatureQuery, paged: bool = False) -> int:
        """How many features `query` matches (limit and offset ignored); with `paged`, how
        many of them its offset and limit select (the size of a page, counted without reading
        it where the store can)."""
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


@runtime_checkable
class CoverageSource(Protocol):
    """A raster layer's data."""

    def info(self) -> CoverageInfo:
        """CRS, extent, size and bands."""
        ...

    def read(self, request: CoverageRequest, check: Callable[[], None] = ...) -> npt.NDArray[Any]:
        """A (bands, height, width) masked array for the window, reprojected and resampled.
        `check` is called between parts of a long read: it raises to stop it (the request's
        deadline)."""
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
