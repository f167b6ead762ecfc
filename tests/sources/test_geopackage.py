"""GeoPackageSource against the demo GeoPackage (copied before writes)."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely

from ogcserve.errors import InvalidParameterValueError
from ogcserve.features import Feature, FeatureBatch, FeatureQuery, FieldType, SortKey
from ogcserve.sources.base import ConstraintError, FeatureSource, SourceUnavailableError
from ogcserve.sources.geopackage import GeoPackageSource
from ogcserve.sources.gpkg_binary import (
    encode_gpkg_geometry,
    gpkg_envelope,
    gpkg_wkb,
    strip_gpkg_headers,
)


def collect(batches: Any) -> FeatureBatch:
    """All batches of a result as one."""
    ids: list[Any] = []
    geoms: list[Any] = []
    columns: dict[str, list[Any]] = {}
    has_geoms = True
    for b in batches:
        ids.extend(b.ids)
        if b.geometries is None:
            has_geoms = False
        else:
            geoms.extend(b.geometries)
        for k, v in b.columns.items():
            columns.setdefault(k, []).extend(v)
    return FeatureBatch(ids, np.array(geoms, dtype=object) if has_geoms else None, columns)


@pytest.fixture
def countries(demo_gpkg: Path) -> Any:
    src = GeoPackageSource(demo_gpkg, "countries")
    yield src
    src.close()


@pytest.fixture
def writable(gpkg_copy: Path) -> Any:
    src = GeoPackageSource(gpkg_copy, "countries")
    yield src
    src.close()


def test_schema_crs_extent(countries: GeoPackageSource) -> None:
    assert isinstance(countries, FeatureSource)
    schema = countries.schema()
    assert schema.key == "fid"
    assert schema.geometry_field == "geom"
    assert schema.geometry_type == "MULTIPOLYGON"
    # The key is an attribute, first as in the table (QGIS Server publishes it the same way).
    assert schema.field_names() == ["fid", "pop_est", "continent", "name", "iso_a3", "gdp_md_est"]
    types = {f.name: f.type for f in schema.fields}
    assert types["fid"] is FieldType.INTEGER
    assert types["pop_est"] is FieldType.REAL
    assert types["gdp_md_est"] is FieldType.INTEGER
    assert types["name"] is FieldType.TEXT
    assert countries.crs() == "EPSG:4326"
    assert countries.extent() == pytest.approx((-180.0, -90.0, 180.0, 83.64513))
    assert countries.count(FeatureQuery()) == 177


def test_other_tables_crs(demo_gpkg: Path) -> None:
    for table, crs, n in (
        ("nyc_boroughs", "EPSG:2263", 5),
        ("nc_counties", "EPSG:4267", 100),
        ("cities", "EPSG:4326", 243),
    ):
        src = GeoPackageSource(demo_gpkg, table)
        try:
            assert src.crs() == crs
            assert src.count(FeatureQuery()) == n
        finally:
            src.close()


def test_full_read_decodes_all_geometries(countries: GeoPackageSource) -> None:
    result = collect(countries.query(FeatureQuery(), batch_size=50))
    assert len(result) == 177
    assert result.geometries is not None
    assert all(g.geom_type == "MultiPolygon" and g.is_valid for g in result.geometries)
    assert set(result.columns) == {"fid", "pop_est", "continent", "name", "iso_a3", "gdp_md_est"}
    assert result.columns["fid"] == result.ids


def test_batches_respect_batch_size(countries: GeoPackageSource) -> None:
    sizes = [len(b) for b in countries.query(FeatureQuery(), batch_size=50)]
    assert sizes == [50, 50, 50, 27]


def test_bbox_matches_shapely_intersects(countries: GeoPackageSource) -> None:
    bbox = (0.0, 40.0, 20.0, 55.0)
    everything = collect(countries.query(FeatureQuery()))
    assert everything.geometries is not None
    expected = {
        fid
        for fid, g in zip(everything.ids, everything.geometries, strict=True)
        if g.intersects(shapely.box(*bbox))
    }
    result = collect(countries.query(FeatureQuery(bbox=bbox)))
    assert set(result.ids) == expected
    assert "France" in result.columns["name"]
    assert countries.count(FeatureQuery(bbox=bbox)) == len(expected)


@pytest.mark.parametrize(
    "bbox",
    [
        (-180.0, -90.0, 180.0, 90.0),  # every envelope inside
        (-30.0, 30.0, 60.0, 75.0),  # many inside, many across the edges
        (-25.0, 35.0, -10.0, 45.0),  # Atlantic: envelopes (France, Spain...) cross, land does not
        (5.9, 45.8, 10.5, 47.8),  # inside one country's envelope
    ],
)
@pytest.mark.parametrize("subsets", [(), ("continent = 'Europe'",)])
def test_count_with_a_bbox_is_exact(
    countries: GeoPackageSource,
    bbox: tuple[float, float, float, float],
    subsets: tuple[str, ...],
) -> None:
    # Envelopes inside the bbox are counted from the R-tree, the others by their geometry:
    # the total must be the exact intersects count all the same.
    everything = collect(countries.query(FeatureQuery(subsets=subsets)))
    assert everything.geometries is not None
    box = shapely.box(*bbox)
    expected = sum(1 for g in everything.geometries if g.intersects(box))
    assert countries.count(FeatureQuery(bbox=bbox, subsets=subsets)) == expected
    assert len(collect(countries.query(FeatureQuery(bbox=bbox, subsets=subsets)))) == expected


def test_bbox_without_geometry(countries: GeoPackageSource) -> None:
    result = collect(countries.query(FeatureQuery(bbox=(0, 40, 20, 55), with_geometry=False)))
    assert result.geometries is None
    assert len(result) > 5


def test_sort_limit_offset(countries: GeoPackageSource) -> None:
    q = FeatureQuery(sort=(SortKey("pop_est", descending=True),), limit=3, properties=("name",))
    top = collect(countries.query(q))
    assert top.columns == {"name": ["China", "India", "United States of America"]}
    page2 = collect(
        countries.query(
            FeatureQuery(sort=(SortKey("pop_est", descending=True),), limit=2, offset=1)
        )
    )
    assert page2.columns["name"] == ["India", "United States of America"]


def test_sort_limit_offset_with_bbox_paged_in_python(countries: GeoPackageSource) -> None:
    bbox = (-20.0, 30.0, 40.0, 70.0)
    sort = (SortKey("name"),)
    names = collect(countries.query(FeatureQuery(bbox=bbox, sort=sort))).columns["name"]
    assert names == sorted(names)
    page = collect(countries.query(FeatureQuery(bbox=bbox, sort=sort, limit=5, offset=3)))
    assert page.columns["name"] == names[3:8]


def test_properties_and_unknown_names(countries: GeoPackageSource) -> None:
    result = collect(countries.query(FeatureQuery(properties=("iso_a3", "fid"), limit=2)))
    assert list(result.columns) == ["fid", "iso_a3"]  # schema order; the key is an attribute
    assert result.columns["fid"] == result.ids
    with pytest.raises(InvalidParameterValueError):
        countries.query(FeatureQuery(properties=("nope",)))
    with pytest.raises(InvalidParameterValueError):
        countries.query(FeatureQuery(sort=(SortKey("name; DROP TABLE countries"),)))


def test_ids_and_get(countries: GeoPackageSource) -> None:
    result = collect(countries.query(FeatureQuery(ids=(3, "5", "x", 10_000))))
    assert sorted(result.ids) == [3, 5]
    feature = countries.get(1)
    assert feature is not None
    assert feature.id == 1
    assert feature.geometry is not None
    assert set(feature.properties) == {
        "fid",
        "pop_est",
        "continent",
        "name",
        "iso_a3",
        "gdp_md_est",
    }
    assert feature.properties["fid"] == 1
    assert countries.get(99999) is None
    assert countries.get("not-a-number") is None


def test_get_respects_query(countries: GeoPackageSource) -> None:
    france = collect(
        countries.query(FeatureQuery(subsets=("name = 'France'",), with_geometry=False))
    )
    fid = france.ids[0]
    assert countries.get(fid, FeatureQuery(subsets=("continent = 'Europe'",))) is not None
    assert countries.get(fid, FeatureQuery(subsets=("continent = 'Asia'",))) is None
    assert countries.get(fid, FeatureQuery(bbox=(100, -10, 120, 0))) is None


def test_subsets_are_anded(countries: GeoPackageSource) -> None:
    q = FeatureQuery(subsets=("continent = 'Europe'", "pop_est > 50000000"))
    result = collect(countries.query(q))
    assert set(result.columns["name"]) >= {"Germany", "France", "United Kingdom"}
    assert all(c == "Europe" for c in result.columns["continent"])
    assert countries.count(q) == len(result)


def test_sql_payload_in_ids_is_harmless(countries: GeoPackageSource) -> None:
    payload = "1); DROP TABLE countries; --"
    assert collect(countries.query(FeatureQuery(ids=(payload,)))).ids == []
    assert countries.count(FeatureQuery()) == 177


def test_missing_file_and_table(tmp_path: Path, demo_gpkg: Path) -> None:
    with pytest.raises(SourceUnavailableError, match=r"missing\.gpkg"):
        GeoPackageSource(tmp_path / "missing.gpkg", "countries")
    with pytest.raises(SourceUnavailableError, match="nope"):
        GeoPackageSource(demo_gpkg, "nope")
    bad = tmp_path / "bad.gpkg"
    bad.write_bytes(b"not a database at all" * 100)
    with pytest.raises(SourceUnavailableError, match=r"bad\.gpkg"):
        GeoPackageSource(bad, "countries")


def test_reads_from_many_threads(countries: GeoPackageSource) -> None:
    errors: list[BaseException] = []
    counts: list[int] = []

    def work() -> None:
        try:
            for _ in range(5):
                counts.append(len(collect(countries.query(FeatureQuery(bbox=(0, 0, 50, 50))))))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(counts)) == 1 and len(counts) == 40


def test_stream_resumed_on_another_thread(countries: GeoPackageSource) -> None:
    stream = countries.query(FeatureQuery(), batch_size=10)
    first = next(stream)
    rest: list[int] = []
    t = threading.Thread(target=lambda: rest.extend(len(b) for b in stream))
    t.start()
    t.join()
    assert len(first) + sum(rest) == 177


def test_gp_header_roundtrip() -> None:
    geom = shapely.box(1, 2, 3, 4)
    blob = encode_gpkg_geometry(geom, 4326)
    assert blob is not None and blob[:2] == b"GP"
    assert gpkg_envelope(blob) == (1.0, 3.0, 2.0, 4.0)
    (wkb,) = strip_gpkg_headers([blob])
    assert shapely.from_wkb(wkb).equals(geom)
    empty = encode_gpkg_geometry(shapely.Point(), 4326)
    assert gpkg_envelope(empty) is None
    # No envelope (code 0): the WKB starts right after the 8 header bytes.
    bare = b"GP\x00\x01" + (4326).to_bytes(4, "little") + shapely.Point(5, 6).wkb
    assert gpkg_envelope(bare) == (5.0, 5.0, 6.0, 6.0)
    assert shapely.from_wkb(strip_gpkg_headers([bare])[0]).equals(shapely.Point(5, 6))
    assert strip_gpkg_headers([None, b"GP"]) == [None, None]


def test_packed_wkb_is_the_same_cut_as_strip_gpkg_headers(demo_gpkg: Path) -> None:
    with sqlite3.connect(demo_gpkg) as conn:
        blobs = [row[0] for row in conn.execute("SELECT geom FROM countries")]
    bare = b"GP\x00\x01" + (4326).to_bytes(4, "little") + shapely.Point(5, 6).wkb
    bad_code = b"GP\x00\x0b" + bytes(80)  # envelope code 5: invalid
    blobs += [None, b"GP", bare, bad_code, b""]
    assert gpkg_wkb(blobs).blobs() == strip_gpkg_headers(blobs)


@pytest.mark.parametrize("exact", [True, False])
def test_drawing_reads_hand_over_wkb_when_nothing_needs_shapely(
    countries: GeoPackageSource, exact: bool
) -> None:
    bbox = (-25.0, 35.0, -10.0, 45.0)  # envelopes of France, Spain... cross; their land does not
    batches = list(countries.query(FeatureQuery(bbox=bbox, exact=exact, wkb=True)))
    fids = [fid for b in batches for fid in b.ids]
    if exact:  # the exact test needs shapely objects: they come decoded, and fewer
        assert all(b.wkb is None and b.geometries is not None for b in batches)
        by_envelope = [
            f for b in countries.query(FeatureQuery(bbox=bbox, exact=False)) for f in b.ids
        ]
        assert len(fids) < len(by_envelope) and set(fids) <= set(by_envelope)
    else:
        assert all(b.geometries is None and b.wkb is not None for b in batches)
        everything = collect(countries.query(FeatureQuery(ids=tuple(fids))))
        assert everything.geometries is not None
        wkb = [g for b in batches if b.wkb is not None for g in b.wkb.geometries()]
        assert all(shapely.equals(a, b) for a, b in zip(wkb, everything.geometries, strict=True))
        assert "France" in [n for b in batches for n in b.columns["name"]]
    # A filter evaluated in Python needs the objects too.
    from ogcserve.expressions import parse

    python_filter = parse("S_INTERSECTS(geom, POLYGON((-20 38, -12 38, -12 44, -20 44, -20 38)))")
    filtered = list(
        countries.query(FeatureQuery(bbox=bbox, exact=False, wkb=True, filter=python_filter))
    )
    assert all(b.wkb is None for b in filtered)


# -- writes ------------------------------------------------------------------------------------


def test_insert_update_delete_commit(writable: GeoPackageSource, gpkg_copy: Path) -> None:
    poly = shapely.box(-30, -30, -29, -29)  # a Polygon for a MULTIPOLYGON table: promoted
    with writable.transaction() as tx:
        ids = tx.insert(
            [
                Feature(None, poly, {"name": "Atlantis", "pop_est": "12", "continent": "Sea"}),
                Feature(None, None, {"name": "Nowhere"}),
            ]
        )
        assert len(ids) == 2 and ids[0] > 177
        inside = tx.get(ids[0])
        assert inside is not None and inside.properties["name"] == "Atlantis"
        tx.update(ids[1], {"gdp_md_est": 5}, shapely.Point(-40, -40).buffer(1))
        assert tx.delete([1, 2, 99999]) == 2
    assert writable.count(FeatureQuery()) == 177 + 2 - 2
    atlantis = writable.get(ids[0])
    assert atlantis is not None
    assert atlantis.properties["pop_est"] == 12.0
    assert atlantis.geometry.geom_type == "MultiPolygon"
    assert atlantis.geometry.equals(shapely.MultiPolygon([poly]))
    # The R-tree was maintained by the triggers (our ST_* functions): bbox finds new features.
    found = collect(writable.query(FeatureQuery(bbox=(-29.8, -29.8, -29.6, -29.6))))
    assert found.ids == [ids[0]]
    moved = collect(writable.query(FeatureQuery(bbox=(-40.5, -40.5, -39.5, -39.5))))
    assert ids[1] in moved.ids
    assert writable.get(1) is None
    # Another process (plain sqlite3) sees a valid R-tree entry too.
    with sqlite3.connect(gpkg_copy) as conn:
        row = conn.execute(
            "SELECT minx, maxx, miny, maxy FROM rtree_countries_geom WHERE id = ?", (ids[0],)
        ).fetchone()
    assert row == pytest.approx((-30, -29, -30, -29), abs=1e-4)


def test_constraint_violation_rolls_back_everything(writable: GeoPackageSource) -> None:
    before = collect(writable.query(FeatureQuery(sort=(SortKey("fid"),))))
    with pytest.raises(ConstraintError), writable.transaction() as tx:
        tx.insert([Feature(None, shapely.box(0, 0, 1, 1), {"name": "first"})])
        tx.update(3, {"name": "changed"})
        tx.delete([4])
        tx.insert([Feature(None, None, {"gdp_md_est": "not a number"})])
    with pytest.raises(ConstraintError), writable.transaction() as tx:
        tx.insert([Feature(1, None, {"name": "duplicate key"})])
    after = collect(writable.query(FeatureQuery(sort=(SortKey("fid"),))))
    assert after.ids == before.ids
    assert after.columns == before.columns


def test_swallowed_error_still_rolls_back(writable: GeoPackageSource) -> None:
    with pytest.raises(ConstraintError), writable.transaction() as tx:
        tx.update(3, {"name": "changed"})
        with contextlib.suppress(ConstraintError):
            tx.insert([Feature(None, None, {"nope": 1})])
    feature = writable.get(3)
    assert feature is not None and feature.properties["name"] != "changed"


def test_not_null_violation(gpkg_copy: Path) -> None:
    with sqlite3.connect(gpkg_copy) as conn:
        conn.execute("CREATE TABLE strict_t (fid INTEGER PRIMARY KEY, label TEXT NOT NULL)")
    src = GeoPackageSource(gpkg_copy, "strict_t")
    try:
        with pytest.raises(ConstraintError, match="NOT NULL"), src.transaction() as tx:
            tx.insert([Feature(None, None, {"label": "ok"})])
            tx.insert([Feature(None, None, {})])
        assert src.count(FeatureQuery()) == 0
        assert src.schema().geometry_field is None
    finally:
        src.close()


def test_sql_payload_in_values_is_stored_verbatim(writable: GeoPackageSource) -> None:
    payload = "x'); DROP TABLE countries; --"
    with writable.transaction() as tx:
        (fid,) = tx.insert([Feature(None, None, {"name": payload})])
        tx.update(fid, {"continent": payload})
    feature = writable.get(fid)
    assert feature is not None
    assert feature.properties["name"] == payload == feature.properties["continent"]
    assert writable.count(FeatureQuery()) == 178
