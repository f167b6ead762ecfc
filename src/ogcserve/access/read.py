"""What a service asks the access layer for (`Read`), the request parameters its values came from
(`ReadParameters`), and the checks that a read names only attributes the caller may see."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ogcserve.errors import InvalidParameterValueError
from ogcserve.expressions import Expression
from ogcserve.features import BBox, SortKey

# Offsets beyond this are refused: no table is that long, and SQLite/PostgreSQL integers
# overflow at 2**63.
MAX_OFFSET = 2**53


@dataclass(frozen=True, slots=True)
class ReadParameters:
    """The request parameters a `Read`'s values came from, named in the errors the access
    layer raises about them (`SORTBY` in WFS, `sortby` in OGC API). The access layer itself
    knows no protocol."""

    sort: str = "sortby"
    properties: str = "properties"
    limit: str = "limit"
    offset: str = "offset"


@dataclass(frozen=True, slots=True)
class Read:
    """What a service asks for; the access layer turns it into a `FeatureQuery`."""

    bbox: BBox | None = None
    bbox_crs: str | None = None  # None: the layer's own CRS
    filter: Expression | None = None  # the request's own filter (FILTER=, CQL2, FES)
    properties: Sequence[str] | None = None  # None: every visible attribute
    sort: Sequence[SortKey] = ()
    limit: int | None = None
    offset: int = 0
    ids: Sequence[Any] | None = None
    with_geometry: bool = True
    # For drawing (see `FeatureQuery`): envelopes may stand for shapes against the bbox, and
    # geometries may come as WKB (`FeatureBatch.wkb`).
    exact: bool = True
    wkb: bool = False
    pixel_size: float = 0.0  # in the layer's CRS units (see `FeatureQuery`)
    tiny_lines: tuple[float, float] = (0.0, 0.0)  # pixels (see `FeatureQuery`)
    parameters: ReadParameters = ReadParameters()


def check_read(read: Read, allowed: Sequence[str], properties: Sequence[str]) -> None:
    """Refuse sort keys and `properties` the caller may not see (not in `allowed`), a negative
    limit and an offset out of range, naming the request parameter each came from."""
    names = read.parameters
    for key in read.sort:
        require_known(key.name, allowed, names.sort)
    for name in properties:
        require_known(name, allowed, names.properties)
    if read.limit is not None and read.limit < 0:
        raise InvalidParameterValueError(
            f"A limit of {read.limit} is not valid", locator=names.limit
        )
    if not 0 <= read.offset <= MAX_OFFSET:
        raise InvalidParameterValueError(
            f"An offset of {read.offset} is not valid", locator=names.offset
        )


def require_known(name: str, allowed: Sequence[str], locator: str) -> None:
    """Refuse an attribute name the caller may not see, as a property that does not exist."""
    if name not in allowed:
        raise InvalidParameterValueError(f"Unknown property {name!r}", locator=locator)
