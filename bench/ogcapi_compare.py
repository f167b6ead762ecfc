"""OGC API - Features side by side: QGIS Server 3.22, MapServer 8 and ogcserve, same data, one run.

The servers, data and arrangement of bench/wfs_compare.py and bench/wms_compare.py (their
functions are reused): QGIS Server and MapServer as 2 FastCGI processes each (spawn-fcgi)
behind one nginx, ogcserve with `--workers 2`, all on the 1,000,000-polygon GeoPackage
bench/data/polygons_1000000.gpkg (layer `parcels`, EPSG:3857). The endpoints:
- QGIS Server: its OGC API at `/wfs3` (`/wfs3/collections/parcels/items.json`), the layer
  published in WFS in the .qgs as for wfs_compare;
- MapServer: `mapserv` with the OGC API on in the mapfile (`oga_enable_request`), reached
  through a map alias of its config file: `/mapserv/<alias>/ogcapi/collections/parcels/items`
  (bench/ogcapi_templates/; ids from the `name` item, MapServer's OGR layers have no `fid`);
- ogcserve: `/ogcapi/wms_compare/collections/parcels/items` (the project of wms_compare).

Cases, the same request on each server (`f=json`, answers in CRS84; a `bbox` in CRS84 holding
exactly the first N rows of the grid, fids 1..N: wfs_compare's band in EPSG:3857, whose
corners map exactly, since the Mercator maps x to longitude and y to latitude separately):
- `limit=1000` in a bbox of 1,000 features: requests/s with wrk at concurrency 2 (keep-alive,
  a warm-up then --duration s);
- a page of 10,000 (`limit=10000`, a bbox of 10,000): wall time of a full download with curl
  to /dev/null (median of --downloads), and the workers' peak memory during those downloads
  compared with downloads of the 1,000 page: the RSS summed over the worker processes,
  sampled every ~50 ms, minus the same sum at rest after the wrk run (each server freshly
  started for the round). "Flat in the page size": ogcserve's anonymous-memory growth for
  10,000 exceeds the one for 1,000 by at most MEMORY_SLACK_MB.

Every answer is checked before timing (HTTP 200, a GeoJSON FeatureCollection with N features,
their ids 1..N, the same first coordinate on every server) and the 1,000-feature ones are saved
in bench/out/ogcapi_compare/answers/. Other jobs may share the machine: before each timed part
the script waits until the CPUs are quiet (--max-busy) for at most --patience seconds, then
runs anyway and records how busy they were. With --rounds N the servers are measured in turn N
times and the medians reported. Prints the table with the ratios against the faster of QGIS
Server and MapServer (target >= 2x) and writes bench/out/ogcapi_compare.json.

    sudo /work/main/.venv/bin/python bench/ogcapi_compare.py [--duration 8] [--warmup 2]
        [--downloads 3] [--rounds 1] [--port-base 18480] [--servers qgis,mapserver,ogcserve]
        [--check-only] [--hold]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from string import Template
from typing import Any

import wfs_compare as wfs
import wms_compare as wms
from _common import BENCH_DIR, DATA_DIR, OUT_DIR, machine, print_table, write_result
from gpkg_bbox import GRID, SRS_ID, TABLE, build_gpkg

WORK = OUT_DIR / "ogcapi_compare"
TEMPLATES = BENCH_DIR / "ogcapi_templates"
SMALL, LARGE = 1_000, 10_000
TARGET_VS_BEST = 2.0
# "Memory flat in the page size": ogcserve's RssAnon growth while serving 10,000-feature pages
# may exceed the one for 1,000-feature pages by at most this much (a 10,000-feature answer is
# ~4 MB of GeoJSON, several times that as Python objects: holding it whole would show).
MEMORY_SLACK_MB = 4.0
PRECISION = 8  # decimals of the coordinates, as wfs_compare's QGIS Server and ogcserve projects
MAP_ALIAS = "ogcapi_compare"
OGCSERVE_PROJECT = "wms_compare"  # the name of wms_compare's ogcserve project
HTML_TEMPLATES = Path("/usr/share/mapserver/ogcapi/templates/html-plain/")
EARTH_RADIUS = 6_378_137.0  # EPSG:3857's sphere

# The issue's figures (a quiet machine of this kind): requests/s, limit=1000 in a bbox.
ISSUE_REFERENCE = {"qgis": {"bbox_1000": 80}, "mapserver": {"bbox_1000": 47}}
PREFIX = {"qgis": "/wfs3", "mapserver": "/mapserv", "ogcserve": "/ogcapi"}
LABELS = wfs.LABELS
SERVERS = ("qgis", "mapserver", "ogcserve")


def crs84_bbox(features: int) -> tuple[float, float, float, float]:
    """wfs_compare's band of the first `features // GRID` rows, in CRS84 (lon, lat)."""
    x0, y0, x1, y1 = wfs.rows_bbox(features // GRID)

    def lon(x: float) -> float:
        return math.degrees(x / EARTH_RADIUS)

    def lat(y: float) -> float:
        return math.degrees(2 * math.atan(math.exp(y / EARTH_RADIUS)) - math.pi / 2)

    return lon(x0), lat(y0), lon(x1), lat(y1)


def items_url(server: str, origin: str, features: int) -> str:
    """The items request of a case: `limit=features` in the bbox of `features` features."""
    bbox = ",".join(f"{v:.10f}" for v in crs84_bbox(features))
    query = f"limit={features}&bbox={bbox}"
    if server == "qgis":
        return f"{origin}/wfs3/collections/{TABLE}/items.json?{query}"
    if server == "mapserver":
        return f"{origin}/mapserv/{MAP_ALIAS}/ogcapi/collections/{TABLE}/items?f=json&{query}"
    return f"{origin}/ogcapi/{OGCSERVE_PROJECT}/collections/{TABLE}/items?f=json&{query}"


# --- configuration --------------------------------------------------------------------------


def write_mapfile(layer: dict[str, Any], origin: str) -> Path:
    mapfile = WORK / "ogcapi_compare.map"
    mapfile.write_text(
        Template((TEMPLATES / "mapserver.map").read_text()).substitute(
            title="OGC API comparison (bench/ogcapi_compare.py)",
            online_resource=f"{origin}/mapserv/{MAP_ALIAS}/ogcapi",
            precision=PRECISION,
            name=layer["name"],
            path=layer["path"],
            table=layer["table"],
            epsg=layer["epsg"],
            featureid="name",
        )
    )
    conf = WORK / "mapserver.conf"
    conf.write_text(
        Template((TEMPLATES / "mapserver.conf").read_text()).substitute(
            mapfile=mapfile, templates=HTML_TEMPLATES, alias=MAP_ALIAS
        )
    )
    return conf


def write_nginx(servers: list[tuple[int, str, Path]]) -> Path:
    """wms_compare's nginx.conf with a prefix location per group (PATH_INFO set)."""
    server_t = Template((TEMPLATES / "nginx_server.conf").read_text())
    blocks = "".join(
        server_t.substitute(port=port, prefix=prefix, socket=sock) for port, prefix, sock in servers
    )
    for sub in ("body", "fastcgi", "proxy", "uwsgi", "scgi"):
        (WORK / "nginx_tmp" / sub).mkdir(parents=True, exist_ok=True)
    conf = WORK / "nginx.conf"
    conf.write_text(
        Template((wms.TEMPLATES / "nginx.conf").read_text()).substitute(
            user_line="user root;" if os.geteuid() == 0 else "", out=WORK, servers=blocks
        )
    )
    return conf


@contextlib.contextmanager
def work_dir() -> Iterator[None]:
    """wms_compare's and wfs_compare's functions write into their WORK: ours meanwhile."""
    saved = wms.WORK, wfs.WORK
    wms.WORK = wfs.WORK = WORK
    try:
        yield
    finally:
        wms.WORK, wfs.WORK = saved


# --- checks ---------------------------------------------------------------------------------


def read_answer(body: bytes, features: int) -> dict[str, Any]:
    """Check one answer: a FeatureCollection of `features` features with ids 1..features."""
    head = body[:300].decode("utf-8", "replace")
    try:
        doc = json.loads(body)
    except ValueError as error:
        raise AssertionError(f"not JSON ({error}): {head}") from error
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise AssertionError(f"not a FeatureCollection: {head}")
    found = doc["features"]
    if len(found) != features:
        raise AssertionError(f"{len(found):,} features, not {features:,}: {head}")
    ids = sorted(n for n in (wfs._id_number(f.get("id")) for f in found) if n is not None)
    if ids != list(range(1, features + 1)):
        raise AssertionError(f"ids are not 1..{features}: {ids[:5]}... ({len(ids)} ids)")
    first = min(found, key=lambda f: wfs._id_number(f.get("id")) or 0)
    geometry = first["geometry"]
    if geometry["type"] != "Polygon":
        raise AssertionError(f"geometry {geometry['type']}, not Polygon")
    if doc.get("numberReturned", features) != features:
        raise AssertionError(f"numberReturned {doc.get('numberReturned')}, not {features}")
    return {
        "features": len(found),
        "ids": f"1..{features}",
        "id_example": first.get("id"),
        "first_coordinate": geometry["coordinates"][0][0],
        "numberMatched": doc.get("numberMatched"),
        "numberReturned": doc.get("numberReturned"),
        "links": [link.get("rel") for link in doc.get("links", [])],
        "properties": sorted(first.get("properties") or {}),
    }


def check(server: str, url: str, features: int) -> dict[str, Any]:
    out = WORK / "answers" / f"{server}_{features}.json"
    out.parent.mkdir(exist_ok=True)
    done = wfs.curl(url, out)
    body = out.read_bytes()
    if done["http_code"] != 200:
        raise AssertionError(f"HTTP {done['http_code']}: {body[:300]!r}")
    info = read_answer(body, features)
    if features == LARGE:
        out.unlink()
    return info | {
        "bytes": done["bytes"],
        "content_type": done["content_type"],
        "seconds": done["seconds"],
    }


def same_answers(checks: dict[str, dict[str, Any]]) -> None:
    """Every server returned the same ids (checked per answer) and the same first coordinate."""
    for features in (SMALL, LARGE):
        firsts = {k: v["first_coordinate"] for k, v in checks.items() if k.endswith(f"/{features}")}
        points = list(firsts.values())
        for point in points[1:]:
            if max(abs(a - b) for a, b in zip(point, points[0], strict=True)) > 1e-6:
                raise AssertionError(f"first coordinates differ: {firsts}")


# --- one round of one server ----------------------------------------------------------------


def downloads(
    url: str, pids: list[int], count: int, idle: float, idle_anon: float
) -> dict[str, Any]:
    runs = [wfs.download_with_memory(url, pids, idle, idle_anon) for _ in range(count)]
    if any(r["http_code"] != 200 for r in runs):
        raise AssertionError(f"HTTP {[r['http_code'] for r in runs]} while timing {url}")
    secs = [r["seconds"] for r in runs]
    return {
        "seconds_median": round(statistics.median(secs), 3),
        "seconds": secs,
        "growth_mb_max": max(r["growth_mb"] for r in runs),
        "anon_growth_mb_max": max(r["anon_growth_mb"] for r in runs),
        "hwm_growth_mb_max": max(r["hwm_growth_mb"] for r in runs),
        "runs": runs,
    }


def measure(args: argparse.Namespace, urls: dict[int, str], pids: list[int]) -> dict[str, Any]:
    """wrk on the 1,000 page; then downloads of the 1,000 and of the 10,000 page with the
    workers' memory sampled, against their rest after wrk."""
    busy = wms.wait_quiet(args.max_busy, args.patience)
    load = os.getloadavg()
    wms.wrk(urls[SMALL], args.warmup, args.connections)
    with wfs.Sampler(pids) as sampler:
        run = wms.wrk(urls[SMALL], args.duration, args.connections)
    time.sleep(1)
    busy_after_wrk = wms.wait_quiet(args.max_busy, args.patience)
    idle, idle_anon = wfs.rss_mb(pids), wfs.rss_mb(pids, "RssAnon")
    small = downloads(urls[SMALL], pids, args.downloads, idle, idle_anon)
    large = downloads(urls[LARGE], pids, args.downloads, idle, idle_anon)
    return {
        "wrk": run | {"rss_peak_mb": round(sampler.peak, 1), "anon_peak_mb": sampler.anon_peak},
        "download_1000": small,
        "download_10000": large,
        "idle_rss_mb": round(idle, 1),
        "idle_anon_mb": round(idle_anon, 1),
        "cpu_busy_before": busy,
        "cpu_busy_before_downloads": busy_after_wrk,
        "loadavg_before": [round(v, 2) for v in load],
    }


def summary(rounds: list[dict[str, Any]]) -> dict[str, float]:
    """Medians over the rounds of the figures in the table."""

    def med(get: Callable[[dict[str, Any]], float]) -> float:
        return round(statistics.median(get(r) for r in rounds), 3)

    return {
        "requests_per_s": med(lambda r: r["wrk"]["requests_per_s"]),
        "seconds_10000": med(lambda r: r["download_10000"]["seconds_median"]),
        "seconds_1000": med(lambda r: r["download_1000"]["seconds_median"]),
        "anon_growth_1000_mb": med(lambda r: r["download_1000"]["anon_growth_mb_max"]),
        "anon_growth_10000_mb": med(lambda r: r["download_10000"]["anon_growth_mb_max"]),
        "rss_growth_1000_mb": med(lambda r: r["download_1000"]["growth_mb_max"]),
        "rss_growth_10000_mb": med(lambda r: r["download_10000"]["growth_mb_max"]),
    }


# --- servers --------------------------------------------------------------------------------


class Servers:
    """The three servers of the run, each restartable (fresh processes for each round)."""

    def __init__(self, procs: wms.Processes, ports: dict[str, int], wanted: list[str]) -> None:
        self.procs, self.ports, self.wanted = procs, ports, wanted
        self.origin = {k: f"http://127.0.0.1:{p}" for k, p in ports.items()}
        self.spawn: dict[str, tuple[Path, dict[str, str]]] = {}
        self.plugins = [BENCH_DIR / "ogcserve_plugins" / "common"]

    def start(self) -> None:
        layers = wms.layers_spec()
        parcels = next(layer for layer in layers if layer["name"] == TABLE)
        wms.write_ogcserve_project(layers)  # bench/data/wms_compare.yaml, as wms_compare's
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("QGIS_", "MS_"))}
        if "qgis" in self.wanted:
            self.spawn["qgis"] = (wms.QGIS_FCGI, qgis_env(base_env, wfs.write_qgs(layers)))
        if "mapserver" in self.wanted:
            conf = write_mapfile(parcels, self.origin["mapserver"])
            self.spawn["mapserver"] = (wms.MAPSERV, base_env | {"MAPSERVER_CONFIG_FILE": str(conf)})
        groups = [
            (self.ports[k], PREFIX[k], wms.spawn_fcgi(self.procs, k, *spawn))
            for k, spawn in self.spawn.items()
        ]
        if groups:
            wms.start_nginx(self.procs, write_nginx(groups))
        if "ogcserve" in self.wanted:
            wms.start_ogcserve(self.procs, "ogcserve", self.ports["ogcserve"], self.plugins)

    def _stop(self, name: str) -> None:
        for i, (entry, pids) in enumerate(self.procs.started):
            if entry == name:
                single = wms.Processes()
                single.add(entry, pids)
                single.stop_all()
                del self.procs.started[i]
                return

    def restart(self, server: str, probe: str) -> list[int]:
        """Fresh processes for `server`; their pids once `probe` answers."""
        if server == "ogcserve":
            self._stop("ogcserve")
            wms.start_ogcserve(self.procs, "ogcserve", self.ports["ogcserve"], self.plugins)
            wms.wait_port(self.ports["ogcserve"], 60)
        else:
            self._stop(f"{server} FastCGI")
            wms.spawn_fcgi(self.procs, server, *self.spawn[server])
        deadline = time.monotonic() + 60
        while wfs.curl(probe)["http_code"] != 200:
            if time.monotonic() > deadline:
                raise SystemExit(f"{LABELS[server]} does not come back after a restart")
            time.sleep(0.5)
        time.sleep(1)  # all uvicorn workers up
        return wfs.worker_pids(server, self.procs)


