"""The feature key is an attribute of every source: in the schema (typed as the source types it),
in the batches (its column is the ids), and usable in filters, subsets, sorts and property lists;
a layer's `key` names another column whose values become the ids."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
import pytest
import shapely

from ogcserve.expressions import parse
from ogcserve.features import Feature, FeatureQuery, FieldType, SortKey
from ogcserve.sources import open_source
from ogcserve.sources.base import ConstraintError, SourceUnavailableError
from ogcserve.sources.geopackage import GeoPackageSource
from ogcserve.sources.ogr import OGRSource
from ogcserve.sources.specs import GeoPackageSpec, OGRSpec, PostGISSpec

from .test_geopackage import collect

FID_IN = '"fid" IN (3, 4)'


def _types(source: Any) -> dict[str, FieldType]:
    return {f.name: f.type for f in source.schema().fields}


# --- GeoPackage ---------------------------------------------------------------------------------


@pytest.fixture
def countries(demo_gpkg: Path) -> Iterator[GeoPackageSource]:
    source = GeoPackageSource(demo_gpkg, "countries")
    yield source
    source.close()


def test_geopackage_key_is_a_typed_attribute(countries: GeoPackageSource) -> None:
    schema = countries.schema()
    key = next(f for f in schema.fields if f.name == schema.key)
    assert (key.name, key.type, key.nullable) == ("fid", FieldType.INTEGER, False)
    rows = collect(countries.query(FeatureQuery(properties=("fid", "name"), limit=3)))
    assert rows.columns["fid"] == rows.ids == [1, 2, 3]
    assert all(type(v) is int for v in rows.columns["fid"])


def test_geopackage_key_in_filter_subset_and_sort(countries: GeoPackageSource) -> None:
    by_filter = collect(countries.query(FeatureQuery(filter=parse(FID_IN, "qgis"))))
    assert sorted(by_filter.ids) == [3, 4] and sorted(by_filter.columns["fid"]) == [3, 4]
    assert countries.count(FeatureQuery(filter=parse(FID_IN, "qgis"))) == 2
    by_subset = collect(countries.query(FeatureQuery(subsets=(FID_IN,), properties=("name",))))
    assert sorted(by_subset.ids) == [3, 4] and list(by_subset.columns) == ["name"]
    top = collect(
        countries.query(FeatureQuery(sort=(SortKey("fid", True),), limit=2, properties=("fid",)))
    )
    assert top.ids == top.columns["fid"] == [177, 176]
    # With a bbox and a filter the Python stage runs; the key stays a column there too.
    spatial = collect(
        countries.query(FeatureQuery(bbox=(-20, 30, 40, 70), filter=parse('"fid" < 100', "qgis")))
    )
    assert spatial.ids and all(f < 100 for f in spatial.columns["fid"])


def test_geopackage_layer_key_names_another_column(
    demo_gpkg: Path, countries: GeoPackageSource
) -> None:
    source = open_source(
        GeoPackageSpec(type="geopackage", path=str(demo_gpkg), table="countries"),
        demo_gpkg.parent,
        key="ISO_A3",
    )
    assert isinstance(source, GeoPackageSource)
    try:
        schema = source.schema()
        assert schema.key == "iso_a3"  # the column's own spelling
        types = _types(source)
        assert types["iso_a3"] is FieldType.TEXT and types["fid"] is FieldType.INTEGER
        france = source.get("FRA")
        assert france is not None and france.id == "FRA"
        assert france.properties["iso_a3"] == "FRA" and isinstance(france.properties["fid"], int)
        assert sorted(collect(source.query(FeatureQuery(ids=("DEU", "FRA", "nope")))).ids) == [
            "DEU",
            "FRA",
        ]
        # The R-tree is still joined on the rowid: a bbox finds what the fid-keyed table finds.
        bbox = (0.0, 40.0, 20.0, 55.0)
        mine = collect(source.query(FeatureQuery(bbox=bbox, properties=("fid",))))
        theirs = collect(countries.query(FeatureQuery(bbox=bbox)))
        assert sorted(mine.columns["fid"]) == sorted(theirs.ids)
        assert source.count(FeatureQuery(bbox=bbox)) == len(theirs)
    finally:
        source.close()


def test_geopackage_inserts_with_another_key(gpkg_copy: Path) -> None:
    source = GeoPackageSource(gpkg_copy, "countries", key="iso_a3")
    try:
        square = shapely.box(0, 0, 1, 1)
        with source.transaction() as tx:
            assert tx.insert([Feature("ZZZ", square, {"name": "Zed"})]) == ["ZZZ"]
        zed = source.get("ZZZ")
        assert zed is not None and zed.properties["name"] == "Zed"
        assert isinstance(zed.properties["fid"], int)  # the rowid the table generated
        # A text key has no default: a feature without one is refused, nothing is written.
        with pytest.raises(ConstraintError, match="iso_a3"), source.transaction() as tx:
            tx.insert([Feature(None, square, {"name": "Nobody"})])
        assert source.count(FeatureQuery(filter=parse("name = 'Nobody'"))) == 0
    finally:
        source.close()


def test_geopackage_key_is_written_as_the_id_only(gpkg_copy: Path) -> None:
    source = GeoPackageSource(gpkg_copy, "countries")
    try:
        with pytest.raises(ConstraintError, match="feature id"), source.transaction() as tx:
            tx.insert([Feature(None, None, {"fid": 5000, "name": "x"})])
    finally:
        source.close()


def test_geopackage_bad_keys(demo_gpkg: Path) -> None:
    with pytest.raises(SourceUnavailableError, match="no column 'nope'"):
        GeoPackageSource(demo_gpkg, "countries", key="nope")
    with pytest.raises(SourceUnavailableError, match="geometry"):
        GeoPackageSource(demo_gpkg, "countries", key="geom")


# --- OGR ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["geojson", "shp"])
def vector_file(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, demo_gpkg: Path
) -> Path:
    """The first 20 demo countries (FIDs from 0), as GeoJSON or a Shapefile."""
    src = GeoPackageSource(demo_gpkg, "countries")
    data = collect(src.query(FeatureQuery(sort=(SortKey("fid"),), limit=20)))
    src.close()
    assert data.geometries is not None
    path = tmp_path_factory.mktemp("key") / f"countries.{request.param}"
    pyogrio.raw.write(
        path,
        shapely.to_wkb(data.geometries),
        [np.array(data.columns[n], dtype=object) for n in ("name", "iso_a3")],
        ["name", "iso_a3"],
        driver="GeoJSON" if request.param == "geojson" else "ESRI Shapefile",
        geometry_type="MultiPolygon",
        crs="EPSG:4326",
    )
    return path


def test_ogr_fid_is_an_attribute(vector_file: Path) -> None:
    source = OGRSource(vector_file)
    schema = source.schema()
    assert schema.key == "fid" and schema.field_names() == ["fid", "name", "iso_a3"]
    assert _types(source)["fid"] is FieldType.INTEGER
    # No SQL here: the filter on the key runs in Python, on the key's column.
    by_filter = collect(source.query(FeatureQuery(filter=parse(FID_IN, "qgis"))))
    assert sorted(by_filter.ids) == sorted(by_filter.columns["fid"]) == [3, 4]
    assert source.count(FeatureQuery(filter=parse(FID_IN, "qgis"))) == 2
    # OGR SQL knows FID by any case: a plugin's subset string on "fid" works.
    assert sorted(collect(source.query(FeatureQuery(subsets=(FID_IN,)))).ids) == [3, 4]
    top = collect(
        source.query(FeatureQuery(sort=(SortKey("fid", True),), limit=2, properties=("fid",)))
    )
    assert top.columns == {"fid": [19, 18]} and top.ids == [19, 18]
    plain = collect(source.query(FeatureQuery(limit=2, offset=1, properties=("fid", "name"))))
    assert plain.columns["fid"] == plain.ids == [1, 2]


def test_ogr_layer_key_names_an_attribute(vector_file: Path) -> None:
    source = open_source(
        OGRSpec(type="ogr", path=str(vector_file)), vector_file.parent, key="iso_a3"
    )
    assert isinstance(source, OGRSource)
    assert source.schema().key == "iso_a3" and "fid" not in source.schema().field_names()
    fiji = source.get("FJI")
    assert fiji is not None and fiji.id == "FJI" and fiji.properties["iso_a3"] == "FJI"
    found = collect(source.query(FeatureQuery(ids=("TZA", "FJI", "nope"), properties=())))
    assert sorted(found.ids) == ["FJI", "TZA"] and found.columns == {}
    ordered = collect(source.query(FeatureQuery(sort=(SortKey("iso_a3"),), limit=3)))
    assert ordered.ids == sorted(ordered.ids) and ordered.ids == ordered.columns["iso_a3"]
    with pytest.raises(SourceUnavailableError, match="nope"):
        OGRSource(vector_file, key="nope")


# --- PostGIS ------------------------------------------------------------------------------------


@pytest.fixture
def pk_table() -> Iterator[str]:
    """A table keyed on `pk`, as QGIS plugins' rules name it (`"pk" = 1`)."""
    import psycopg

    dsn = os.environ.get("OGCSERVE_TEST_POSTGIS")
    if not dsn:
        pytest.skip("OGCSERVE_TEST_POSTGIS is not set")
    table = f"keyed_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {table} (label text NOT NULL UNIQUE, pk serial PRIMARY KEY,"
            " code text, geom geometry(Point, 4326))"
        )
        conn.execute(
            f"INSERT INTO {table} (label, code, geom) SELECT 'p' || g, NULL,"
            f" ST_SetSRID(ST_MakePoint(g, g), 4326) FROM generate_series(1, 5) g"
        )
    try:
        yield table
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}")


