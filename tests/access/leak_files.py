"""A world on disk: its GeoPackage (or PostGIS tables) and its project file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
import shapely
from leak_world import CENTRE, LayerSpec, World


def _squares(spec: LayerSpec) -> list[Any]:
    """Row k is a square of half-side 1 + k/2 around CENTRE: a click there finds every row."""
    half = [1.0 + 0.5 * row["fid"] for row in spec.rows]
    return [shapely.box(CENTRE[0] - h, CENTRE[1] - h, CENTRE[0] + h, CENTRE[1] + h) for h in half]


def write_world(world: World, folder: Path, postgis: tuple[str, str] | None = None) -> Path:
    """The project file of `world` and its data: a GeoPackage in `folder`, or tables in the
    PostGIS `postgis` = (dsn, schema) (the schema is created); returns the project's path."""
    layers = []
    for spec in world.layers:
        if postgis is not None:
            _write_postgis(spec, *postgis)
            layers.append(_layer_yaml(spec, postgis))
            continue
        squares = _squares(spec)
        numbers = [row[spec.number] for row in spec.rows]
        pyogrio.raw.write(
            str(folder / "world.gpkg"),
            geometry=np.array(shapely.to_wkb(squares), dtype=object),
            field_data=[
                *(np.array([row[t] for row in spec.rows], dtype=object) for t in spec.texts),
                np.array([n or 0 for n in numbers], dtype=np.int64),
            ],
            fields=[*spec.texts, spec.number],
            field_mask=[*(None for _ in spec.texts), np.array([n is None for n in numbers])],
            layer=spec.name,
            driver="GPKG",
            geometry_type="Polygon",
            crs="EPSG:4326",
            append=(folder / "world.gpkg").exists(),
        )
        layers.append(_layer_yaml(spec))
    if world.group is not None:
        name, title = world.group
        layers = [
            layers[0],
            {
                "name": name,
                "title": title,
                "abstract": f"About {title}",
                "keywords": [f"{title} keyword"],
                "layers": layers[1:],
            },
        ]
    if world.raster is not None:
        layers.append(_raster(folder, *world.raster))
    project = {"name": "leak", "title": "Leak", "crs": ["EPSG:4326", "EPSG:3857"], "layers": layers}
    path = folder / "leak.yaml"
    path.write_text(json.dumps(project, indent=1))  # JSON is YAML
    return path


def _raster(folder: Path, name: str, title: str) -> dict[str, Any]:
    """A 4 x 4 GeoTIFF over CENTRE (values 0-15) and its layer."""
    import rasterio
    from rasterio.transform import from_origin

    west, north = CENTRE[0] - 4, CENTRE[1] + 4
    with rasterio.open(
        folder / f"{name}.tif",
        "w",
        driver="GTiff",
        width=4,
        height=4,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=from_origin(west, north, 2, 2),
    ) as out:
        out.write(np.arange(16, dtype="float32").reshape(1, 4, 4))
    return {
        "name": name,
        "title": title,
        "abstract": f"About {title}",
        "keywords": [f"{title} keyword"],
        "source": {"type": "raster", "path": f"{name}.tif"},
        "queryable": True,
        "style": {"ramp": [[0, "#000000"], [15, "#ffffff"]]},
    }


def _write_postgis(spec: LayerSpec, dsn: str, schema: str) -> None:
    import psycopg

    columns = ", ".join([*(f'"{t}" text' for t in spec.texts), f'"{spec.number}" integer'])
    names = ", ".join(f'"{a}"' for a in spec.attributes)
    table = f'"{schema}"."{spec.name}"'
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        conn.execute(
            f"CREATE TABLE {table} (fid serial PRIMARY KEY, geom geometry(Polygon, 4326), {columns})"
        )
        marks = ", ".join(["%s"] * len(spec.attributes))
        for row, square in zip(spec.rows, _squares(spec), strict=True):
            conn.execute(
                f"INSERT INTO {table} (geom, {names}) VALUES (ST_GeomFromText(%s, 4326), {marks})",
                [square.wkt, *(row[a] for a in spec.attributes)],
            )
        conn.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'fid'), %s)", [table, len(spec.rows)]
        )


def drop_postgis(dsn: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _layer_yaml(spec: LayerSpec, postgis: tuple[str, str] | None = None) -> dict[str, Any]:
    source: dict[str, Any] = {"type": "geopackage", "path": "world.gpkg", "table": spec.name}
    if postgis is not None:
        dsn, schema = postgis
        source = {"type": "postgis", "dsn": dsn, "table": f"{schema}.{spec.name}", "pool_size": 2}
    block: dict[str, Any] = {
        "name": spec.name,
        "title": spec.title,
        "abstract": f"About {spec.title}",
        "keywords": [f"{spec.title} keyword"],
        "source": source,
        "key": "fid",
        "queryable": True,
        "wfs": {
            "publish": True,
            "insert": True,
            "update": True,
            "delete": True,
            "number_matched": spec.number_matched,
        },
    }
    if spec.include:
        block["fields"] = {"include": [a for a in spec.attributes if a not in spec.excluded]}
    elif spec.excluded:
        block["fields"] = {"exclude": list(spec.excluded)}
    if spec.project_filter is not None:
        block["filter"] = spec.project_filter.text()
    if spec.style is not None:
        block["style"] = _style(spec, *spec.style)
    return block


def _style(spec: LayerSpec, kind: str, field: str) -> dict[str, Any]:
    values = sorted({row[field] for row in spec.rows if row[field] is not None})
    if kind == "categorized":
        return {
            "categorized": {
                "field": field,
                "categories": [{"value": v, "fill": "#ff0000"} for v in values],
            },
            "stroke": "#000000",
        }
    if kind == "graduated":
        return {
            "graduated": {
                "field": field,
                "classes": [
                    {"min": 0, "max": 5, "fill": "#ff0000"},
                    {"min": 5, "max": 10, "fill": "#00ff00"},
                ],
            }
        }
    if kind == "rules":
        return {
            "rules": [{"filter": f"\"{field}\" = '{v}'", "fill": "#0000ff"} for v in values]
            + [{"else": True, "fill": "#cccccc"}]
        }
    return {"fill": "#cccccc", "label": {"field": field, "size": 10}}