def qgis_env(base_env: dict[str, str], qgs: Path) -> dict[str, str]:
    return base_env | {
        "QGIS_PROJECT_FILE": str(qgs),
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_RUNTIME_DIR": str(WORK / "xdg"),
        "HOME": str(WORK),
        "QGIS_SERVER_LOG_LEVEL": "2",
        "QGIS_SERVER_LOG_STDERR": "0",
        "QGIS_SERVER_LOG_FILE": str(WORK / "qgis.log"),
        "QGIS_SERVER_IGNORE_BAD_LAYERS": "false",
    }


# --- main -----------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=8, help="seconds timed with wrk")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of wrk warm-up")
    parser.add_argument("--downloads", type=int, default=3, help="timed downloads per page size")
    parser.add_argument("--rounds", type=int, default=1, help="servers measured in turn N times")
    parser.add_argument("--connections", type=int, default=2, help="wrk concurrency")
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--port-base", type=int, default=18480)
    parser.add_argument("--check-only", action="store_true", help="check the answers, no timing")
    parser.add_argument("--no-install", action="store_true", help="never call apt-get")
    parser.add_argument(
        "--max-busy",
        type=float,
        default=0.15,
        help="before each timed part, wait until other processes use less than this share "
        "of the CPUs ...",
    )
    parser.add_argument("--patience", type=float, default=30, help="... for at most this long (s)")
    parser.add_argument("--hold", action="store_true", help="after the checks, keep serving")
    return parser.parse_args()