def _postgis(table: str, key: str | None = None, spec_key: str | None = None) -> Any:
    dsn = os.environ["OGCSERVE_TEST_POSTGIS"]
    spec = PostGISSpec(type="postgis", dsn=dsn, table=table, key=spec_key)
    return open_source(spec, Path("."), key=key)


@pytest.mark.postgis
def test_postgis_primary_key_is_an_attribute(pk_table: str) -> None:
    source = _postgis(pk_table)
    try:
        schema = source.schema()
        # In table order, the key where the table has it.
        assert schema.key == "pk" and schema.field_names() == ["label", "pk", "code"]
        key = next(f for f in schema.fields if f.name == "pk")
        assert key.type is FieldType.INTEGER and not key.nullable
        one = collect(source.query(FeatureQuery(filter=parse('"pk" = 1', "qgis"))))
        assert one.ids == one.columns["pk"] == [1] and one.columns["label"] == ["p1"]
        subset = collect(
            source.query(FeatureQuery(subsets=('"pk" IN (3, 4)',), properties=("pk",)))
        )
        assert sorted(subset.columns["pk"]) == [3, 4]
        top = collect(
            source.query(FeatureQuery(sort=(SortKey("pk", True),), limit=2, properties=("pk",)))
        )
        assert top.ids == top.columns["pk"] == [5, 4]
        with source.transaction() as tx:
            (new,) = tx.insert([Feature(None, shapely.Point(9, 9), {"label": "new"})])
        assert new == 6 and source.get(6).properties["pk"] == 6
    finally:
        source.close()


@pytest.mark.postgis
def test_postgis_layer_key(pk_table: str) -> None:
    source = _postgis(pk_table, key="label")
    try:
        assert source.schema().key == "label"
        p2 = source.get("p2")
        assert p2 is not None and p2.properties["pk"] == 2 and p2.properties["label"] == "p2"
        with pytest.raises(ConstraintError) as info, source.transaction() as tx:
            tx.insert([Feature(None, shapely.Point(9, 9), {"code": "x"})])
        # The source says which column; the access layer names it to callers who may read it.
        assert info.value.column == "label"
    finally:
        source.close()
    _postgis(pk_table, key="label", spec_key="label").close()  # the same key twice is fine
    with pytest.raises(SourceUnavailableError, match="differ"):
        _postgis(pk_table, key="label", spec_key="pk")
