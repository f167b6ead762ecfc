"""OGC API test support: an `events` project (points with a text, an integer, a date and a
timestamp, a `secret` attribute) and a role plugin: `restricted` sees kinds a and b only (a
subset string), rows with value >= 10 (an expression), no `secret`, and not the `zones` layer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
import shapely

from ogcserve.plugins import AccessControlFilter, LayerPermissions, ServerInterface
from ogcserve.projects import Layer
from ogcserve.testing import Result, call

KINDS = ("a", "b", "c")


def event_rows(n: int) -> list[dict[str, Any]]:
    """Row i (fid i + 1): kind a/b/c in turn, value i, one day and one hour apart."""
    return [
        {
            "fid": i + 1,
            "name": f"event {i + 1}",
            "kind": KINDS[i % 3],
            "value": i,
            "secret": f"s{i + 1}",
            "lon": -10 + (i % 100) * 0.2,
            "lat": 40 + (i // 100) * 0.2,
        }
        for i in range(n)
    ]


def write_events(folder: Path, n: int = 250) -> Path:
    """The GeoPackage and project of `events` (EPSG:4326, time field `at`) and `zones`."""
    rows = event_rows(n)
    gpkg = folder / "events.gpkg"
    points = shapely.points([r["lon"] for r in rows], [r["lat"] for r in rows])
    start = np.datetime64("2020-01-01T00:00:00", "ms")
    pyogrio.raw.write(
        str(gpkg),
        geometry=np.array(shapely.to_wkb(points), dtype=object),
        field_data=[
            np.array([r["name"] for r in rows], dtype=object),
            np.array([r["kind"] for r in rows], dtype=object),
            np.array([r["value"] for r in rows], dtype=np.int64),
            np.array([r["secret"] for r in rows], dtype=object),
            np.array([np.datetime64("2020-01-01") + r["value"] for r in rows], "datetime64[D]"),
            np.array([start + np.timedelta64(r["value"], "h") for r in rows], "datetime64[ms]"),
        ],
        fields=["name", "kind", "value", "secret", "day", "at"],
        layer="events",
        driver="GPKG",
        geometry_type="Point",
        crs="EPSG:4326",
    )
    zone = shapely.box(-10, 40, 10, 50)
    pyogrio.raw.write(
        str(gpkg),
        geometry=np.array([shapely.to_wkb(zone)], dtype=object),
        field_data=[np.array(["zone 1"], dtype=object)],
        fields=["label"],
        layer="zones",
        driver="GPKG",
        geometry_type="Polygon",
        crs="EPSG:4326",
        append=True,
    )
    project = {
        "name": "ev",
        "title": "Events",
        "crs": ["EPSG:3857"],
        "layers": [
            {
                "name": "events",
                "title": "Events",
                "source": {"type": "geopackage", "path": "events.gpkg", "table": "events"},
                "wfs": {"time": "at"},
            },
            {
                "name": "zones",
                "title": "Zones",
                "source": {"type": "geopackage", "path": "events.gpkg", "table": "zones"},
            },
        ],
    }
    path = folder / "ev.yaml"
    path.write_text(json.dumps(project))
    return path


class Roles(AccessControlFilter):
    """X-Role: restricted -> kinds a and b, value >= 10, no `secret`, no `zones`."""

    def __init__(self, iface: ServerInterface) -> None:
        self.iface = iface

    def _restricted(self) -> bool:
        return self.iface.env("HTTP_X_ROLE") == "restricted"

    def layer_permissions(self, layer: Layer) -> LayerPermissions:
        readable = not (self._restricted() and layer.name == "zones")
        return LayerPermissions(readable, False, False, False)

    def layer_filter_expression(self, layer: Layer) -> str | None:
        return '"value" >= 10' if self._restricted() and layer.name == "events" else None

    def layer_filter_subset_string(self, layer: Layer) -> str | None:
        return "kind <> 'c'" if self._restricted() and layer.name == "events" else None

    def authorized_layer_attributes(self, layer: Layer, attributes: list[str]) -> list[str]:
        return [a for a in attributes if not (self._restricted() and a == "secret")]

    def cache_key(self) -> str:
        return self.iface.env("HTTP_X_ROLE")


def roles(iface: ServerInterface) -> None:
    """The role plugin."""
    iface.register_access_control(Roles(iface), priority=10)


def get(server: Any, url: str, role: str | None = None, **headers: str) -> Result:
    """GET through the pipeline (with X-Role when given)."""
    if role:
        headers["X-Role"] = role
    return call(server, url, headers=headers)


def doc(result: Result) -> Any:
    """The JSON body, asserting a 200."""
    assert result.status == 200, result.body[:500]
    return json.loads(result.body)


def header(result: Result, name: str) -> str:
    """A response header, whatever its case ("" when absent)."""
    return next((v for k, v in result.headers.items() if k.lower() == name.lower()), "")


def write_events_postgis(folder: Path, dsn: str, table: str, n: int = 250) -> Path:
    """The same `events` as a PostGIS table (timestamps with time zone) and its project."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {table} (fid integer PRIMARY KEY, name text, kind text, value integer,"
            " secret text, day date, at timestamptz, geom geometry(Point, 4326))"
        )
        with conn.cursor().copy(
            f"COPY {table} (fid, name, kind, value, secret, day, at, geom) FROM STDIN"
        ) as copy:
            for r in event_rows(n):
                copy.write_row(
                    (
                        r["fid"],
                        r["name"],
                        r["kind"],
                        r["value"],
                        r["secret"],
                        None,  # day and at: set below, from value
                        None,
                        f"SRID=4326;POINT({r['lon']} {r['lat']})",
                    )
                )
        conn.execute(
            f"UPDATE {table} SET day = DATE '2020-01-01' + value,"
            " at = TIMESTAMPTZ '2020-01-01T00:00:00Z' + value * INTERVAL '1 hour'"
        )
    project = {
        "name": "ev",
        "title": "Events",
        "crs": ["EPSG:3857"],
        "layers": [
            {
                "name": "events",
                "title": "Events",
                "source": {"type": "postgis", "dsn": dsn, "table": table},
                "wfs": {"time": "at"},
            }
        ],
    }
    path = folder / "ev.yaml"
    path.write_text(json.dumps(project))
    return path
