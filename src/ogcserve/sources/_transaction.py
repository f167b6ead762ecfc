"""The write side every SQL backend shares: typing what a client writes (`coerce_value`), checking
it against the schema, and `SourceTransaction`, the one insert/update/delete skeleton.

A backend supplies only what differs, as a `Writes`: its SQL dialect and placeholders, how it
binds values and encodes geometries, how it learns a new row's key, and its bookkeeping after a
write. `transaction_scope` commits or rolls back around the block that uses the transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn, Protocol

import shapely

from ogcserve.errors import ServiceError
from ogcserve.features import Feature, FeatureQuery, Field, FieldType, Schema
from ogcserve.sources._query import coerce_id, coerce_ids
from ogcserve.sources.base import ConstraintError


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueError(value)
    return int(str(value).strip())


def _real(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return float(str(value).strip())


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "1", "t", "yes"):
        return True
    if text in ("false", "0", "f", "no"):
        return False
    raise ValueError(value)


def _text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        raise ValueError(value)
    return value if isinstance(value, str) else str(value)


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value).strip()[:10])


def _datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    return dt.datetime.fromisoformat(str(value).strip())


def _binary(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise ValueError(value)


# How a value becomes each FieldType; a ValueError, TypeError or OverflowError means it cannot.
_CONVERSIONS: Mapping[FieldType, Callable[[Any], Any]] = {
    FieldType.INTEGER: _integer,
    FieldType.REAL: _real,
    FieldType.BOOLEAN: _boolean,
    FieldType.TEXT: _text,
    FieldType.DATE: _date,
    FieldType.DATETIME: _datetime,
    FieldType.BINARY: _binary,
}


def coerce_value(f: Field, value: Any) -> Any:
    """A value written to `f`, converted to its type; a value that cannot be one is a
    `ConstraintError` (SQLite would otherwise store 'abc' in an INTEGER column without a word).
    Also how the access layer types what a client sends (GML has no types) before judging it.
    """
    if value is None:
        return None
    convert = _CONVERSIONS.get(f.type)
    if convert is not None:
        try:
            return convert(value)
        except (ValueError, TypeError, OverflowError):
            pass
    raise ConstraintError(
        f"Value {str(value)[:80]!r} is not a valid {f.type.value} for {f.name!r}", locator=f.name
    )


def check_write_properties(schema: Schema, properties: Iterable[str]) -> dict[str, Field]:
    """The fields a write names, all of which must exist. The key is not among them: a write
    gives it as the feature's id (`access.Editor` moves it there from the attributes)."""
    by_name = {f.name: f for f in schema.fields}
    out = {}
    for name in properties:
        if name == schema.key:
            raise ConstraintError(f"The key {name!r} is written as the feature id", locator=name)
        if name not in by_name:
            raise ConstraintError(f"Unknown property {name!r}", locator=name)
        out[name] = by_name[name]
    return out


def promote_geometry(geometry: Any, geometry_type: str | None) -> Any:
    """A single geometry written to a MULTI* column becomes a one-part multi geometry, as
    clients routinely send a Polygon for a MultiPolygon layer."""
    if geometry is None or geometry_type is None or not geometry_type.startswith("MULTI"):
        return geometry
    kind = shapely.get_type_id(geometry)
    if kind == 0:  # Point
        return shapely.MultiPoint([geometry])
    if kind == 1:  # LineString
        return shapely.MultiLineString([geometry])
    if kind == 3:  # Polygon
        return shapely.MultiPolygon([geometry])
    return geometry


# (column name, value as bound): what `Writes` statements write.
Pairs = Sequence[tuple[str, Any]]


class Writes(Protocol):
    """What a backend supplies to `SourceTransaction`, on its open database transaction.

    The methods that run statements raise the database's errors already translated (as a
    `ServiceError`, which fails the transaction).
    """

    def value(self, value: Any) -> Any:
        """A value typed by `coerce_value`, as the driver binds it."""
        ...

    def geometry(self, geometry: Any) -> Any:
        """A geometry (None, or promoted to the column's type) as the column stores it."""
        ...

    def insert(self, pairs: Pairs, given: bool) -> Any | None:
        """Insert one row; its key, None when the table gave it none. `given`: the first pair
        is the key, chosen by the client."""
        ...

    def update(self, pairs: Pairs, keys: list[Any]) -> None:
        """Set `pairs` on the rows `keys`, in one statement."""
        ...

    def delete(self, keys: list[Any]) -> int:
        """Delete the rows `keys`; how many were."""
        ...

    def touch(self, geometries: list[Any]) -> None:
        """The store's bookkeeping after a write (`geometries`: the ones written)."""
        ...

    def get(self, key: Any) -> Feature | None:
        """The feature `key` as the transaction sees it."""
        ...

    def get_many(self, keys: list[Any]) -> list[Feature]:
        """The features `keys` as the transaction sees them, in one read."""
        ...

    def ids(self, query: FeatureQuery) -> list[Any]:
        """The keys of the rows `query` matches, as the transaction sees them."""
        ...


