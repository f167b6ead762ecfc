"""Small projects written for one test (paths to the demo data)."""

from __future__ import annotations

from pathlib import Path

from ogcserve.cli import demo_project
from ogcserve.plugins import AccessControlFilter, LayerPermissions, ServerInterface
from ogcserve.projects import Layer


def scaled_project(folder: Path) -> Path:
    """The countries layer visible only between 1:1,000 and 1:50,000,000, not queryable cities."""
    data = demo_project().parent / "natural_earth.gpkg"
    path = folder / "scaled.yaml"
    path.write_text(f"""
title: Scaled
crs: [EPSG:4326, EPSG:3857]
layers:
  - name: countries
    title: Countries
    source: {{type: geopackage, path: {data}, table: countries}}
    style: {{fill: "#ff0000"}}
    min_scale: 1000
    max_scale: 50000000
  - name: cities
    title: Cities
    source: {{type: geopackage, path: {data}, table: cities}}
    queryable: false
""")
    return path


def atlas_project(folder: Path, name: str = "atlas") -> Path:
    """Nested groups: world (countries, towns (cities, nyc_boroughs)), secret (nc_counties).

    With `forbid_cities_and_counties`, `towns` is partly readable and `secret` not at all.
    """
    data = demo_project().parent / "natural_earth.gpkg"

    def layer(table: str, style: str, indent: int) -> str:
        pad = " " * indent
        return (
            f"\n{pad}- name: {table}\n{pad}  title: {table.replace('_', ' ').title()}"
            f"\n{pad}  source: {{type: geopackage, path: {data}, table: {table}}}"
            f"\n{pad}  style: {style}"
        )

    path = folder / f"{name}.yaml"
    path.write_text(f"""
name: {name}
title: Atlas
crs: [EPSG:4326, EPSG:3857]
layers:
  - name: world
    title: World
    layers:{layer("countries", '{fill: "#cfe3c4", stroke: "#5b7f52"}', 6)}
      - name: towns
        title: Towns
        layers:{layer("cities", '{marker: circle, size: 8, fill: "#e8553e"}', 10)}\
{layer("nyc_boroughs", '{fill: "#fdd49e"}', 10)}
  - name: secret
    title: Secret
    layers:{layer("nc_counties", '{fill: "#c6dbef"}', 6)}
""")
    return path


def forbid_cities_and_counties(iface: ServerInterface) -> None:
    """A plugin whose layer permissions hide `cities` and `nc_counties`."""

    class Forbid(AccessControlFilter):
        def layer_permissions(self, layer: Layer) -> LayerPermissions:
            return LayerPermissions(can_read=layer.name not in ("cities", "nc_counties"))

    iface.register_access_control(Forbid())
