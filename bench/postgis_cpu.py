"""CPU per WFS request, in process and in the PostgreSQL backends, for a loaded machine.

Wall-clock throughput means little when other work shares the CPUs; CPU time mostly does.
For bench/postgis_compare.py's four WFS cases (1.1.0, EPSG:3857, 1,000 and 100,000 parcels,
GML and GeoJSON, `precision: 8` as that bench's project has it), its 1,000 lines in GML and
GeoJSON (`lines_gml_1000`, `lines_geojson_1000`, the `roads` table) and its OGC API items
case (`items_1000`: limit=1000 in the CRS84 bbox of 1,000 parcels), on a PostGIS layer and
on the GeoPackage it was loaded from, each request goes through the pipeline without HTTP
(`ogcserve.testing.call`), after the collector is settled as a worker settles it, and reports:
- `cpu`: this process's CPU time per request (`time.process_time`), the median;
- `backends`: the CPU time the database's backends of this run used per request (utime +
  stime of every `postgres:` process connected to the database from one of this process's
  sockets, from /proc, before and after the requests; the pool's and the stream pool's
  connections outlive the requests);
- `children`: the postmaster's reaped children's CPU per request (parallel workers; other
  databases' exited backends too, so only an upper bound on a shared server);
- `wall`: the request's elapsed time, the median (meaningful on a quiet machine only).

    PYTHONPATH=src python bench/postgis_cpu.py [--dsn ...] [--gpkg PATH] [--cases gml_1000,...]
        [--lines-gpkg PATH] [--layers pg,gp] [--profile pg_gml_1000]

`--profile LAYER_CASE` prints cProfile's top functions (CPU timer) for that one.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import postgis_lines
from gpkg_bbox import CELL, GRID, TABLE, X0, Y0
from ogcapi_compare import crs84_bbox
from postgis_compare import DSN
from postgis_read import band
from psycopg.conninfo import conninfo_to_dict

from ogcserve.http.asgi import settle_garbage_collector
from ogcserve.testing import call, make_server

CASES = ("gml_1000", "geojson_1000", "gml_100000", "geojson_100000")
EXTRA = ("lines_gml_1000", "lines_geojson_1000", "items_1000")
STYLE = "{fill: '#fdd49e', stroke: '#d7301f', stroke_width: 0.5}"


def url(layer: str, case: str) -> str:
    if case == "items_1000":
        bbox = ",".join(f"{v:.10f}" for v in crs84_bbox(1000))
        return f"/ogcapi/postgis_cpu/collections/{layer}/items?f=json&limit=1000&bbox={bbox}"
    if case.startswith("lines_"):
        layer, case = f"{layer}_{postgis_lines.TABLE}", case.removeprefix("lines_")
        # postgis_lines.cases()'s band: the first row of lines, GRID of them.
        cell = postgis_lines.CELL_Y
        box = (X0, Y0 + 0.05 * cell, X0 + GRID * CELL, Y0 + 0.95 * cell)
    else:
        box = band(int(case.split("_")[1]) // GRID)
    fmt = case.split("_")[0]
    bbox = ",".join(map(repr, box))
    out = (
        "/ows?SERVICE=WFS&VERSION=1.1.0&REQUEST=GetFeature"
        f"&TYPENAME={layer}&SRSNAME=EPSG:3857&BBOX={bbox},EPSG:3857"
    )
    return out + ("&OUTPUTFORMAT=application/json" if fmt == "geojson" else "")


def project(dsn: str, gpkg: Path, lines: Path, folder: Path) -> Path:
    path = folder / "postgis_cpu.yaml"
    wfs = "wfs: {precision: 8}"
    roads = postgis_lines.TABLE
    path.write_text(
        "title: postgis_cpu\ncrs: [EPSG:3857]\nlayers:\n"
        f"  - {{name: pg, style: {STYLE}, {wfs},"
        f" source: {{type: postgis, dsn: '{dsn}', table: {TABLE}}}}}\n"
        f"  - {{name: gp, style: {STYLE}, {wfs}, source: {{type: geopackage,"
        f" path: '{gpkg.resolve()}', table: {TABLE}}}}}\n"
        f"  - {{name: pg_{roads}, style: {STYLE}, {wfs},"
        f" source: {{type: postgis, dsn: '{dsn}', table: {roads}}}}}\n"
        f"  - {{name: gp_{roads}, style: {STYLE}, {wfs}, source: {{type: geopackage,"
        f" path: '{lines.resolve()}', table: {roads}}}}}\n"
    )
    return path


def _ticks(pid: str, fields: slice) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return sum(int(v) for v in stat[fields])


def _own_ports() -> set[int]:
    """The local TCP ports of this process's sockets (its database connections' ports)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    ports = set()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def backend_seconds(database: str) -> tuple[float, float]:
    """CPU seconds of the live backends of `database` that serve this process (other
    sessions' work on the same database is not counted), and their postmaster's reaped
    children (other databases' and sessions' too)."""
    tick = os.sysconf("SC_CLK_TCK")
    live, postmaster = 0, None
    own = {f"({port})".encode() for port in _own_ports()}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{pid}/stat") as f:
                parent = f.read().rsplit(")", 1)[1].split()[1]
        except OSError:
            continue
        if cmd.startswith(b"postgres: ") and f" {database} ".encode() in cmd:
            postmaster = parent
            if any(port in cmd for port in own):
                live += _ticks(pid, slice(11, 13))
    children = _ticks(postmaster, slice(13, 15)) if postmaster else 0
    return live / tick, children / tick