def prepare(args: argparse.Namespace) -> None:
    wms.install(args.no_install)
    if shutil.which("wrk") is None or shutil.which("curl") is None:
        raise SystemExit("wrk and curl are needed")
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    if not wms.POLYGONS.exists():
        print(f"generating {wms.POLYGONS} (bench/gpkg_bbox.py's generator) ...", flush=True)
        build_gpkg(wms.POLYGONS, 1_000_000)
    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "xdg").mkdir(parents=True)
    (WORK / "xdg").chmod(0o700)


def check_all(servers: Servers, urls: dict[str, dict[int, str]]) -> dict[str, dict[str, Any]]:
    checks: dict[str, dict[str, Any]] = {}
    for server in servers.wanted:
        if not wms.wait_port(servers.ports[server], 120):
            raise SystemExit(f"{LABELS[server]} does not listen")
        for features, url in urls[server].items():
            try:
                checks[f"{server}/{features}"] = info = check(server, url, features)
            except (AssertionError, OSError, KeyError, subprocess.TimeoutExpired) as error:
                message = f"CHECK FAILED {LABELS[server]} {features}: {error}\n  {url}"
                raise SystemExit(message) from error
            print(
                f"  checked {LABELS[server]:12s} limit={features:<6d} {info['features']:,} "
                f"features, ids {info['ids']} (e.g. {info['id_example']!r}), "
                f"{info['bytes']:,} bytes, {info['seconds']:.2f} s, numberMatched "
                f"{info['numberMatched']}, links {info['links']}",
                flush=True,
            )
    same_answers(checks)
    return checks


