"""Shapefile, GeoJSON and FlatGeobuf layers, read-only, through pyogrio's raw (numpy) API.

pyogrio's `where` is an SQL string, so request values never go into it: filters are evaluated in
Python. Only the bbox (numbers) is pushed to OGR, followed by an exact shapely test. Each read
opens the file again, which keeps the source safe to call from many threads.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pyogrio.raw
from pyogrio.errors import DataLayerError, DataSourceError, FeatureError

from ogcserve.features import (
    BBox,
    Feature,
    FeatureBatch,
    FeatureQuery,
    Field,
    FieldType,
    Schema,
    SortKey,
)
from ogcserve.geo.wkb import decode_wkb
from ogcserve.sources._query import (
    Selection,
    by_id,
    check_sort,
    coerce_ids,
    count_selection,
    first_feature,
    keys_only,
    plan_filter,
    refine,
    selection,
)
from ogcserve.sources.base import (
    ReadOnlySourceError,
    SourceError,
    SourceUnavailableError,
    Transaction,
)


def _field_type(dtype: str) -> FieldType:
    if dtype.startswith(("int", "uint")):
        return FieldType.INTEGER
    if dtype.startswith("float"):
        return FieldType.REAL
    if dtype == "bool":
        return FieldType.BOOLEAN
    if dtype == "datetime64[D]":
        return FieldType.DATE
    if dtype.startswith("datetime64"):
        return FieldType.DATETIME
    return FieldType.TEXT


def _values(array: Any, kind: FieldType) -> list[Any]:
    values: list[Any] = array.tolist()
    if kind is FieldType.REAL:
        # OGR nulls come back as NaN in float columns; the other backends give None.
        return [None if v != v else v for v in values]
    return values


class OGRSource:
    """One layer of a vector file, read-only; feature ids are OGR FIDs, or the values of the
    attribute named as `key`."""

    def __init__(
        self, path: str | os.PathLike[str], layer: str | None = None, key: str | None = None
    ) -> None:
        self._path = Path(path)
        self._layer = layer
        if not self._path.exists():
            raise SourceUnavailableError(f"Vector file not found: {self._path}")
        try:
            info = pyogrio.read_info(self._path, layer=layer)
        except (DataSourceError, DataLayerError) as exc:
            what = f"layer {layer!r} of {self._path.name}" if layer else self._path.name
            raise SourceUnavailableError(f"Cannot open {what}: {exc}") from None
        names = [str(n) for n in info["fields"]]
        fields = [Field(n, _field_type(str(d))) for n, d in zip(names, info["dtypes"], strict=True)]
        # The FID is published as an attribute (QGIS does so for a GeoPackage's fid column),
        # named as the driver names it, else "fid".
        fid = str(info.get("fid_column") or "") or ("fid" if "fid" not in names else "ogc_fid")
        if key is None or key.lower() == fid.lower():
            fields.insert(0, Field(fid, FieldType.INTEGER, nullable=False))
            key = fid
        elif key not in names:
            raise SourceUnavailableError(f"{self._path.name} has no attribute {key!r} for the key")
        # None: the key is the FID; else the attribute whose values are the ids.
        self._key_column = None if key == fid else key
        geometry_type = info.get("geometry_type")
        geometry_field: str | None = None
        if geometry_type:
            geometry_field = str(info.get("geometry_name") or "") or "geometry"
        kind = str(geometry_type).upper() if geometry_type else None
        if kind in ("UNKNOWN", "GEOMETRY"):
            kind = None
        self._schema = Schema(key, tuple(fields), geometry_field, kind)
        self._types = {f.name: f.type for f in fields}
        self._crs = str(info.get("crs") or "")
        self._features = int(info.get("features") or -1)
        bounds = info.get("total_bounds")
        self._extent: BBox | None = None
        if bounds is not None and np.isfinite(bounds).all():
            self._extent = (
                float(bounds[0]),
                float(bounds[1]),
                float(bounds[2]),
                float(bounds[3]),
            )

    def schema(self) -> Schema:
        """The layer's attributes, the key among them."""
        return self._schema

    def crs(self) -> str:
        """The layer's CRS as OGR reports it ('EPSG:4326' when it has an EPSG code)."""
        return self._crs

    def extent(self) -> BBox | None:
        """The layer's extent as read when the source opened."""
        return self._extent

    def _read(
        self,
        fetch: tuple[str, ...],
        geometry: bool,
        bbox: BBox | None,
        fids: list[int] | None,
        skip: int = 0,
        limit: int | None = None,
        where: str | None = None,
    ) -> FeatureBatch:
        """One pyogrio read as a batch (values as Python objects, geometries decoded); its
        columns are `fetch`."""
        key, key_column = self._schema.key, self._key_column
        kwargs: dict[str, Any] = {
            "layer": self._layer,
            # The FID is no column; an attribute key is always read, for the ids.
            "columns": list(
                dict.fromkeys(
                    [*(n for n in fetch if n != key), *([key_column] if key_column else [])]
                )
            ),
            "read_geometry": geometry and self._schema.geometry_field is not None,
            "return_fids": True,
        }
        if where:
            # Subset strings are trusted SQL from the project or plugin code (never from a
            # request), in the OGR SQL dialect of this file. OGR evaluates it only on fields it
            # reads, and the fields it names are unknown here: read them all.
            kwargs["where"] = where
            kwargs["columns"] = None
        if fids is not None and where:
            # OGR cannot combine a FID list with a WHERE clause: filter, then keep the FIDs.
            whole = self._read(fetch, geometry, None, None, where=where)
            keep = np.flatnonzero(np.isin(np.asarray(whole.ids, dtype=np.int64), fids))
            return _take_all(whole, keep)
        if fids is not None:
            kwargs["fids"] = np.asarray(fids, dtype=np.int64)
        else:
            if bbox is not None:
                kwargs["bbox"] = tuple(float(v) for v in bbox)
            if skip:
                kwargs["skip_features"] = skip
            if limit is not None:
                kwargs["max_features"] = limit
        try:
            meta, fid_array, wkb, field_data = pyogrio.raw.read(self._path, **kwargs)
        except FeatureError:
            if fids is None:
                raise
            # An unknown FID fails the whole read: keep the ones that exist instead.
            whole = self._read(fetch, geometry, None, None, where=where)
            keep = np.flatnonzero(np.isin(np.asarray(whole.ids, dtype=np.int64), fids))
            return _take_all(whole, keep)
        except (DataSourceError, DataLayerError) as exc:
            # GDAL's message may quote the subset's SQL or the file's path: log it, say less.
            logging.getLogger("ogcserve.sources.ogr").warning(
                "OGR read of %s failed: %s", self._path, exc
            )
            raise SourceError(f"Cannot read the data of {self._path.name}") from None
        names = [str(n) for n in meta["fields"]]
        read = {n: _values(a, self._types[n]) for n, a in zip(names, field_data, strict=True)}
        ids = [int(f) for f in fid_array] if key_column is None else read[key_column]
        geometries = None
        if wkb is not None:
            geometries = decode_wkb(wkb)
        columns = {n: ids if n == key else read[n] for n in fetch}
        return FeatureBatch(ids, geometries, columns)

    def _stream(self, query: FeatureQuery, batch_size: int, count: bool) -> Iterator[FeatureBatch]:
        schema = self._schema
        check_sort(schema, query)
        plan = plan_filter(query.filter, schema.field_names(), None, {}, "", None, None)
        predicate = plan.predicate
        sel: Selection = (
            count_selection(schema, query, predicate is not None)
            if count
            else selection(schema, query, predicate is not None)
        )
        sort = () if count else query.sort
        fids = wanted = None
        if query.ids is not None:
            key_type = next(f.type for f in schema.fields if f.name == schema.key)
            wanted = coerce_ids(query.ids, key_type)
            if not wanted:
                return iter(())
            if self._key_column is None:
                fids, wanted = wanted, None
        fetch = tuple(dict.fromkeys([*sel.fetch, *(k.name for k in sort if k.name != schema.key)]))
        where = " AND ".join(f"({s})" for s in query.subsets) or None
        python_paging = bool(
            predicate is not None or query.bbox is not None or sort or query.ids is not None
        )
        if python_paging:
            data = self._read(fetch, sel.fetch_geometry, query.bbox, fids, where=where)
            if wanted is not None:
                keep = set(wanted)
                data = _take_all(data, [i for i, v in enumerate(data.ids) if v in keep])
        else:
            data = self._read(
                fetch, sel.fetch_geometry, None, None, query.offset, query.limit, where=where
            )
        if sort:
            data = _take_all(data, _sort_order(data, sort, schema.key))
        chunks = _chunks(data, max(batch_size, 1))
        if not python_paging:
            return (_take_all(b, np.arange(len(b)), sel) for b in chunks)
        offset, limit = (0, None) if count else (query.offset, query.limit)
        return refine(chunks, sel, query.bbox, predicate, offset, limit)

    def query(self, query: FeatureQuery, batch_size: int = 1000) -> Iterator[FeatureBatch]:
        """Matching features in batches (one file read per query; the OGR formats served this
        way are small enough for it)."""
        return self._stream(query, batch_size, count=False)

    def count(self, query: FeatureQuery, paged: bool = False) -> int:
        """How many features match (the layer's own count when nothing filters); with `paged`,
        how many of them the query's offset and limit select."""
        if paged:
            page = self._stream(replace(keys_only(query), sort=()), 10_000, count=False)
            return sum(len(b) for b in page)
        unfiltered = (
            query.bbox is None and query.filter is None and query.ids is None and not query.subsets
        )
        if unfiltered and self._features >= 0:
            return self._features
        return sum(len(b) for b in self._stream(query, 10_000, count=True))

    def get(self, fid: Any, query: FeatureQuery | None = None) -> Feature | None:
        """One feature by FID (None when absent or excluded by `query`)."""
        return first_feature(self.query(by_id(fid, query), 1))

    def transaction(self) -> AbstractContextManager[Transaction]:
        """OGR files are served read-only."""
        raise ReadOnlySourceError(f"{self._path.name} is read-only")

    def close(self) -> None:
        """Nothing stays open between reads."""


