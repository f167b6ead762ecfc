"""CPU per GetMap, in process and in the PostgreSQL backends, for a loaded machine.

bench/postgis_compare.py's maps (the parcels' dense and sparse windows, the countries' world,
the 200,000 lines' whole layer and dense and sparse windows), each through the pipeline without
HTTP (`ogcserve.testing.call`, the collector settled as a worker settles it) from the PostGIS
table and from the GeoPackage it was loaded from, with bench/postgis_compare.py's styles. Per
map and layer it prints this process's CPU time per request (median and least), the CPU per
request of the database backends serving this process (bench/postgis_cpu.py's
`backend_seconds`) and the wall time (meaningful on a quiet machine only).

    PYTHONPATH=src python bench/getmap_cpu.py [--dsn ...] [--data DIR] [--cases lines_world,...]
        [--layers pg,gp] [--repeat 5] [--save DIR] [--profile pg_lines_world]
        [--line-style round,round]

`--save DIR` writes every answer as DIR/LAYER_CASE.png (to compare two versions' images);
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
from urllib.parse import urlencode

import postgis_lines
import wms_compare as wms
import yaml
from postgis_compare import DSN, wms_cases
from postgis_cpu import backend_seconds, timed
from psycopg.conninfo import conninfo_to_dict

from ogcserve.http.asgi import settle_garbage_collector
from ogcserve.testing import call, make_server

# The 1,000,000 parcels' whole extent (EPSG:3857, WMS 1.3.0 order: x/y there).
PARCELS_WORLD = "1000000,6000000,1133334,6100000"
# Case name here -> the bench's case name.
CASES = {
    "countries_world": "getmap_world",
    "parcels_world": "getmap_dense",  # with the whole layer's extent (PARCELS_WORLD)
    "parcels_dense": "getmap_dense",
    "parcels_sparse": "getmap_sparse",
    "lines_world": "lines_getmap_world",
    "lines_dense": "lines_getmap_dense",
    "lines_sparse": "lines_getmap_sparse",
}


def project(dsn: str, gpkg: Path, folder: Path) -> Path:
    """Every layer twice: `pg_NAME` from PostGIS, `gp_NAME` from its GeoPackage."""
    specs = [*wms.layers_spec(), postgis_lines.layer_spec()]
    specs[1]["path"] = str(gpkg.resolve())
    layers: list[dict[str, Any]] = []
    for spec in specs:
        style = {k: spec[k] for k in ("fill", "stroke", "stroke_width") if k in spec}
        style |= {k: spec[k] for k in ("line_join", "line_cap") if k in spec}
        sources = {
            "pg": {"type": "postgis", "dsn": dsn, "table": spec["table"]},
            "gp": {"type": "geopackage", "path": spec["path"], "table": spec["table"]},
        }
        for prefix, source in sources.items():
            layers.append({"name": f"{prefix}_{spec['name']}", "source": source, "style": style})
    path = folder / "getmap_cpu.yaml"
    doc = {"title": "getmap_cpu", "crs": wms.CRS_LIST, "layers": layers}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def urls(gpkg: Path) -> dict[str, tuple[str, str]]:
    """Case -> (layer name without prefix, query string with LAYERS={layer})."""
    found = {c.name: c for c in [*wms_cases(gpkg), *postgis_lines.cases(postgis_lines.GPKG)]}
    out = {}
    for name, bench_name in CASES.items():
        case = found[bench_name]
        params = dict(case.params)  # type: ignore[union-attr]
        layer = params.pop("LAYERS")
        if name == "parcels_world":
            params["BBOX"] = PARCELS_WORLD
        out[name] = (layer, urlencode(params))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", default=DSN)
    parser.add_argument("--data", type=Path, default=Path("bench/data"), help="the GeoPackages")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--layers", default="pg,gp")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--save", type=Path)
    parser.add_argument("--profile", default="")
    parser.add_argument(
        "--line-style", default="", help="JOIN,CAP of the lines instead of the bench's own"
    )
    args = parser.parse_args()
    database = str(conninfo_to_dict(args.dsn).get("dbname", ""))
    gpkg = args.data / wms.POLYGONS.name
    postgis_lines.GPKG = args.data / postgis_lines.GPKG.name
    if args.line_style:
        join, cap = args.line_style.split(",")
        postgis_lines.STYLE |= {"line_join": join, "line_cap": cap}
    targets = urls(gpkg)
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        server = make_server([project(args.dsn, gpkg, Path(folder))])
        settle_garbage_collector()  # as a worker settles it
        print(f"load average {os.getloadavg()[0]:.1f}")
        for case in args.cases.split(","):
            layer, query = targets[case]
            repeat = max(1, args.repeat // 2) if case.endswith("_world") else args.repeat
            for prefix in args.layers.split(","):
                target = f"/ows?{query}&LAYERS={prefix}_{layer}"
                first = call(server, target)
                assert first.status == 200, first.body[:300]
                assert first.body.startswith(b"\x89PNG"), first.body[:300]
                if args.save:
                    (args.save / f"{prefix}_{case}.png").write_bytes(first.body)
                profile = cProfile.Profile(time.process_time)
                profiled = args.profile == f"{prefix}_{case}"
                live0, _ = backend_seconds(database)
                cpu, wall = timed(server, target, repeat, profile if profiled else None)
                live1, _ = backend_seconds(database)
                backends = (live1 - live0) / repeat if prefix == "pg" else 0.0
                print(
                    f"{case:15s} {prefix}: cpu {statistics.median(cpu) * 1000:7.1f} ms"
                    f" (min {min(cpu) * 1000:7.1f})"
                    f"  backends {backends * 1000:6.1f} ms"
                    f"  total {(statistics.median(cpu) + backends) * 1000:7.1f} ms"
                    f"  wall {statistics.median(wall) * 1000:7.1f} ms"
                    f"  ({len(first.body):,} bytes)",
                    flush=True,
                )
                if profiled:
                    pstats.Stats(profile).sort_stats("tottime").print_stats(25)
        print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