def main() -> int:
    args = parse_args()
    wanted = [s for s in args.servers.split(",") if s]
    prepare(args)
    ports = {key: args.port_base + i for i, key in enumerate(SERVERS)}
    busy = [p for k, p in ports.items() if k in wanted and not wms.port_free(p)]
    if busy:
        raise SystemExit(f"ports in use: {busy} (use --port-base)")
    procs = wms.Processes()
    rounds: dict[str, list[dict[str, Any]]] = {s: [] for s in wanted}
    with work_dir(), wms.stopping(procs):
        servers = Servers(procs, ports, wanted)
        servers.start()
        urls = {s: {n: items_url(s, servers.origin[s], n) for n in (SMALL, LARGE)} for s in wanted}
        checks = check_all(servers, urls)
        if args.hold:
            print("holding; Ctrl-C stops everything:\n" + json.dumps(urls, indent=2), flush=True)
            while True:
                time.sleep(3600)
        for number in range(args.rounds if not args.check_only else 0):
            for server in wanted:
                pids = servers.restart(server, urls[server][SMALL])
                result = measure(args, urls[server], pids)
                rounds[server].append(result)
                print_round(number + 1, server, result)
    return report(args, wanted, urls, checks, rounds)


def print_round(number: int, server: str, result: dict[str, Any]) -> None:
    small, large = result["download_1000"], result["download_10000"]
    print(
        f"  round {number} {LABELS[server]:12s} {result['wrk']['requests_per_s']:7.1f} req/s "
        f"(CPUs {result['cpu_busy_before']:.0%} busy before, load {result['loadavg_before']}); "
        f"10,000: {large['seconds_median']:.2f} s {large['seconds']}; RssAnon growth 1,000 "
        f"{small['anon_growth_mb_max']:+.1f} MB, 10,000 {large['anon_growth_mb_max']:+.1f} MB "
        f"(VmRSS {small['growth_mb_max']:+.1f} / {large['growth_mb_max']:+.1f} MB)",
        flush=True,
    )


