"""Small projects written for one test (paths to the demo data)."""

from __future__ import annotations

from pathlib import Path

from ogcserve.cli import demo_project


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
