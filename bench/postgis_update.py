"""A WFS Update (and a Delete) of 1,000 rows of a PostGIS table, through the whole pipeline.

A table of 3,000 points (primary key, GiST index) in the database of --dsn, served by a
one-layer project; the request is a WFS 2.0 Transaction whose Update sets one attribute on the
1,000 rows a PropertyIsLessThan filter selects, sent with `ogcserve.testing.call` (no HTTP).
Also the same request with a row-filtering access plugin (role `a` sees and edits half the
rows, as in tests/services/wfs), and a Delete of 1,000 rows (the table refilled after each).
Prints the seconds per request, the median and every round.

    PYTHONPATH=src python bench/postgis_update.py [--dsn ...] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import psycopg
from _common import machine

import ogcserve.plugins  # noqa: F401  (import order: see bench/README.md)
from ogcserve.features import Feature
from ogcserve.plugins import AccessControlFilter, LayerPermissions, ServerInterface
from ogcserve.projects import Layer
from ogcserve.testing import call, make_server

DSN = "postgresql://postgres:postgres@127.0.0.1:5432/ogcserve_test"
ROWS = 3000
WFS = "http://www.opengis.net/wfs/2.0"
FES = "http://www.opengis.net/fes/2.0"


class Roles(AccessControlFilter):
    """X-Role a: sees and edits the rows of role 'a' only; otherwise everything."""

    def __init__(self, iface: ServerInterface) -> None:
        self.iface = iface

    def role(self) -> str:
        return self.iface.env("HTTP_X_ROLE") or "admin"

    def layer_permissions(self, layer: Layer) -> LayerPermissions:
        return LayerPermissions()

    def layer_filter_expression(self, layer: Layer) -> str | None:
        return "\"role\" = 'a'" if self.role() == "a" else None

    def allow_to_edit(self, layer: Layer, feature: Feature) -> bool:
        return self.role() != "a" or feature.attribute("role") == "a"

    def cache_key(self) -> str:
        return self.role()


def roles(iface: ServerInterface) -> None:
    iface.register_access_control(Roles(iface), priority=10)


def fill(dsn: str, table: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(
            f"CREATE TABLE {table} (fid serial PRIMARY KEY, role text NOT NULL,"
            " name text NOT NULL, value integer, geom geometry(Point, 4326))"
        )
        conn.execute(
            f"INSERT INTO {table} (role, name, value, geom) SELECT"
            " CASE WHEN g % 2 = 1 THEN 'a' ELSE 'b' END, 'parcel ' || g, g,"
            f" ST_SetSRID(ST_MakePoint(g % 360 - 180, (g % 170) - 85), 4326)"
            f" FROM generate_series(1, {ROWS}) g"
        )
        conn.execute(f"CREATE INDEX ON {table} USING gist (geom)")
        conn.execute(f"ANALYZE {table}")


def body(action: str, below: int) -> str:
    where = (
        f"<fes:Filter><fes:PropertyIsLessThan><fes:ValueReference>value</fes:ValueReference>"
        f"<fes:Literal>{below}</fes:Literal></fes:PropertyIsLessThan></fes:Filter>"
    )
    inner = (
        '<wfs:Update typeName="parcels"><wfs:Property><wfs:ValueReference>name'
        "</wfs:ValueReference><wfs:Value>updated</wfs:Value></wfs:Property>"
        f"{where}</wfs:Update>"
        if action == "update"
        else f'<wfs:Delete typeName="parcels">{where}</wfs:Delete>'
    )
    return (
        f'<wfs:Transaction service="WFS" version="2.0.0" xmlns:wfs="{WFS}" '
        f'xmlns:fes="{FES}">{inner}</wfs:Transaction>'
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dsn", default=DSN)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    table = f"bench_update_{uuid.uuid4().hex[:8]}"
    results: dict[str, list[float]] = {}
    with TemporaryDirectory() as tmp:
        project = Path(tmp) / "update.yaml"
        project.write_text(
            f"name: update\ntitle: update\nlayers:\n  - name: parcels\n    title: parcels\n"
            f"    source: {{type: postgis, dsn: '{args.dsn}', table: {table}}}\n"
            f"    wfs: {{insert: true, update: true, delete: true}}\n"
        )
        fill(args.dsn, table)
        server = make_server([project], plugins=[roles])
        cases: list[tuple[str, str, int, dict[str, Any]]] = [
            ("update 1,000 rows", "update", 1001, {}),
            ("update 1,000 rows, role a (plugin)", "update", 2001, {"X-Role": "a"}),
            ("delete 1,000 rows", "delete", 1001, {}),
        ]
        try:
            for _ in range(args.repeat):
                for label, action, below, headers in cases:
                    fill(args.dsn, table)
                    start = time.perf_counter()
                    r = call(
                        server,
                        "/ows",
                        method="POST",
                        headers={"Content-Type": "text/xml", **headers},
                        body=body(action, below).encode(),
                    )
                    took = time.perf_counter() - start
                    text = r.body.decode()
                    assert r.status == 200 and "1000</wfs:total" in text, text[:600]
                    results.setdefault(label, []).append(took)
        finally:
            server.close()
            with psycopg.connect(args.dsn, autocommit=True) as conn:
                conn.execute(f"DROP TABLE IF EXISTS {table}")
    print(machine())
    for label, took in results.items():
        rounds = ", ".join(f"{t:.3f}" for t in took)
        print(f"{label}: median {statistics.median(took):.3f} s ({rounds})")


if __name__ == "__main__":
    main()
