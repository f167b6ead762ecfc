"""The QGIS projects of these tests, written once per session by PyQGIS (QgsProject.write)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from qgis_project_support import layer, make_data, qgis_missing, write_projects


def main_spec(folder: Path, out: str) -> dict[str, Any]:
    """Every ogr format, a raster, groups, names, metadata and the publishing settings."""
    gpkg = f"{folder}/natural_earth.gpkg"
    return {
        "out": str(folder / out),
        "title": "Main project",
        "groups": {
            "World Group": {"short": "world", "title": "The world", "abstract": "Grouped"},
            "Inner": {"parent": "World Group"},
            "Secret group": {},
        },
        "layers": [
            layer(
                "Countries",
                f"{gpkg}|layername=countries",
                group="World Group",
                short="countries",
                title="Countries of the world",
                abstract="Natural Earth countries",
                keywords=["boundaries", "population"],
                data_url="https://example.com/countries",
                attribution="Natural Earth",
                attribution_url="https://www.naturalearthdata.com/",
                metadata_url="https://example.com/countries/metadata",
                subset='"pop_est" > 50000000',
                scales=[1000, 500000000],
                hide_wms=["gdp_md_est", "iso_a3"],  # iso_a3: hidden from WMS only
                hide_wfs=["gdp_md_est", "continent"],  # continent: hidden from WFS only
                aliases={"pop_est": "Population", "continent": "Continent"},
            ),
            layer("cities", f"{folder}/cities.shp", group="Inner", subset="\"name\" LIKE 'B%'"),
            layer("countries_json", f"{folder}/countries.geojson", hidden=True),
            layer("boroughs", f"{folder}/boroughs.fgb", identifiable=False),
            layer("secret", f"{gpkg}|layername=cities", group="Secret group"),
            layer("hidden_places", f"{gpkg}|layername=cities"),
            layer("b_places", f"{gpkg}|layername=cities", subset="\"name\" LIKE 'b%'"),
            layer("elevation", f"{folder}/elevation.tif", "gdal", title="Elevation"),
        ],
        "settings": {
            "WMSServiceTitle": "Main WMS",
            "WMSServiceAbstract": "Served from a QGIS project",
            "WMSKeywordList": ["qgis", "test"],
            "WMSCrsList": ["EPSG:4326", "EPSG:3857"],
            "WMSRestrictedLayers": ["Secret group", "hidden_places"],
            "WFSLayers": [
                *("Countries", "cities", "countries_json", "boroughs", "b_places"),
                "hidden_places",  # restricted from WMS: served in WFS only
            ],
            "WFSTUpdate": ["Countries"],
            "WFSTInsert": ["Countries"],
            "WFSTDelete": ["cities"],  # a Shapefile: served read-only
            "WFSLayersPrecision": {"Countries": 3},
            "WCSLayers": ["elevation"],
            "WMSMaxWidth": "2000",
            "WMSMaxHeight": "1500",
            "WMSPrecision": "3",
            "WMSExtent": ["-20", "30", "40", "70"],
            "WMSContactPerson": "Ada Lovelace",
            "WMSContactOrganization": "Analytical Maps",
            "WMSContactPosition": "Cartographer",
            "WMSContactMail": "ada@example.com",
            "WMSContactPhone": "+44 20 0000 0000",
        },
    }


def bad_spec(folder: Path) -> dict[str, Any]:
    """A layer whose file goes away, an unknown provider, an untranslatable subset."""
    gpkg = f"{folder}/natural_earth.gpkg"
    csv = folder / "points.csv"
    csv.write_text("id,x,y\n1,2.35,48.85\n")
    return {
        "out": str(folder / "bad.qgs"),
        "title": "Bad layers",
        "layers": [
            layer("good", f"{gpkg}|layername=countries"),
            layer("gone", f"{folder}/gone.gpkg|layername=cities"),
            layer(
                "csv_points",
                f"file://{csv}?type=csv&xField=x&yField=y&crs=EPSG:4326",
                "delimitedtext",
            ),
            layer("globbed", f"{gpkg}|layername=countries", subset="\"name\" GLOB 'F*'"),
            layer("My places", f"{gpkg}|layername=cities"),
            layer("taken", f"{gpkg}|layername=cities", short="good"),
        ],
        "settings": {"WFSLayers": ["good", "gone", "csv_points", "globbed"]},
    }


@pytest.fixture(scope="session")
def qgis_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the data and the projects PyQGIS wrote over it."""
    reason = qgis_missing()
    if reason:
        pytest.skip(f"PyQGIS cannot write the projects: {reason}")
    folder = tmp_path_factory.mktemp("qgis")
    make_data(folder)
    pyogrio_copy = folder / "gone.gpkg"
    pyogrio_copy.write_bytes((folder / "natural_earth.gpkg").read_bytes())
    absolute = {
        "out": str(folder / "absolute.qgs"),
        "absolute": True,
        "layers": [
            layer("countries", f"{folder}/natural_earth.gpkg|layername=countries"),
            layer("cities", f"{folder}/cities.shp"),
            layer("elevation", f"{folder}/elevation.tif", "gdal"),
        ],
    }
    write_projects(
        [main_spec(folder, "main.qgs"), main_spec(folder, "main.qgz"), bad_spec(folder), absolute],
        folder,
    )
    pyogrio_copy.unlink()  # the project names a file that is gone now
    return folder
