"""OGRSource on files written from the demo data; RasterSource; open_source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
import pytest
import shapely

from ogcserve.coverages import CoverageRequest
from ogcserve.errors import InvalidCRSError, InvalidParameterValueError
from ogcserve.features import FeatureQuery, FieldType, SortKey
from ogcserve.sources import expand_env, open_source
from ogcserve.sources.base import (
    CoverageSource,
    FeatureSource,
    ReadOnlySourceError,
    SourceUnavailableError,
)
from ogcserve.sources.geopackage import GeoPackageSource
from ogcserve.sources.ogr import OGRSource
from ogcserve.sources.raster import RasterSource
from ogcserve.sources.specs import GeoPackageSpec, OGRSpec, PostGISSpec, RasterSpec

from .test_geopackage import collect

FIELDS = ["pop_est", "continent", "name", "iso_a3", "gdp_md_est"]
FORMATS = {"ESRI Shapefile": "shp", "GeoJSON": "geojson", "FlatGeobuf": "fgb"}


@pytest.fixture(scope="module")
def vector_files(tmp_path_factory: pytest.TempPathFactory, demo_gpkg: Path) -> dict[str, Path]:
    """The demo countries in each OGR format, written with pyogrio's raw API (FIDs from 0)."""
    src = GeoPackageSource(demo_gpkg, "countries")
    data = collect(src.query(FeatureQuery(sort=(SortKey("fid"),))))
    src.close()
    assert data.geometries is not None
    folder = tmp_path_factory.mktemp("ogr")
    arrays = [
        np.array(data.columns[n], dtype=object if n in ("continent", "name", "iso_a3") else None)
        for n in FIELDS
    ]
    out = {}
    for driver, ext in FORMATS.items():
        path = folder / f"countries.{ext}"
        pyogrio.raw.write(
            path,
            shapely.to_wkb(data.geometries),
            arrays,
            FIELDS,
            driver=driver,
            geometry_type="MultiPolygon",
            crs="EPSG:4326",
        )
        out[ext] = path
    return out


@pytest.fixture(params=list(FORMATS.values()))
def ogr(request: pytest.FixtureRequest, vector_files: dict[str, Path]) -> Any:
    source = OGRSource(vector_files[request.param])
    yield source
    source.close()


def test_ogr_schema_crs_extent_count(ogr: OGRSource) -> None:
    assert isinstance(ogr, FeatureSource)
    schema = ogr.schema()
    # The FID is an attribute, first, under the name the driver gives it (else "fid").
    assert schema.key == "fid" and schema.field_names() == ["fid", *FIELDS]
    types = {f.name: f.type for f in schema.fields}
    assert types["fid"] is FieldType.INTEGER
    assert types["pop_est"] is FieldType.REAL and types["name"] is FieldType.TEXT
    assert types["gdp_md_est"] is FieldType.INTEGER
    assert ogr.crs() == "EPSG:4326"
    assert ogr.extent() == pytest.approx((-180, -90, 180, 83.64513), abs=1e-6)
    assert ogr.count(FeatureQuery()) == 177


def test_ogr_bbox_is_exact(ogr: OGRSource) -> None:
    bbox = (0.0, 40.0, 20.0, 55.0)
    everything = collect(ogr.query(FeatureQuery()))
    assert everything.geometries is not None and len(everything) == 177
    expected = {
        fid
        for fid, g in zip(everything.ids, everything.geometries, strict=True)
        if g.intersects(shapely.box(*bbox))
    }
    assert set(collect(ogr.query(FeatureQuery(bbox=bbox), batch_size=4)).ids) == expected
    assert ogr.count(FeatureQuery(bbox=bbox)) == len(expected)
    for offset, limit in ((0, None), (2, 5), (len(expected) - 2, 5)):
        page = FeatureQuery(bbox=bbox, offset=offset, limit=limit)
        assert ogr.count(page, paged=True) == len(collect(ogr.query(page)).ids)


def test_ogr_sort_page_properties_ids(ogr: OGRSource) -> None:
    sort = (SortKey("pop_est", descending=True),)
    top = collect(ogr.query(FeatureQuery(sort=sort, limit=2, offset=1, properties=("name",))))
    assert top.columns == {"name": ["India", "United States of America"]}
    page = collect(ogr.query(FeatureQuery(limit=5, offset=10, with_geometry=False)))
    assert page.ids == list(range(10, 15)) and page.geometries is None
    assert sorted(collect(ogr.query(FeatureQuery(ids=(3, "5", "x", 99999)))).ids) == [3, 5]
    feature = ogr.get(0)
    assert feature is not None and feature.id == 0 and feature.geometry is not None
    assert ogr.get(10_000) is None
    with pytest.raises(InvalidParameterValueError):
        ogr.query(FeatureQuery(properties=("nope",)))


def test_ogr_subset_strings_restrict_rows(ogr: OGRSource) -> None:
    europe = FeatureQuery(
        subsets=("continent = 'Europe'",), with_geometry=False, properties=("continent",)
    )
    rows = collect(ogr.query(europe))
    assert len(rows) == ogr.count(europe) > 0
    assert set(rows.columns["continent"]) == {"Europe"}
    both = FeatureQuery(subsets=("continent = 'Europe'", "pop_est > 50000000"), ids=rows.ids[:40])
    assert 0 < len(collect(ogr.query(both))) < 40
    outside = next(fid for fid in range(177) if fid not in set(rows.ids))
    assert ogr.get(outside, europe) is None and ogr.get(rows.ids[0], europe) is not None


def test_ogr_is_read_only(ogr: OGRSource) -> None:
    with pytest.raises(ReadOnlySourceError):
        ogr.transaction()


