"""Data source strings as QGIS writes them, read into source specs."""

from __future__ import annotations

from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from ogcserve.projects.qgis.sources import (
    UnsupportedSourceError,
    layer_source,
    parse_postgres_uri,
)
from ogcserve.sources.specs import GeoPackageSpec, OGRSpec, PostGISSpec, RasterSpec

DEMO_DIR = Path(__file__).resolve().parents[3] / "src" / "ogcserve" / "demo"


def test_postgres_uri_every_part() -> None:
    uri = (
        "dbname='gis db' host=db.example port=5433 user='me' password='it\\'s' "
        "sslmode=require key='gid' srid=3857 type=MultiPolygon checkPrimaryKeyUnicity='1' "
        'table="my schema"."roads ""a""" (the_geom) sql="kind" = \'a b\' AND "x" > 1'
    )
    source = layer_source("postgres", uri, Path("/p"))
    spec = source.spec
    assert isinstance(spec, PostGISSpec)
    assert (spec.table, spec.geometry, spec.key) == ('my schema.roads "a"', "the_geom", "gid")
    assert conninfo_to_dict(spec.dsn) == {
        "dbname": "gis db",
        "host": "db.example",
        "port": "5433",
        "user": "me",
        "password": "it's",
        "sslmode": "require",
    }
    assert source.subset == '"kind" = \'a b\' AND "x" > 1'


def test_postgres_uri_service_enum_sslmode_and_plain_table() -> None:
    options, table, geometry, sql = parse_postgres_uri(
        "service='prod' sslmode=SslVerifyFull table=roads"
    )
    assert (table, geometry, sql) == ("roads", None, "")
    spec = layer_source("postgres", "service='prod' sslmode=SslVerifyFull table=roads", Path("/"))
    assert isinstance(spec.spec, PostGISSpec)
    assert conninfo_to_dict(spec.spec.dsn) == {"service": "prod", "sslmode": "verify-full"}
    assert options["service"] == "prod"


def test_postgres_composite_key_left_to_the_table() -> None:
    source = layer_source("postgres", 'dbname=g key=\'"a","b"\' table="s"."t" (g)', Path("/"))
    assert isinstance(source.spec, PostGISSpec) and source.spec.key is None


@pytest.mark.parametrize(
    ("provider", "datasource", "message"),
    [
        ("postgres", 'dbname=g authcfg=abc1234 table="s"."t" (g)', "authcfg"),
        ("postgres", "dbname=g host=h", "names no table"),
        ("ogr", "/vsizip//data/a.zip/a.shp", "is not a file path"),
        ("ogr", "WFS:https://example.com/wfs", "is not a file path"),
        ("ogr", "./data.csv", "only GeoPackage, Shapefile, GeoJSON and FlatGeobuf"),
        ("gdal", "/vsicurl/https://example.com/a.tif", "is not a file path"),
        ("wms", "url=https://example.com/wms&layers=a", "the provider 'wms' is not supported"),
        ("memory", "Point?crs=EPSG:4326", "the provider 'memory' is not supported"),
    ],
)
def test_unsupported_sources(provider: str, datasource: str, message: str) -> None:
    with pytest.raises(UnsupportedSourceError, match=message):
        layer_source(provider, datasource, Path("/p"))


def test_ogr_sources() -> None:
    gpkg = layer_source(
        "ogr", "./natural_earth.gpkg|layername=cities|subset=\"a\" = 'x|y'", DEMO_DIR
    )
    assert gpkg.spec == GeoPackageSpec(
        type="geopackage", path="./natural_earth.gpkg", table="cities"
    )
    assert gpkg.subset == "\"a\" = 'x|y'"
    by_index = layer_source("ogr", "./natural_earth.gpkg|layerid=0", DEMO_DIR)
    assert isinstance(by_index.spec, GeoPackageSpec) and by_index.spec.table
    shapefile = layer_source("ogr", "/abs/roads.shp", DEMO_DIR)
    assert shapefile.spec == OGRSpec(type="ogr", path="/abs/roads.shp")
    raster = layer_source("gdal", "../dem.tif", DEMO_DIR)
    assert raster.spec == RasterSpec(type="raster", path="../dem.tif")
