"""Filters on every feature backend: pushed SQL, Python residuals, and paging after residuals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ogcserve.errors import FilterError
from ogcserve.expressions import parse
from ogcserve.features import FeatureQuery, SortKey
from ogcserve.sources.geopackage import GeoPackageSource

from .test_geopackage import collect

BY_NAME = (SortKey("name"),)


def names(source: Any, query: FeatureQuery) -> list[str]:
    return list(collect(source.query(query, batch_size=7)).columns.get("name", []))


def all_rows(source: Any) -> list[dict[str, Any]]:
    batch = collect(source.query(FeatureQuery(sort=BY_NAME, with_geometry=False)))
    return [f.properties | {"$id": f.id} for f in batch.rows()]


@pytest.fixture
def gpkg(demo_gpkg: Path) -> Any:
    source = GeoPackageSource(demo_gpkg, "countries")
    yield source
    source.close()


def check_source(source: Any) -> None:
    rows = all_rows(source)
    # Pushed entirely to SQL.
    expected = [r["name"] for r in rows if r["continent"] == "Europe" and r["pop_est"] > 5e7]
    q = FeatureQuery(filter=parse("continent = 'Europe' AND pop_est > 50000000"), sort=BY_NAME)
    assert names(source, q) == expected
    assert source.count(q) == len(expected)
    # lower() is never pushed to SQLite: a residual. Paging must follow the residual.
    residual = parse("continent = 'Africa' AND lower(name) LIKE 'b%'")
    expected = [
        r["name"] for r in rows if r["continent"] == "Africa" and r["name"].lower().startswith("b")
    ]
    assert len(expected) >= 3
    assert names(source, FeatureQuery(filter=residual, sort=BY_NAME)) == expected
    paged = FeatureQuery(filter=residual, sort=BY_NAME, limit=2, offset=1)
    assert names(source, paged) == expected[1:3]
    assert source.count(paged) == len(expected)
    # Residual plus bbox plus a property subset that the residual needs but does not return.
    only_iso = FeatureQuery(filter=residual, properties=("iso_a3",), bbox=(-20, -40, 55, 40))
    result = collect(source.query(only_iso))
    assert list(result.columns) == ["iso_a3"] and len(result) == len(expected)
    # The feature id.
    fid = rows[0]["$id"]
    assert collect(source.query(FeatureQuery(filter=parse(f'"$id" = {fid}')))).ids == [fid]
    # Values with SQL in them are just values.
    payload = parse("name = 'x'' OR 1=1; DROP TABLE countries; --'")
    assert names(source, FeatureQuery(filter=payload)) == []
    assert source.count(FeatureQuery()) == 177
    with pytest.raises(FilterError):
        source.query(FeatureQuery(filter=parse("nope = 1")))
    # get() honours the filter.
    france = collect(source.query(FeatureQuery(filter=parse("name = 'France'")))).ids[0]
    assert source.get(france, FeatureQuery(filter=parse("lower(name) = 'france'"))) is not None
    assert source.get(france, FeatureQuery(filter=parse("lower(name) = 'spain'"))) is None


def test_geopackage_filters(gpkg: GeoPackageSource) -> None:
    check_source(gpkg)


def test_ogr_filters(tmp_path: Path, gpkg: GeoPackageSource) -> None:
    import numpy as np
    import pyogrio.raw
    import shapely

    from ogcserve.sources.ogr import OGRSource

    data = collect(gpkg.query(FeatureQuery(sort=(SortKey("fid"),))))
    assert data.geometries is not None
    fields = ["pop_est", "continent", "name", "iso_a3", "gdp_md_est"]
    path = tmp_path / "countries.fgb"
    pyogrio.raw.write(
        path,
        shapely.to_wkb(data.geometries),
        [
            np.array(data.columns[n], dtype=object if n not in ("pop_est", "gdp_md_est") else None)
            for n in fields
        ],
        fields,
        driver="FlatGeobuf",
        geometry_type="MultiPolygon",
        crs="EPSG:4326",
    )
    source = OGRSource(path)
    check_source(source)


@pytest.mark.postgis
def test_postgis_filters(pg_tables: dict[str, str]) -> None:
    from ogcserve.sources.postgis import PostGISSource

    from .test_postgis import DSN

    if not DSN:
        pytest.skip("OGCSERVE_TEST_POSTGIS is not set")
    source = PostGISSource(DSN, pg_tables["countries"])
    try:
        check_source(source)
        # Spatial predicates are pushed to PostGIS.
        q = FeatureQuery(filter=parse("S_INTERSECTS(geom, POINT(2.35 48.85))"))
        assert names(source, q) == ["France"]
    finally:
        source.close()