def _take_all(batch: FeatureBatch, index: Any, sel: Selection | None = None) -> FeatureBatch:
    names = list(batch.columns) if sel is None else list(sel.output)
    geometries = batch.geometries
    if sel is not None and not sel.output_geometry:
        geometries = None
    return FeatureBatch(
        [batch.ids[i] for i in index],
        None if geometries is None else geometries[index],
        {n: [batch.columns[n][i] for i in index] for n in names},
    )


def _chunks(batch: FeatureBatch, size: int) -> Iterator[FeatureBatch]:
    for start in range(0, len(batch), size):
        yield _take_all(batch, np.arange(start, min(start + size, len(batch))))


def _sort_order(batch: FeatureBatch, sort: tuple[SortKey, ...], key: str) -> list[int]:
    """Row order for `sort` (then the FID), nulls last, as SQL backends order by default."""
    order = list(range(len(batch)))
    order.sort(key=lambda i: batch.ids[i])
    # Stable sorts from the last key to the first give the multi-key order.
    for k in reversed(sort):
        values = batch.ids if k.name == key else batch.columns[k.name]
        present = [i for i in order if values[i] is not None]
        missing = [i for i in order if values[i] is None]
        present.sort(key=lambda i: values[i], reverse=k.descending)
        order = present + missing
    return order
