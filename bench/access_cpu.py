"""CPU per request with and without the access plugin, in process and in this run's backends.

bench/postgis_compare.py's cost of access control, measured where the noise is small: its
project (the PostGIS tables), its cases and their URLs, each request through the pipeline
without HTTP (`ogcserve.testing.call`) by two servers in this process: `plain`, with the
bench's cache filter only (bench/ogcserve_plugins/common), and `acl`, with the access plugin
too (bench/qgis_plugins/bench_acl through the QGIS facade, BENCH_ACL_ROWS=1: rows of
category 9 and the attribute `value` of the parcels hidden from the anonymous caller), as
postgis_compare's `ogcserve` and `ogcserve_acl` serve them. Per round, case and server: this
process's CPU per request (median of --repeat) and the CPU the database's backends serving
*this process's* connections used per request (found by their client ports, so other work
on the same database does not count). Rounds alternate the order of the two servers; the
table gives the median over rounds of CPU + backends, and the cost of access control:
1 - plain / acl, the share of throughput a CPU-bound server loses to it.

    PYTHONPATH=src python bench/access_cpu.py [--dsn ...] [--cases getfeatureinfo,...]
        [--rounds 5] [--repeat 20] [--repeat-large 2] [--profile acl_getfeatureinfo]

`--profile SERVER_CASE` prints cProfile's top functions (CPU timer) for that one.
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

import postgis_compare as pc
import wfs_compare as wfs
from _common import BENCH_DIR
from postgis_cpu import backend_seconds, timed
from psycopg.conninfo import conninfo_to_dict

from ogcserve.http.asgi import settle_garbage_collector
from ogcserve.server import Server
from ogcserve.testing import call, make_server

Results = dict[tuple[str, str], list[tuple[list[float], float]]]  # per round: cpu, backends
CASES = (
    "getmap_world", "getmap_dense", "getmap_sparse", "getfeatureinfo", "gml_1000",
    "geojson_1000", "gml_100000", "geojson_100000", "items_1000",
)  # fmt: skip


def servers(project: Path) -> dict[str, Server]:
    """postgis_compare's `ogcserve` and `ogcserve_acl`, in this process."""
    common = BENCH_DIR / "ogcserve_plugins" / "common"
    plain = make_server([project], plugin_paths=[common])
    os.environ["BENCH_ACL_ROWS"] = "1"  # read by the plugin when it is set up
    acl = make_server([project], plugin_paths=[common, BENCH_DIR / "qgis_plugins"])
    return {"plain": plain, "acl": acl}


def targets(gpkg: Path) -> dict[str, str]:
    """Case name -> path and query, as postgis_compare requests them from ogcserve."""
    cases: dict[str, Any] = {c.name: c for c in pc.wms_cases(gpkg)}
    cases |= {c.name: c for c in wfs.CASES} | {"items_1000": pc.ItemsCase()}
    ports = {"ogcserve": 1}
    return {
        name: pc.target(ports, "ogcserve", case).removeprefix("http://127.0.0.1:1")
        for name, case in cases.items()
    }


def check(name: str, server: str, body: bytes) -> None:
    """With the plugin, no parcel's `value` may show (the bench's own check, in short)."""
    restricted = name not in ("getmap_world", "getfeatureinfo")
    if server == "acl" and restricted and not body.startswith(b"\x89PNG"):
        assert b'"value"' not in body and b"value>" not in body, name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", default=pc.DSN)
    parser.add_argument("--gpkg", type=Path, default=Path("bench/data/polygons_1000000.gpkg"))
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=10, help="requests per quick case and round")
    parser.add_argument("--repeat-large", type=int, default=2, help="per 100,000 features")
    parser.add_argument("--profile", default="")
    args = parser.parse_args()
    database = str(conninfo_to_dict(args.dsn).get("dbname", ""))
    urls = targets(args.gpkg)
    names = args.cases.split(",")
    for name in names:
        if name not in urls:
            parser.error(f"unknown case {name!r}")
    results: Results = {}
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder) / pc.PROJECT.name
        pc.write_project(pc.layers_spec(args.dsn), project)
        by_name = servers(project)
        for name in names:  # every answer once first: checked, and the sources opened
            for key, server in by_name.items():
                first = call(server, urls[name])
                assert first.status == 200, (key, name, first.body[:300])
                check(name, key, first.body)
        settle_garbage_collector()
        print(f"load average {os.getloadavg()[0]:.1f}", flush=True)
        for round_ in range(args.rounds):
            for name in names:
                repeat = args.repeat_large if name.endswith("_100000") else args.repeat
                order = list(by_name) if round_ % 2 == 0 else list(reversed(by_name))
                for key in order:
                    profiled = args.profile == f"{key}_{name}"
                    profile = cProfile.Profile(time.process_time) if profiled else None
                    before = backend_seconds(database)[0]
                    cpu, _ = timed(by_name[key], urls[name], repeat, profile)
                    backends = (backend_seconds(database)[0] - before) / repeat
                    results.setdefault((name, key), []).append((cpu, backends))
                    if profile is not None and round_ == 0:
                        pstats.Stats(profile).sort_stats("tottime").print_stats(30)
            print(f"round {round_ + 1} done, load average {os.getloadavg()[0]:.1f}", flush=True)
    report(names, results)


def report(names: list[str], results: Results) -> None:
    """Per case: the median CPU of every request of the server (all rounds), its backends'
    mean, the cost of access control over both, and per round the cost on CPU alone."""
    print(
        f"\n{'case':16s} {'plain cpu':>9s} {'db':>6s} {'acl cpu':>9s} {'db':>6s}"
        f" {'cost':>6s}  ms per request; cost = 1 - plain / acl over cpu + db; per round: cpu"
    )
    for name in names:
        plain, acl = results[(name, "plain")], results[(name, "acl")]
        cpu = [statistics.median(c for r in rows for c in r[0]) for rows in (plain, acl)]
        db = [statistics.mean(r[1] for r in rows) for rows in (plain, acl)]
        cost = 1 - (cpu[0] + db[0]) / (cpu[1] + db[1])
        rounds = " ".join(
            f"{1 - statistics.median(p[0]) / statistics.median(a[0]):+.0%}"
            for p, a in zip(plain, acl, strict=True)
        )
        print(
            f"{name:16s} {cpu[0] * 1000:9.2f} {db[0] * 1000:6.2f} {cpu[1] * 1000:9.2f}"
            f" {db[1] * 1000:6.2f} {cost:+6.1%}  [{rounds}]",
            flush=True,
        )


if __name__ == "__main__":
    main()