def verdict_rows(
    figures: dict[str, dict[str, float]],
) -> tuple[list[list[object]], dict[str, Any]]:
    rows: list[list[object]] = []
    verdicts: dict[str, Any] = {}
    for key, title, higher in (
        ("requests_per_s", "limit=1000 in a bbox (requests/s)", True),
        ("seconds_10000", "a page of 10,000 (s)", False),
    ):
        q, m, o = (figures.get(s, {}).get(key) for s in SERVERS)
        refs = [v for v in (q, m) if v]
        best = (max(refs) if higher else min(refs)) if refs else None
        ratio = None if not (o and best) else round(o / best if higher else best / o, 2)
        verdict = "-" if ratio is None else "PASS" if ratio >= TARGET_VS_BEST else "FAIL"
        verdicts[key] = {"ogcserve_vs_best": ratio, "best_reference": best, "verdict": verdict}
        digits = 1 if higher else 3
        cells = [wms.fmt(v, digits) for v in (q, m, o, best)]
        rows.append([title, *cells, wms.fmt(ratio, 2), f">= {TARGET_VS_BEST:g}x", verdict])
    for size in (SMALL, LARGE):
        g = [figures.get(s, {}).get(f"anon_growth_{size}_mb") for s in SERVERS]
        verdict, target = "", ""
        if size == LARGE:
            og_small = figures.get("ogcserve", {}).get(f"anon_growth_{SMALL}_mb")
            target = f"<= 1,000 + {MEMORY_SLACK_MB:g} MB"
            flat = og_small is not None and g[2] is not None
            verdict = "-" if not flat else "PASS" if g[2] - og_small <= MEMORY_SLACK_MB else "FAIL"
            verdicts["memory"] = {"anon_growth_1000_mb": og_small, "anon_growth_10000_mb": g[2]}
            verdicts["memory"] |= {"slack_mb": MEMORY_SLACK_MB, "verdict": verdict}
        title = f"  RssAnon peak - rest, pages of {size:,} (MB)"
        rows.append([title, *(wms.fmt(v, 1) for v in g), "", "", target, verdict])
    return rows, verdicts