def timed(
    server: Any, target: str, repeat: int, profile: cProfile.Profile | None
) -> tuple[list[float], list[float]]:
    """This process's CPU seconds and the wall seconds of `repeat` calls of `target`, each
    profiled into `profile` when given."""
    cpu, wall = [], []
    for _ in range(repeat):
        started, clock = time.process_time(), time.perf_counter()
        if profile is not None:
            profile.enable()
        call(server, target)
        if profile is not None:
            profile.disable()
        cpu.append(time.process_time() - started)
        wall.append(time.perf_counter() - clock)
    return cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", default=DSN)
    parser.add_argument("--gpkg", type=Path, default=Path("bench/data/polygons_1000000.gpkg"))
    parser.add_argument("--lines-gpkg", type=Path, default=postgis_lines.GPKG)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--layers", default="pg,gp")
    parser.add_argument("--repeat-small", type=int, default=40)
    parser.add_argument("--repeat-large", type=int, default=3)
    parser.add_argument("--profile", default="")
    args = parser.parse_args()
    database = str(conninfo_to_dict(args.dsn).get("dbname", ""))
    with tempfile.TemporaryDirectory() as folder:
        server = make_server([project(args.dsn, args.gpkg, args.lines_gpkg, Path(folder))])
        settle_garbage_collector()
        print(f"load average {os.getloadavg()[0]:.1f}")
        for case in args.cases.split(","):
            repeat = args.repeat_small if case.endswith("_1000") else args.repeat_large
            if case not in CASES + EXTRA:
                parser.error(f"unknown case {case!r}")
            for layer in args.layers.split(","):
                target = url(layer, case)
                first = call(server, target)
                assert first.status == 200, first.body[:300]
                profile = cProfile.Profile(time.process_time)
                profiled = args.profile == f"{layer}_{case}"
                live0, children0 = backend_seconds(database)
                cpu, wall = timed(server, target, repeat, profile if profiled else None)
                live1, children1 = backend_seconds(database)
                print(
                    f"{case:15s} {layer}: cpu {statistics.median(cpu) * 1000:7.1f} ms"
                    f"  backends {(live1 - live0) / repeat * 1000:6.1f} ms"
                    f"  children {(children1 - children0) / repeat * 1000:6.1f} ms"
                    f"  wall {statistics.median(wall) * 1000:7.1f} ms"
                    f"  ({len(first.body):,} bytes)",
                    flush=True,
                )
                if profiled:
                    pstats.Stats(profile).sort_stats("tottime").print_stats(25)
        print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
