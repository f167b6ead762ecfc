"""A QGIS project written by PyQGIS, read into the project model: tree, sources, settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ogcserve.access import AccessLayer
from ogcserve.projects import Project, check_project, load_project
from ogcserve.sources.specs import GeoPackageSpec, OGRSpec, RasterSpec


@pytest.fixture(scope="module", params=["main.qgs", "main.qgz"])
def main(request: pytest.FixtureRequest, qgis_folder: Path) -> Project:
    return load_project(qgis_folder / request.param, opener=AccessLayer().check_source)


def test_tree_order_names_and_groups(main: Project) -> None:
    tree = [(layer.name, [c.name for c in layer.children]) for layer in main.layers]
    # Short names where set (the group's `wmsShortName`, the layer's short name), else names;
    # the restricted group left out (no other service publishes its layer); the restricted
    # layer kept for WFS only; tree order kept.
    assert tree == [
        ("world", ["Inner", "countries"]),  # groups were made before the layers
        ("countries_json", []),
        ("boroughs", []),
        ("hidden_places", []),
        ("b_places", []),
        ("elevation", []),
    ]
    world = main.layers[0]
    assert (world.title, world.abstract) == ("The world", "Grouped")
    assert [c.name for c in world.children[0].children] == ["cities"]
    assert main.layer("secret") is None
    hidden = main.layer("hidden_places")
    assert hidden is not None and not hidden.wms.publish and hidden.wfs.publish
    assert [layer.name for layer in main.for_wms().layers] == [
        "world",
        "countries_json",
        "boroughs",
        "b_places",
        "elevation",
    ]


def test_project_metadata_and_crs(main: Project) -> None:
    assert main.title == "Main WMS"
    assert main.abstract == "Served from a QGIS project"
    assert main.keywords == ("qgis", "test")
    assert main.crs == ("EPSG:4326", "EPSG:3857", "CRS:84")  # QGIS Server adds CRS:84 too
    assert main.name == "main"
    contact = main.contact
    assert (contact.person, contact.organization, contact.position) == (
        "Ada Lovelace",
        "Analytical Maps",
        "Cartographer",
    )
    assert (contact.email, contact.phone) == ("ada@example.com", "+44 20 0000 0000")
    wms = main.wms
    assert (wms.extent, wms.extent_crs) == ((-20, 30, 40, 70), "EPSG:4326")
    assert (wms.max_width, wms.max_height, wms.feature_info_precision) == (2000, 1500, 3)


def test_layer_metadata_scales_and_fields(main: Project) -> None:
    countries = main.layer("countries")
    assert countries is not None
    assert countries.title == "Countries of the world"
    assert countries.abstract == "Natural Earth countries"
    assert countries.keywords == ("boundaries", "population")
    # QGIS's maximum scale (most zoomed in) is WMS's MinScaleDenominator.
    assert (countries.min_scale, countries.max_scale) == (1000, 500000000)
    assert countries.fields_exclude == ()
    assert dict(countries.fields_hidden) == {
        "WMS": ("gdp_md_est", "iso_a3"),
        "WFS": ("continent", "gdp_md_est"),
    }
    assert not countries.publishes_field("gdp_md_est", "WMS")
    assert not countries.publishes_field("iso_a3", "WMS")
    assert countries.publishes_field("iso_a3", "WFS")
    assert countries.publishes_field("continent", "WMS")
    assert not countries.publishes_field("continent", "WFS")
    assert not countries.publishes_field("continent") and countries.publishes_field("name")
    assert dict(countries.aliases) == {"pop_est": "Population", "continent": "Continent"}
    assert countries.label("pop_est") == "Population" and countries.label("name") == "name"
    assert countries.data_url is not None
    assert countries.data_url.url == "https://example.com/countries"
    assert countries.attribution is not None
    assert (countries.attribution.title, countries.attribution.url) == (
        "Natural Earth",
        "https://www.naturalearthdata.com/",
    )
    assert [(m.url, m.type, m.format) for m in countries.metadata_urls] == [
        ("https://example.com/countries/metadata", "FGDC", "text/html")
    ]
    boroughs = main.layer("boroughs")
    assert boroughs is not None and not boroughs.queryable and countries.queryable


def test_sources_by_format(main: Project) -> None:
    specs = {layer.name: layer.source for layer in main.data_layers()}
    assert specs["countries"] == GeoPackageSpec(
        type="geopackage", path="./natural_earth.gpkg", table="countries"
    )
    assert specs["cities"] == OGRSpec(type="ogr", path="./cities.shp")
    assert specs["countries_json"] == OGRSpec(type="ogr", path="./countries.geojson")
    assert specs["boroughs"] == OGRSpec(type="ogr", path="./boroughs.fgb")
    assert specs["elevation"] == RasterSpec(type="raster", path="./elevation.tif")


def test_absolute_paths(qgis_folder: Path, tmp_path: Path) -> None:
    """A project saved with absolute paths names its data wherever the .qgs is moved to."""
    text = (qgis_folder / "absolute.qgs").read_text()
    assert f"<datasource>{qgis_folder}/cities.shp</datasource>" in text
    moved = tmp_path / "elsewhere" / "absolute.qgs"
    moved.parent.mkdir()
    moved.write_text(text)
    project = load_project(moved, opener=AccessLayer().check_source)
    assert {layer.name: layer.source for layer in project.data_layers()} == {
        "countries": GeoPackageSpec(
            type="geopackage", path=f"{qgis_folder}/natural_earth.gpkg", table="countries"
        ),
        "cities": OGRSpec(type="ogr", path=f"{qgis_folder}/cities.shp"),
        "elevation": RasterSpec(type="raster", path=f"{qgis_folder}/elevation.tif"),
    }


def test_subset_strings_become_row_filters(main: Project) -> None:
    countries, cities = main.layer("countries"), main.layer("cities")
    assert countries is not None and cities is not None
    assert countries.filter == '"pop_est" > 50000000'
    # OGR SQL's LIKE (a Shapefile's) heeds case; SQLite's (a GeoPackage's) does not.
    assert cities.filter == "\"name\" LIKE 'B%'"
    b_places = main.layer("b_places")
    assert b_places is not None and b_places.filter == "\"name\" ILIKE 'b%'"


def test_publishing_per_service(main: Project) -> None:
    wfs = {layer.name: layer.wfs for layer in main.data_layers()}
    assert {name for name, w in wfs.items() if w.publish} == {
        "countries",
        "cities",
        "countries_json",
        "boroughs",
        "b_places",
        "hidden_places",  # restricted from WMS only
    }
    countries = wfs["countries"]
    assert (countries.insert, countries.update, countries.delete) == (True, True, False)
    assert countries.precision == 3 and wfs["cities"].precision == 6  # QGIS Server's default
    assert not any(w.insert or w.update or w.delete for n, w in wfs.items() if n != "countries")
    elevation = main.layer("elevation")
    assert elevation is not None and elevation.wcs.publish and not elevation.wfs.publish


def test_layer_ids_as_names(qgis_folder: Path) -> None:
    """With "use layer ids as names", QGIS Server names each layer by its id; so does ogcserve."""
    text = (qgis_folder / "main.qgs").read_text()
    setting = '<WMSUseLayerIDs type="int">0</WMSUseLayerIDs>'
    assert setting in text
    path = qgis_folder / "ids.qgs"
    path.write_text(text.replace(setting, setting.replace(">0<", ">1<")))
    project = load_project(path)
    restricted = ("secret_", "Annotations_")  # and the annotation layer
    ids = set(re.findall(r"<id>([^<]+)</id>", text))
    assert {layer.name for layer in project.data_layers()} == {
        layer_id for layer_id in ids if not layer_id.startswith(restricted)
    }


def test_check_lists_what_is_ignored(qgis_folder: Path) -> None:
    issues = check_project(qgis_folder / "main.qgs", AccessLayer().check_source)
    assert {issue.severity for issue in issues} == {"warning"}
    text = "\n".join(str(issue) for issue in issues)
    # Links, aliases, contact, extent, sizes, precision, per-service publication and fields
    # are all applied now: nothing of them is named.
    for applied in ("data URL", "attribution", "alias", "maximum image", "contact", "extent"):
        assert applied not in text
    assert "restricted from WMS" not in text and "hidden from one of" not in text
    assert "layer 'cities': warning: WFS-T edits are refused: Shapefile" in text
    # Each layer warning is on the line of its <maplayer>.
    lines = (qgis_folder / "main.qgs").read_text().splitlines()
    refused = next(issue for issue in issues if "WFS-T edits" in issue.message)
    assert refused.line is not None and "<maplayer" in lines[refused.line - 1]


def test_bad_layers_are_refused_and_the_rest_served(qgis_folder: Path) -> None:
    path = qgis_folder / "bad.qgs"
    project = load_project(path, opener=AccessLayer().check_source)
    # A name URLs and XML cannot carry is changed; a name already taken refuses the layer.
    assert [layer.name for layer in project.layers] == ["good", "My_places"]
    issues = {issue.key: issue for issue in check_project(path, AccessLayer().check_source)}
    assert {key for key, issue in issues.items() if issue.severity == "refused"} == {
        "layer 'gone'",
        "layer 'csv_points'",
        "layer 'globbed'",
        "layer 'good'",
    }
    assert "the name 'good' is used by another layer" in issues["layer 'good'"].message
    renamed = issues["layer 'My places'"]
    assert renamed.severity == "warning"
    assert renamed.message == (
        "published as 'My_places' (QGIS Server: 'My places', which requests may use too)"
    )
    # A request naming it as QGIS Server's WMS does still finds it.
    assert project.layer("My places") is project.layer("My_places") is not None
    assert "the data source is missing: file not found" in issues["layer 'gone'"].message
    assert "the provider 'delimitedtext' is not supported" in issues["layer 'csv_points'"].message
    globbed = issues["layer 'globbed'"].message
    assert "cannot be translated" in globbed and "rather than served unfiltered" in globbed