def test_ogr_missing(tmp_path: Path, vector_files: dict[str, Path]) -> None:
    with pytest.raises(SourceUnavailableError, match=r"nothing\.shp"):
        OGRSource(tmp_path / "nothing.shp")
    with pytest.raises(SourceUnavailableError, match="nolayer"):
        OGRSource(vector_files["fgb"], layer="nolayer")


# -- raster ------------------------------------------------------------------------------------


@pytest.fixture
def raster(demo_tif: Path) -> Any:
    source = RasterSource(demo_tif)
    yield source
    source.close()


def test_raster_info(raster: RasterSource) -> None:
    assert isinstance(raster, CoverageSource)
    info = raster.info()
    assert info.crs == "EPSG:4326"
    assert (info.width, info.height, info.band_count) == (95, 90, 1)
    assert info.dtype == "int16" and info.nodata == -32768
    assert info.extent == pytest.approx((5.7417, 49.4417, 6.5333, 50.1917), abs=1e-3)


def test_raster_native_grid_read(raster: RasterSource, demo_tif: Path) -> None:
    import rasterio

    info = raster.info()
    data = raster.read(CoverageRequest(info.extent, "EPSG:4326", info.width, info.height))
    with rasterio.open(demo_tif) as ds:
        native = ds.read(masked=True)
    assert data.shape == native.shape
    assert np.array_equal(data.mask, native.mask)
    assert np.array_equal(data.filled(0), native.filled(0))


def test_raster_outside_is_masked_and_reprojection(raster: RasterSource) -> None:
    # Wider than the raster: the margin is masked although it never held nodata.
    data = raster.read(CoverageRequest((5.5, 49.3, 6.7, 50.3), "EPSG:4326", 120, 100))
    assert data.shape == (1, 100, 120)
    assert data.mask[0, 0, 0] and data.mask[0, -1, -1]
    assert data.min() > 100 and data.max() < 600
    merc = raster.read(
        CoverageRequest((650000, 6380000, 720000, 6460000), "EPSG:3857", 64, 64, "bilinear")
    )
    assert merc.shape == (1, 64, 64) and merc.count() > 1000
    with pytest.raises(InvalidParameterValueError):
        raster.read(CoverageRequest((5, 49, 6, 50), "EPSG:4326", 10, 10, bands=(2,)))
    with pytest.raises(InvalidParameterValueError):
        raster.read(CoverageRequest((5, 49, 6, 50), "EPSG:4326", 10, 10, "magic"))
    with pytest.raises(InvalidCRSError):
        raster.read(CoverageRequest((5, 49, 6, 50), "EPSG:999999", 10, 10))


def test_raster_missing(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailableError, match=r"no\.tif"):
        RasterSource(tmp_path / "no.tif")


# -- open_source -------------------------------------------------------------------------------


def test_open_source_resolves_relative_paths(demo_gpkg: Path, demo_tif: Path) -> None:
    base = demo_gpkg.parent
    gpkg = open_source(GeoPackageSpec(type="geopackage", path=demo_gpkg.name, table="cities"), base)
    assert isinstance(gpkg, GeoPackageSource) and gpkg.count(FeatureQuery()) == 243
    gpkg.close()
    tif = open_source(RasterSpec(type="raster", path=demo_tif.name), base)
    assert isinstance(tif, RasterSource)
    tif.close()


def test_open_source_missing(tmp_path: Path, vector_files: dict[str, Path]) -> None:
    with pytest.raises(SourceUnavailableError, match=r"gone\.gpkg"):
        open_source(GeoPackageSpec(type="geopackage", path="gone.gpkg", table="t"), tmp_path)
    with pytest.raises(SourceUnavailableError, match=r"gone\.shp"):
        open_source(OGRSpec(type="ogr", path="gone.shp"), tmp_path)
    with pytest.raises(SourceUnavailableError, match=r"gone\.tif"):
        open_source(RasterSpec(type="raster", path="gone.tif"), tmp_path)
    fgb = open_source(OGRSpec(type="ogr", path=str(vector_files["fgb"])), tmp_path)
    assert isinstance(fgb, OGRSource)
    with pytest.raises(SourceUnavailableError, match="OGCSERVE_UNSET_VARIABLE"):
        open_source(
            PostGISSpec(
                type="postgis", dsn="postgresql://${OGCSERVE_UNSET_VARIABLE}@x/db", table="t"
            ),
            tmp_path,
        )


def test_open_source_unreachable_database(tmp_path: Path) -> None:
    from ogcserve.access import AccessLayer

    spec = PostGISSpec(
        type="postgis", dsn="postgresql://nobody@127.0.0.1:1/none?connect_timeout=1", table="t"
    )
    # The check (`ogcserve check`, `serve` at start-up) tells the operator which database...
    with pytest.raises(SourceUnavailableError) as info:
        AccessLayer().check_source(spec, tmp_path)
    assert "none" in info.value.message and "Traceback" not in info.value.message
    # ...a request is told it is down (503), not where it is; the source connects on first use.
    source = open_source(spec, tmp_path)
    try:
        with pytest.raises(SourceUnavailableError) as down:
            source.schema()  # type: ignore[union-attr]
        assert down.value.status == 503 and "none" not in down.value.message
    finally:
        source.close()


def test_expand_env() -> None:
    env = {"USER_X": "alice", "PW": "s3cr%t"}
    assert expand_env("postgresql://${USER_X}:${PW}@h/db", env) == "postgresql://alice:s3cr%t@h/db"
    assert expand_env("no vars", env) == "no vars"
