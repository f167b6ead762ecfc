"""PostGISSource against a real server (OGCSERVE_TEST_POSTGIS), skipped when it is not set."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely

from ogcserve.errors import InvalidParameterValueError
from ogcserve.features import Feature, FeatureBatch, FeatureQuery, FieldType, SortKey
from ogcserve.sources.base import (
    ConstraintError,
    FeatureSource,
    SourceError,
    SourceUnavailableError,
)
from ogcserve.sources.geopackage import GeoPackageSource

DSN = os.environ.get("OGCSERVE_TEST_POSTGIS")

pytestmark = [
    pytest.mark.postgis,
    pytest.mark.skipif(not DSN, reason="OGCSERVE_TEST_POSTGIS is not set"),
]


def collect(batches: Any) -> FeatureBatch:
    ids: list[Any] = []
    geoms: list[Any] = []
    columns: dict[str, list[Any]] = {}
    for b in batches:
        ids.extend(b.ids)
        if b.geometries is not None:
            geoms.extend(b.geometries)
        for k, v in b.columns.items():
            columns.setdefault(k, []).extend(v)
    return FeatureBatch(ids, np.array(geoms, dtype=object) if geoms else None, columns)


@pytest.fixture
def src(pg_tables: dict[str, str]) -> Iterator[Any]:
    from ogcserve.sources.postgis import PostGISSource

    assert DSN is not None
    source = PostGISSource(DSN, pg_tables["countries"], pool_size=2)
    yield source
    source.close()


@pytest.fixture
def gpkg(demo_gpkg: Path) -> Iterator[GeoPackageSource]:
    source = GeoPackageSource(demo_gpkg, "countries")
    yield source
    source.close()


def test_schema_crs_extent_count(src: Any) -> None:
    assert isinstance(src, FeatureSource)
    schema = src.schema()
    assert schema.key == "fid"
    assert schema.geometry_field == "geom"
    assert schema.geometry_type == "MULTIPOLYGON"
    types = {f.name: f.type for f in schema.fields}
    assert types == {
        "fid": FieldType.INTEGER,  # the primary key is an attribute too
        "pop_est": FieldType.REAL,
        "continent": FieldType.TEXT,
        "name": FieldType.TEXT,
        "iso_a3": FieldType.TEXT,
        "gdp_md_est": FieldType.INTEGER,
        "founded": FieldType.DATE,
        "area": FieldType.REAL,
    }
    assert not next(f for f in schema.fields if f.name == "name").nullable
    assert src.crs() == "EPSG:4326"
    extent = src.extent()
    assert extent is not None
    assert extent == pytest.approx((-180, -90, 180, 83.6), abs=1.0)
    assert src.count(FeatureQuery()) == 177


def test_values_are_python_types(src: Any) -> None:
    feature = src.get(1)
    assert feature is not None
    assert str(feature.properties["founded"]) == "1990-10-03"
    assert feature.properties["area"] == 357.5 and isinstance(feature.properties["area"], float)
    assert feature.geometry.geom_type == "MultiPolygon"


def test_bbox_matches_shapely_and_geopackage(src: Any, gpkg: GeoPackageSource) -> None:
    bbox = (0.0, 40.0, 20.0, 55.0)
    everything = collect(src.query(FeatureQuery()))
    assert everything.geometries is not None
    expected = {
        fid
        for fid, g in zip(everything.ids, everything.geometries, strict=True)
        if g.intersects(shapely.box(*bbox))
    }
    result = collect(src.query(FeatureQuery(bbox=bbox), batch_size=7))
    assert set(result.ids) == expected
    assert set(collect(gpkg.query(FeatureQuery(bbox=bbox))).ids) == expected
    assert src.count(FeatureQuery(bbox=bbox)) == len(expected)


def test_sort_limit_offset_properties(src: Any) -> None:
    sort = (SortKey("pop_est", descending=True),)
    top = collect(src.query(FeatureQuery(sort=sort, limit=3, properties=("name",))))
    assert top.columns == {"name": ["China", "India", "United States of America"]}
    page = collect(src.query(FeatureQuery(sort=sort, limit=2, offset=1, with_geometry=False)))
    assert page.columns["name"] == ["India", "United States of America"]
    assert page.geometries is None
    with pytest.raises(InvalidParameterValueError):
        src.query(FeatureQuery(properties=("nope",)))
    with pytest.raises(InvalidParameterValueError):
        src.query(FeatureQuery(sort=(SortKey('name"; DROP TABLE x; --'),)))


def test_ids_get_subsets(src: Any) -> None:
    assert sorted(collect(src.query(FeatureQuery(ids=(3, "5", "x")))).ids) == [3, 5]
    assert src.get(99999) is None
    assert src.get("1; DROP TABLE countries") is None
    q = FeatureQuery(subsets=("continent = 'Europe'", "name LIKE 'F%'"))
    names = collect(src.query(q)).columns["name"]
    assert "France" in names and all(n.startswith("F") for n in names)
    assert src.count(q) == len(names)
    assert src.get(1, FeatureQuery(subsets=("false",))) is None


@pytest.mark.parametrize(
    "where",
    [
        {},
        {"bbox": (-20.0, 30.0, 40.0, 70.0)},
        {"filter": "pop_est > 5000000"},
        {"filter": "name <> 'x\u0000'"},  # PostgreSQL text holds no NUL: tested in Python
        {"subsets": ("continent = 'Europe'", "name LIKE '%a%'"), "bbox": (-20, 30, 40, 70)},
    ],
)
def test_a_paged_count_is_the_size_of_the_page(
    src: Any, gpkg: GeoPackageSource, where: dict[str, Any]
) -> None:
    """`count(paged=True)`: as many rows as the read of the same page returns, under the same
    bbox, filter and subset strings (how a GML page states its size before its members)."""
    from ogcserve.expressions import parse

    if "filter" in where:
        where = {**where, "filter": parse(where["filter"], "cql2-text")}
    for source in (src, gpkg):
        matched = source.count(FeatureQuery(**where))
        assert matched > 3
        for offset, limit in ((0, None), (0, 3), (2, 5), (matched - 2, 5), (matched + 4, 5)):
            query = FeatureQuery(**where, offset=offset, limit=limit, sort=(SortKey("fid"),))
            page = collect(source.query(query))
            assert source.count(query, paged=True) == len(page.ids)
            assert source.count(query) == matched  # unpaged: offset and limit ignored


def test_sql_payload_values_never_break_the_table(src: Any) -> None:
    payload = "x'); DROP TABLE countries; --"
    with src.transaction() as tx:
        (fid,) = tx.insert([Feature(None, None, {"name": payload})])
        tx.update(fid, {"continent": payload})
    feature = src.get(fid)
    assert feature is not None
    assert feature.properties["name"] == payload == feature.properties["continent"]
    with src.transaction() as tx:
        assert tx.delete([fid]) == 1
    assert src.count(FeatureQuery()) == 177


def test_transaction_commit(src: Any) -> None:
    poly = shapely.box(-30, -30, -29, -29)
    with src.transaction() as tx:
        ids = tx.insert([Feature(None, poly, {"name": "Atlantis", "gdp_md_est": "42"})])
        assert ids[0] > 1000
        seen = tx.get(ids[0])
        assert seen is not None and seen.properties["gdp_md_est"] == 42
        tx.update(ids[0], {"pop_est": 1.5}, shapely.box(-31, -31, -30, -30))
    feature = src.get(ids[0])
    assert feature is not None
    assert feature.geometry.equals(shapely.MultiPolygon([shapely.box(-31, -31, -30, -30)]))
    assert feature.properties["pop_est"] == 1.5
    assert collect(src.query(FeatureQuery(bbox=(-30.8, -30.8, -30.6, -30.6)))).ids == ids
    with src.transaction() as tx:
        assert tx.delete(ids) == 1
    assert src.get(ids[0]) is None


@pytest.mark.parametrize(
    "bad",
    [
        Feature(None, None, {"continent": "no name"}),  # NOT NULL
        Feature(None, None, {"name": "x", "iso_a3": "TOO LONG"}),  # varchar(3)
        Feature(None, None, {"name": "x", "gdp_md_est": "abc"}),  # type
        Feature(1, None, {"name": "duplicate"}),  # unique key
    ],
)
def test_constraint_violation_rolls_back_everything(src: Any, bad: Feature) -> None:
    before = collect(src.query(FeatureQuery(sort=(SortKey("fid"),))))
    with pytest.raises(ConstraintError) as info, src.transaction() as tx:
        tx.insert([Feature(None, shapely.box(0, 0, 1, 1), {"name": "first"})])
        tx.update(3, {"name": "changed"})
        tx.delete([4])
        tx.insert([bad])
    assert info.value.message
    after = collect(src.query(FeatureQuery(sort=(SortKey("fid"),))))
    assert after.ids == before.ids
    assert after.columns == before.columns


def test_transaction_ids_see_its_own_writes_through_subsets(src: Any) -> None:
    """What the access layer judges written rows with: the transaction's own view, subsets
    applied by the database; a subset the database refuses fails the transaction."""
    with src.transaction() as tx:
        (fid,) = tx.insert([Feature(None, None, {"name": "Atlantis", "gdp_md_est": 5})])
        tx.update(3, {"name": "Forbidden"})
        subsets = ("name <> 'Forbidden'", "gdp_md_est IS NOT NULL")
        assert sorted(tx.ids(FeatureQuery(subsets=subsets, ids=(fid, 3, "2")))) == [2, fid]
        assert sorted(tx.ids(FeatureQuery(ids=(fid, 3)))) == sorted([fid, 3])
        tx.delete([fid])
        assert tx.ids(FeatureQuery(ids=(fid,))) == []
        tx.update(3, {"name": "before"})
    assert src.get(3).properties["name"] == "before"
    with pytest.raises(SourceError), src.transaction() as tx:
        tx.update(3, {"name": "never"})
        tx.ids(FeatureQuery(subsets=("no_such_column = 1",), ids=(3,)))
    assert src.get(3).properties["name"] == "before"


def test_missing_table_and_database(pg_tables: dict[str, str]) -> None:
    from ogcserve.sources.postgis import PostGISSource

    assert DSN is not None
    missing = PostGISSource(DSN, "no_such_table_xyz")
    with pytest.raises(SourceUnavailableError, match="no_such_table_xyz"):
        missing.schema()
    missing.close()
    wrong_geom = PostGISSource(DSN, pg_tables["countries"], geometry="nope")
    with pytest.raises(SourceUnavailableError, match="nope"):
        wrong_geom.schema()
    wrong_geom.close()


def test_bad_subset_is_a_source_error(src: Any) -> None:
    with pytest.raises(SourceError):
        collect(src.query(FeatureQuery(subsets=("no_such_column = 1",))))
    # The connection went back to the pool in a usable state.
    assert src.count(FeatureQuery()) == 177


def test_abandoned_streams_return_connections(pg_tables: dict[str, str]) -> None:
    from ogcserve.sources.postgis import PostGISSource

    assert DSN is not None
    source = PostGISSource(DSN, pg_tables["big"], pool_size=2)
    try:
        for _ in range(5):  # more streams than connections: each must be given back
            stream = source.query(FeatureQuery(), batch_size=100)
            assert len(next(stream)) == 101  # a batch and the row that tells more follow
            stream.close()
        for _ in range(5):  # dropped without close(): collected, and the finally still runs
            stream = source.query(FeatureQuery(), batch_size=100)
            next(stream)
            del stream
            gc.collect()
        first = collect(source.query(FeatureQuery(limit=10, with_geometry=False)))
        assert len(first) == 10
        pool = source._db.pool
        assert pool is not None
        assert pool.get_stats().get("pool_available", 0) >= 1
    finally:
        source.close()


def test_continued_streams_page_and_stop_cleanly(pg_tables: dict[str, str]) -> None:
    """A page read in batches (the first with its own LIMIT, the rest continued on a stream
    connection) has the rows of the page read at once, in order; a stream abandoned (closed,
    or dropped) in the middle of the continued part gives its connection back and leaves the
    source usable."""
    from ogcserve.sources.postgis import PostGISSource

    assert DSN is not None
    source = PostGISSource(DSN, pg_tables["big"], pool_size=1)
    try:
        page = FeatureQuery(limit=1_050, offset=10, with_geometry=False)
        ids = [i for batch in source.query(page, batch_size=100) for i in batch.ids]
        whole = [i for batch in source.query(page, batch_size=5_000) for i in batch.ids]
        assert ids == whole and len(ids) == 1_050 and ids == sorted(ids)
        for _ in range(4):  # more than the stream connections
            stream = source.query(FeatureQuery(), batch_size=100)
            # The first batch from the pool, with the row that tells more follow; two continued.
            assert [len(next(stream)) for _ in range(3)] == [101, 100, 100]
            stream.close()
        stream = source.query(FeatureQuery(), batch_size=100)
        next(stream), next(stream)
        del stream
        gc.collect()
        assert len(collect(source.query(FeatureQuery(limit=10, with_geometry=False)))) == 10
        assert source.count(FeatureQuery()) == 200_000
    finally:
        source.close()


def test_a_page_one_row_past_a_batch_is_one_statement(pg_tables: dict[str, str]) -> None:
    """A page of a batch and one row (as OGC API reads a page of 1,000: 1,001 rows, to know
    whether more follow) is the first statement's rows, in one batch: no statement for the
    rest, no connection for streams."""
    from ogcserve.sources.postgis import PostGISSource

    assert DSN is not None
    source = PostGISSource(DSN, pg_tables["big"], pool_size=1)
    streams: list[str] = []
    dedicated = source._db.dedicated

    def counted(operation: str) -> Any:
        streams.append(operation)
        return dedicated(operation)

    source._db.dedicated = counted  # type: ignore[method-assign]
    try:
        page = FeatureQuery(limit=101, offset=7, with_geometry=False)
        sizes = [len(batch) for batch in source.query(page, batch_size=100)]
        ids = [i for batch in source.query(page, batch_size=100) for i in batch.ids]
        assert sizes == [101] and not streams
        whole = [i for batch in source.query(page, batch_size=5_000) for i in batch.ids]
        assert ids == whole and len(ids) == 101
        longer = FeatureQuery(limit=102, offset=7, with_geometry=False)
        assert [len(batch) for batch in source.query(longer, batch_size=100)] == [101, 1]
        assert streams == ["read"]
    finally:
        source.close()


def test_read_ahead_pages_as_one_statement(pg_tables: dict[str, str]) -> None:
    """The rest of a page read ahead (its cursor declared and each fetch sent before the
    batch in hand is handed on) has the rows, order and columns of the same page read in one
    batch, with a bbox, a filter pushed into SQL, a subset string, an offset, a descending
    sort and an unsorted read; the first batch of a longer read holds one row more than a
    batch (the row that tells more follow), and a read of exactly one batch holds no more."""
    from ogcserve.expressions import parse
    from ogcserve.sources.postgis import PostGISSource

    assert DSN is not None
    source = PostGISSource(DSN, pg_tables["big"], pool_size=1)
    try:
        pushed = parse("id >= 1000 AND label <> 'x'")
        pages = [
            FeatureQuery(limit=2_345, offset=17, sort=(SortKey("id"),)),
            FeatureQuery(bbox=(-30.0, -84.0, 30.0, -80.0), limit=3_000, offset=5),
            FeatureQuery(filter=pushed, subsets=("id % 3 <> 0",), limit=2_500, offset=250),
            FeatureQuery(limit=1_500, offset=3, sort=(SortKey("label", descending=True),)),
            FeatureQuery(filter=pushed, subsets=("id % 7 = 0",)),
        ]
        for page in pages:
            batches = list(source.query(page, batch_size=500))
            whole = list(source.query(page, batch_size=1_000_000))
            assert len(whole) == 1
            assert [len(b) for b in batches][:2] == [501, 500]
            assert [i for b in batches for i in b.ids] == whole[0].ids
            for name, values in whole[0].columns.items():
                assert [v for b in batches for v in b.columns[name]] == values
            assert [g.wkb for b in batches for g in b.geometries] == [  # type: ignore[union-attr]
                g.wkb
                for g in whole[0].geometries  # type: ignore[union-attr]
            ]
        exact = FeatureQuery(limit=500, sort=(SortKey("id"),))
        assert [len(b) for b in source.query(exact, batch_size=500)] == [500]
    finally:
        source.close()


def test_one_off_statements_are_not_kept(pg_tables: dict[str, str]) -> None:
    """The source keeps a statement's text per shape of query, not the one-off texts of
    continued streams (each names the ids already sent)."""
    from ogcserve.sources.postgis import PostGISSource

    assert DSN is not None
    source = PostGISSource(DSN, pg_tables["big"], pool_size=1)
    try:
        for limit in (250, 350, 450):  # three continued streams, one shape of first batch
            page = FeatureQuery(limit=limit, with_geometry=False)
            assert len(collect(source.query(page, batch_size=100))) == limit
        kept = source._statements._texts
        assert len(kept) == 1 and not any("ALL(" in text for text in kept.values())
    finally:
        source.close()


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_streaming_large_table_in_constant_memory(pg_tables: dict[str, str]) -> None:
    from ogcserve.sources.postgis import PostGISSource

    assert DSN is not None
    source = PostGISSource(DSN, pg_tables["big"], pool_size=1)
    try:
        stream = source.query(FeatureQuery(), batch_size=5000)
        total = len(next(stream))
        start = _rss_kib()
        peak = start
        for batch in stream:
            total += len(batch)
            peak = max(peak, _rss_kib())
        assert total == 200_000
        assert (peak - start) < 100 * 1024, f"RSS grew by {(peak - start) // 1024} MiB"
    finally:
        source.close()
