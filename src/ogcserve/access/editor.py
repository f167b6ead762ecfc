"""Writes through the access layer: `Editor`, one layer's inserts, updates and deletes inside one
source transaction, each checked against the caller's rights (`AccessLayer.edit` opens one)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from ogcserve.access.read import require_known
from ogcserve.errors import InvalidParameterValueError, NotFoundError, SecurityError
from ogcserve.expressions import to_predicate
from ogcserve.features import BBox, Feature, FeatureQuery, Schema
from ogcserve.sources._transaction import coerce_value
from ogcserve.sources.base import ConstraintError, FeatureSource, Transaction

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.projects.model import Layer


class Editor:
    """Writes to one layer inside one transaction, each checked against the caller's rights.

    The key is an attribute to clients (they read it, and send it back): given in an insert it
    becomes the new feature's id (omitted or empty, the source generates one) — unless row
    rules on more than the key hide rows from the caller, whom a duplicate would tell that a
    hidden row has that key; given in an update it must keep its value, as QGIS refuses to
    change a feature's id. Features are judged (row rules, `allow_to_edit`) with their values
    typed as the source types them, the key included, since clients send text. Subset strings
    (SQL) are judged by the database: each row inserted or updated must still match them, as
    the transaction holds it right after the write (unlike QGIS Server, where they only
    restrict the rows already stored).
    """

    def __init__(
        self,
        ctx: RequestContext,
        layer: Layer,
        source: FeatureSource,
        transaction: Transaction,
        query: FeatureQuery,
        visible: tuple[str, ...],
        schema: Schema,
    ) -> None:
        self._ctx, self._layer, self._source = ctx, layer, source
        self._tx, self._query, self._visible = transaction, query, visible
        self._key = schema.key
        self._fields = {f.name: f for f in schema.fields}
        rows = query.filter
        self._in_rows = to_predicate(rows) if rows is not None else (lambda _: True)
        self._written: list[Any] = []  # ids this editor inserted or updated
        self.extents: list[BBox] = []  # of every feature changed, before and after

    def insert(self, features: Sequence[Feature]) -> list[Any]:
        """Insert features the caller may write; returns their ids."""
        self._require("can_insert")
        rows = []
        for feature in features:
            self._check_attributes(feature.properties)
            row = self._key_as_id(feature)
            if row.id is not None and self._rows_hidden_by_more_than_key():
                # A chosen key would tell, by failing as a duplicate, that a row the caller
                # cannot see has it: ids could be tried one by one. Refused whatever its value.
                # (Rules on the key alone judge the new feature as they judge that row.)
                raise InvalidParameterValueError(
                    f"The key {self._key!r} of a new feature in {self._layer.name!r} is set by "
                    "the server for you: leave it out",
                    locator=self._key,
                )
            if row.id is not None:  # judged with its key: a row rule may name the key
                self._check_editable(self._as_stored(row, row.id))
            rows.append(row)
            self._touch(row.geometry)
        with self._naming_columns():
            ids = self._tx.insert(rows)
        for row, fid in zip(rows, ids, strict=True):
            if row.id is None:
                # Judged as stored, with the key the source gave it (a rule on the key, such
                # as `"pk" IN (...)`, cannot judge a feature without one); refused, the
                # transaction is rolled back.
                self._check_editable(self._as_stored(row, fid))
        self._check_subsets(ids)
        self._written.extend(ids)
        return ids

    def update(self, fid: Any, properties: Mapping[str, Any], geometry: Any | None = None) -> None:
        """Change a feature the caller may see and edit, into one they still may."""
        self.update_many([fid], properties, geometry)

    def update_many(
        self, fids: Sequence[Any], properties: Mapping[str, Any], geometry: Any | None = None
    ) -> None:
        """Set the same attributes (and geometry) on features the caller may see and edit,
        each into one they still may; refused whole if one is refused. Read, judged and
        written by chunks of `CHUNK` rows: a few statements a chunk, not a few a row."""
        self._require("can_update")
        self._check_attributes(properties)
        if self._key in properties:
            value = properties[self._key]
            for fid in fids:
                if value is not None and value != "" and not _same_id(fid, value):
                    raise InvalidParameterValueError(
                        f"The key {self._key!r} of feature {fid!r} cannot be changed",
                        locator=self._key,
                    )
            properties = {k: v for k, v in properties.items() if k != self._key}
        typed = self._typed(properties)
        for start in range(0, len(fids), CHUNK):
            befores = self._visible_features(fids[start : start + CHUNK])
            for before in befores:
                after = Feature(
                    before.id,
                    before.geometry if geometry is None else geometry,
                    {**before.properties, **typed},
                )
                # Judge the feature as it will be written: an update may not move it out of
                # the caller's rows (QGIS re-reads it through the filter and lets it through).
                self._check_editable(after)
            ids = [before.id for before in befores]
            with self._naming_columns():
                self._tx.update_many(ids, properties, geometry)
            self._check_subsets(ids)
            self._written.extend(ids)
            for before in befores:
                self._touch(before.geometry)
            if befores:
                self._touch(geometry)

    def written(self, fid: Any) -> Feature | None:
        """A feature this editor inserted or updated, as its transaction holds it now, with
        the attributes the caller may see: what an answer describing exactly this write (an
        ETag) must be computed from, before any other writer can change the row. None for an
        id this editor has not written."""
        if not any(_same_id(done, fid) for done in self._written):
            return None
        feature = self._tx.get(fid)
        if feature is not None:
            visible = set(self._visible)
            feature.properties = {k: v for k, v in feature.properties.items() if k in visible}
        return feature

    def delete(self, fids: Sequence[Any]) -> int:
        """Delete features the caller may see and edit."""
        self._require("can_delete")
        gone = [
            f
            for i in range(0, len(fids), CHUNK)
            for f in self._visible_features(fids[i : i + CHUNK])
        ]
        with self._naming_columns():
            count = self._tx.delete(fids)
        for feature in gone:
            self._touch(feature.geometry)
        return count

    def _touch(self, geometry: Any) -> None:
        """Remember the extent of a geometry the edit changes (for caches, after the commit)."""
        bounds = getattr(geometry, "bounds", None)
        if bounds and len(bounds) == 4 and all(math.isfinite(v) for v in bounds):
            self.extents.append(tuple(bounds))

    @contextmanager
    def _naming_columns(self) -> Iterator[None]:
        """A constraint on one attribute (NOT NULL) is named to callers who may read it; to
        others the source's message stays, which names no attribute."""
        try:
            yield
        except ConstraintError as error:
            if error.column is None or error.column not in self._visible:
                raise
            raise error.relabelled(
                f"the attribute {error.column!r} needs a value (NOT NULL constraint)",
                locator=error.column,
            ) from error

    def _visible_features(self, fids: Sequence[Any]) -> list[Feature]:
        """The features `fids` as the transaction holds them, in their order, each one the
        caller may see and edit; two reads for all of them."""
        # The row filters and subset strings decide whether the caller sees a feature at all.
        q = self._query
        seeing = FeatureQuery(
            bbox=q.bbox,
            filter=q.filter,
            subsets=q.subsets,
            properties=(),
            with_geometry=False,
            ids=tuple(fids),
        )
        batches = self._source.query(seeing, max(len(fids), 1))
        seen = {fid: fid for batch in batches for fid in batch.ids}
        held = {f.id: f for f in self._tx.get_many(fids)} if seen else {}
        out = []
        for fid in fids:
            feature = _find(held, fid) if _find(seen, fid) is not None else None
            if feature is None:
                raise NotFoundError(f"No feature {fid!r} in {self._layer.name!r}", locator=str(fid))
            self._check_editable(feature)
            out.append(feature)
        return out

    def _rows_hidden_by_more_than_key(self) -> bool:
        """Whether row rules (the layer's filter, plugin expressions, subset strings) may hide
        a row from the caller for something else than its key."""
        rules = self._query.filter
        names = set() if rules is None else set(rules.properties()) - {self._key, "$id"}
        return bool(self._query.subsets) or bool(names)

    def _as_stored(self, row: Feature, fid: Any) -> Feature:
        """A new feature as the source holds it under the key `fid`, the key among its typed
        attributes."""
        return Feature(fid, row.geometry, self._typed({**row.properties, self._key: fid}))

    def _typed(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        return {
            name: coerce_value(self._fields[name], value) if name in self._fields else value
            for name, value in properties.items()
        }

    def _key_as_id(self, feature: Feature) -> Feature:
        """`feature` with a key given among its attributes moved to its id."""
        if self._key not in feature.properties:
            return feature
        properties = dict(feature.properties)
        value = properties.pop(self._key)
        if value is None or value == "":
            return Feature(feature.id, feature.geometry, properties)
        if feature.id is not None and not _same_id(feature.id, value):
            raise InvalidParameterValueError(
                f"The feature's id {feature.id!r} and its key {self._key!r} ({value!r}) differ",
                locator=self._key,
            )
        return Feature(value if feature.id is None else feature.id, feature.geometry, properties)

    def _check_subsets(self, ids: Sequence[Any]) -> None:
        """Refuse rows just written (`ids`, as the source keys them) that the subset strings
        would not let the caller read. Subsets are SQL, so the database judges the rows as
        the transaction holds them, after the write and before the commit; the refusal rolls
        the transaction back. Refused as an expression rule refuses: the message names the
        feature, never the rule or a value."""
        subsets = self._query.subsets
        if not subsets or not ids:
            return
        kept = set(self._tx.ids(FeatureQuery(subsets=subsets, ids=tuple(ids))))
        for fid in ids:
            if fid not in kept:
                self._refuse(fid)

    def _check_editable(self, feature: Feature) -> None:
        if not self._in_rows(feature) or not self._ctx.access.allow_to_edit(self._layer, feature):
            self._refuse(feature.id)

    def _refuse(self, fid: Any) -> NoReturn:
        raise SecurityError(
            f"You may not edit feature {fid!r} of {self._layer.name!r}", locator=self._layer.name
        )

    def _check_attributes(self, properties: Mapping[str, Any]) -> None:
        for name in properties:
            require_known(name, self._visible, name)

    def _require(self, permission: str) -> None:
        if not getattr(self._ctx.access.permissions(self._layer), permission):
            what = permission.removeprefix("can_")
            raise SecurityError(
                f"You may not {what} features of {self._layer.name!r}", locator=self._layer.name
            )


T = TypeVar("T")

# Rows an update or a delete reads, judges and writes at a time.
CHUNK = 1000


def _find(found: Mapping[Any, T], fid: Any) -> T | None:
    """What `found` holds under the id `fid`, given as the source types it or as text."""
    if fid in found:
        return found[fid]
    return next((v for k, v in found.items() if _same_id(k, fid)), None)


def _same_id(fid: Any, value: Any) -> bool:
    """Whether an id and a key value sent as text (GML has no types) are the same."""
    if fid == value:
        return True
    text = str(value).strip()
    if isinstance(fid, int) and not isinstance(fid, bool):
        digits = text.lstrip("+-")
        return digits.isascii() and digits.isdigit() and int(text) == fid
    return str(fid) == text