class SourceTransaction:
    """A `Transaction` over a backend's `Writes`: checks and types what is written, and keeps
    the first failure, after which every call refuses and the transaction rolls back."""

    def __init__(self, schema: Schema, key_type: FieldType, writes: Writes) -> None:
        self._schema = schema
        self._key_type = key_type
        self._writes = writes
        self.failed: str | None = None

    def insert(self, features: Sequence[Feature]) -> list[Any]:
        """Insert features; ids given on a feature are kept, others are generated."""
        schema = self._schema
        ids: list[Any] = []
        written: list[Any] = []
        for feature in features:
            pairs = self._values(feature.properties)
            if feature.id is not None:
                pairs.insert(0, (schema.key, self._id(feature.id)))
            if schema.geometry_field is not None:
                pairs.append((schema.geometry_field, self._geometry(feature.geometry)))
                if feature.geometry is not None:
                    written.append(feature.geometry)
            with self._statement():
                fid = self._writes.insert(pairs, feature.id is not None)
            if fid is None:
                # A key column without a default (a layer `key` on a plain column): a row left
                # without one could never be found again.
                self._fail(
                    f"no value for the key {schema.key!r}",
                    ConstraintError(
                        f"The key {schema.key!r} has no default: give it", locator=schema.key
                    ),
                )
            ids.append(fid)
        with self._statement():
            self._writes.touch(written)
        return ids

    def update(self, fid: Any, properties: Mapping[str, Any], geometry: Any | None = None) -> None:
        """Change some attributes (and the geometry, when given) of one feature."""
        self.update_many([fid], properties, geometry)

    def update_many(
        self, fids: Sequence[Any], properties: Mapping[str, Any], geometry: Any | None = None
    ) -> None:
        """Set the same attributes (and geometry, when given) on several features, in one
        statement (a WFS Update of a thousand rows is one UPDATE, not a thousand)."""
        pairs = self._values(properties)
        if geometry is not None and self._schema.geometry_field is not None:
            pairs.append((self._schema.geometry_field, self._geometry(geometry)))
        keys = coerce_ids(fids, self._key_type)
        if not pairs or not keys:
            return
        with self._statement():
            self._writes.update(pairs, keys)
            self._writes.touch([geometry] if geometry is not None else [])

    def delete(self, fids: Sequence[Any]) -> int:
        """Delete features by id; return how many were deleted."""
        keys = coerce_ids(fids, self._key_type)
        if not keys:
            return 0
        with self._statement():
            deleted = self._writes.delete(keys)
            self._writes.touch([])
        return deleted

    def get(self, fid: Any) -> Feature | None:
        """One feature as this transaction sees it."""
        self._check()
        return self._writes.get(fid)

    def get_many(self, fids: Sequence[Any]) -> list[Feature]:
        """The features `fids` as this transaction sees them, in one read."""
        self._check()
        keys = coerce_ids(fids, self._key_type)
        return self._writes.get_many(keys) if keys else []

    def ids(self, query: FeatureQuery) -> list[Any]:
        """The ids of the features `query` matches, as this transaction sees them."""
        self._check()
        with self._statement():  # a subset the database refuses fails the transaction
            return self._writes.ids(query)

    def _check(self) -> None:
        if self.failed is not None:
            raise ConstraintError(f"Transaction already failed: {self.failed}")

    @contextmanager
    def _statement(self) -> Iterator[None]:
        """Around the backend's statements: refused once failed; an error fails the rest."""
        self._check()
        try:
            yield
        except ServiceError as error:
            self.failed = error.message
            raise

    def _fail(self, failed: str, error: ConstraintError) -> NoReturn:
        self.failed = failed
        raise error

    def _values(self, properties: Mapping[str, Any]) -> list[tuple[str, Any]]:
        try:
            fields = check_write_properties(self._schema, properties)
            value = self._writes.value
            return [(n, value(coerce_value(f, properties[n]))) for n, f in fields.items()]
        except ConstraintError as exc:
            self.failed = exc.message
            raise

    def _id(self, fid: Any) -> Any:
        key = coerce_id(fid, self._key_type)
        if key is None:
            self._fail(f"invalid id {fid!r}", ConstraintError(f"Invalid feature id {fid!r}"))
        return key

    def _geometry(self, geometry: Any) -> Any:
        return self._writes.geometry(promote_geometry(geometry, self._schema.geometry_type))


@contextmanager
def transaction_scope(
    tx: SourceTransaction, rollback: Callable[[], object], commit: Callable[[], object]
) -> Iterator[SourceTransaction]:
    """`tx` for the block: committed at its end, rolled back when it raises or when a write
    inside it failed (a `ConstraintError` then says why)."""
    try:
        yield tx
    except BaseException:
        rollback()
        raise
    if tx.failed is not None:
        rollback()
        raise ConstraintError(f"Transaction rolled back: {tx.failed}")
    commit()