def report(
    args: argparse.Namespace,
    wanted: list[str],
    urls: dict[str, dict[int, str]],
    checks: dict[str, Any],
    rounds: dict[str, list[dict[str, Any]]],
) -> int:
    figures = {s: summary(r) for s, r in rounds.items() if r}
    rows, verdicts = verdict_rows(figures)
    print(
        f"\nOGC API - Features items of {TABLE} (f=json, CRS84); limit=1000 in a bbox of 1,000: "
        f"requests/s at concurrency {args.connections} (wrk, {args.warmup:g} s warm-up + "
        f"{args.duration:g} s); limit=10000 in a bbox of 10,000: seconds for one full download "
        f"(curl, median of {args.downloads}); medians of {args.rounds} round(s). Memory: "
        "RssAnon summed over the workers, peak during the downloads minus at rest after wrk\n"
    )
    headers = ["case", "QGIS Server", "MapServer", "ogcserve", "faster ref.", "og / faster"]
    print_table([*headers, "target", "verdict"], rows)
    sizes = {key: info["bytes"] for key, info in checks.items()}
    print("\nanswer sizes (bytes): " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()))
    write_result(
        "ogcapi_compare",
        {
            "settings": {
                "duration_s": args.duration,
                "warmup_s": args.warmup,
                "downloads": args.downloads,
                "rounds": args.rounds,
                "connections": args.connections,
                "max_busy": args.max_busy,
                "patience_s": args.patience,
                "memory_slack_mb": MEMORY_SLACK_MB,
                "bbox_crs84": {n: crs84_bbox(n) for n in (SMALL, LARGE)},
                "layer_crs": f"EPSG:{SRS_ID}",
            },
            "versions": wms.versions(),
            "machine_at_end": machine(),
            "urls": urls,
            "checks": checks,
            "rounds": rounds,
            "figures": figures,
            "verdicts": verdicts,
            "issue_reference": ISSUE_REFERENCE,
            "servers": wanted,
        },
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; everything started was stopped", file=sys.stderr)
        sys.exit(130)
