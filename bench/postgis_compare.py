"""PostGIS side by side: QGIS Server 3.22, MapServer 8 and ogcserve on the same tables, one run.

The arrangement of bench/wms_compare.py and bench/wfs_compare.py (their functions are reused):
QGIS Server and MapServer as 2 FastCGI processes each behind one nginx, ogcserve with
`--workers 2`. The data are theirs, loaded into PostGIS with ogr2ogr as users load it (GiST
index, primary key `fid`, ANALYZE): the 1,000,000 generated parcels (bench/gpkg_bbox.py), the
200,000 generated lines (`roads`, bench/postgis_lines.py) and the Natural Earth countries.
QGIS Server reads them through its postgres provider, MapServer through CONNECTIONTYPE
POSTGIS, ogcserve through its `postgis` source.

Cases, one interleaved run (each case on every server in turn, then the next case):
- WMS: GetMap countries whole world, parcels dense (~10,000 polygons) and sparse (~50)
  windows, GetFeatureInfo (France), requests/s with wrk at concurrency 2;
- WFS 1.1.0: 1,000 features in GML and GeoJSON (wrk), 100,000 features in GML and GeoJSON
  (seconds per full download with curl, the median of --downloads);
- lines (`lines_*`): GetMap of the whole line layer (seconds per download, as the 100,000
  features: one map takes seconds), a dense (~10,000 lines) and a sparse (~50) window, checked
  by the stroke colour; WFS 1.1.0 1,000 lines in GML and GeoJSON (not with the
  plugin, which restricts the parcels only);
- OGC API - Features: `limit=1000` in a bbox of 1,000 features (f=json, CRS84), bench/
  ogcapi_compare.py's request: QGIS Server's `/wfs3` API, MapServer's OGC API (on in the
  mapfile, `/mapserv/ogcapi_compare/ogcapi/...`), ogcserve's `/ogcapi/postgis_compare`;
- ogcserve on the GeoPackage the parcels were loaded from (`ogcserve_gpkg`, the same project
  with `geopackage` sources), every case, so the PostGIS-to-GeoPackage cost is of the same run;
- the same with the access-control plugin bench/qgis_plugins/bench_acl (QGIS Server API),
  loaded unmodified by QGIS Server and by ogcserve, with BENCH_ACL_ROWS=1: rows of category 9
  and the attribute `value` of the parcels are hidden from the anonymous caller.

Every answer is checked first (wms_compare's and wfs_compare's checks; with the plugin: fewer
features, no `value`). Before each timed case the script waits up to a minute for a quiet
machine (--max-busy) and records how busy it was. Prints the tables with ratios and targets,
writes bench/out/postgis_compare.json. Everything started is stopped at the end.

    python bench/postgis_compare.py [--dsn postgresql://...] [--gpkg PATH] [--duration 10]
        [--warmup 3] [--downloads 2] [--servers qgis,mapserver,ogcserve] [--cases a,b]
        [--check-only]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import ogcapi_compare as ogcapi
import postgis_lines
import psycopg
import wfs_compare as wfs
import wms_compare as wms
import yaml
from _common import BENCH_DIR, OUT_DIR, machine, write_result
from gpkg_bbox import TABLE, build_gpkg
from psycopg.conninfo import conninfo_to_dict

WORK = OUT_DIR / "postgis_compare"
PROJECT = WORK / "postgis_compare.yaml"
GPKG_PROJECT = WORK / "gpkg" / "postgis_compare.yaml"  # same name, so the same OGC API paths
TEMPLATES = BENCH_DIR / "postgis_templates"
DSN = "postgresql://postgres:postgres@127.0.0.1:5432/ogcserve_bench"
SERVERS = ("qgis", "mapserver", "ogcserve")
LINES = "lines_"  # the cases of bench/postgis_lines.py
STYLE_KEYS = ("fill", "stroke", "stroke_width", "line_join", "line_cap")
API_PORT_OFFSET = 50  # QGIS Server's and MapServer's OGC API are on nginx ports of their own
# Targets of issue 14, as ratios of the same run.
GETMAP_VS_QGIS, GETMAP_VS_MAPSERVER, GFI_VS_QGIS, WFS_VS_BEST, ACL_COST = 2.0, 1.5, 1.5, 2.0, 0.10


# --- data -----------------------------------------------------------------------------------


def load(dsn: str, gpkg: Path) -> None:
    """The parcels, the lines and the countries in PostGIS, unless they are there already."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        for table, path, source_table, rows in (
            (TABLE, gpkg, TABLE, 1_000_000),
            (postgis_lines.TABLE, postgis_lines.GPKG, postgis_lines.TABLE, postgis_lines.COUNT),
            ("countries", wms.NATURAL_EARTH, "countries", None),
        ):
            found = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()
            if found and found[0] and (rows is None or _count(conn, table) == rows):
                continue
            print(f"loading {table} into PostGIS (ogr2ogr) ...", flush=True)
            p = conninfo_to_dict(dsn)
            pg = f"PG:host={p.get('host')} port={p.get('port', 5432)} dbname={p.get('dbname')}"
            pg += f" user={p.get('user')} password={p.get('password')}"
            subprocess.run(
                ["ogr2ogr", "-f", "PostgreSQL", pg, str(path), source_table, "-nln", table,
                 "-overwrite", "-lco", "GEOMETRY_NAME=geom", "-lco", "FID=fid", "-gt", "100000"],
                check=True,
            )  # fmt: skip
            conn.execute(f"ANALYZE {table}")


def _count(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def layers_spec(dsn: str) -> list[dict[str, Any]]:
    p = conninfo_to_dict(dsn)
    out = []
    layers = [*wms.layers_spec(), postgis_lines.layer_spec()]
    for layer, geometry in zip(layers, ("MultiPolygon", "Polygon", "LineString"), strict=True):
        uri = (
            f"dbname='{p.get('dbname')}' host={p.get('host')} port={p.get('port', 5432)}"
            f" user='{p.get('user')}' password='{p.get('password')}' sslmode=disable key='fid'"
            f' srid={layer["epsg"]} type={geometry} table="public"."{layer["table"]}" (geom)'
        )
        out.append(layer | {"provider": "postgres", "uri": uri, "dsn": dsn})
    return out


def write_project(layers: list[dict[str, Any]], path: Path = PROJECT) -> None:
    """ogcserve's project: the PostGIS tables, or with `path` GPKG_PROJECT the GeoPackages."""
    doc = {
        "name": "postgis_compare",
        "title": "PostGIS comparison (bench/postgis_compare.py)",
        "crs": wms.CRS_LIST,
        "layers": [
            {
                "name": layer["name"],
                "title": layer["name"],
                "source": (
                    {"type": "geopackage", "path": layer["path"], "table": layer["table"]}
                    if path == GPKG_PROJECT
                    else {"type": "postgis", "dsn": layer["dsn"], "table": layer["table"]}
                ),
                "style": {k: layer[k] for k in STYLE_KEYS if k in layer},
                "queryable": True,
                "wfs": {"precision": 8},
            }
            for layer in layers
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def write_mapfile(layers: list[dict[str, Any]], online: str) -> Path:
    p = conninfo_to_dict(layers[0]["dsn"])
    connection = " ".join(
        f"{k}={p[k]}" for k in ("host", "port", "dbname", "user", "password") if k in p
    )
    layer_t = Template((TEMPLATES / "mapserver_layer.map").read_text())
    body = "".join(
        layer_t.substitute(
            layer,
            ms_type="LINE" if layer.get("geometry") == "line" else "POLYGON",
            # A line's colour is its stroke (with its join and cap); a polygon's fill with an
            # outline.
            style=(
                f'COLOR "{layer["stroke"]}"\n        LINEJOIN {layer["line_join"]}'
                f"\n        LINECAP {layer['line_cap']}"
                if layer.get("geometry") == "line"
                else f'COLOR "{layer["fill"]}"\n        OUTLINECOLOR "{layer["stroke"]}"'
            ),
            connection=connection,
            crs_list=" ".join(wms.CRS_LIST),
            # The countries answer GetFeatureInfo only, without geometries (as in wms_compare).
            extra_metadata='      "gml_geometries" "none"' if layer["name"] == "countries" else "",
        )
        for layer in layers
    )
    mapfile = WORK / "postgis_compare.map"
    mapfile.write_text(
        Template((TEMPLATES / "mapserver.map").read_text()).substitute(
            title="PostGIS comparison", online_resource=online,
            crs_list=" ".join(wms.CRS_LIST), layers=body,
        )
    )  # fmt: skip
    # ogcapi_compare's configuration: the map alias of the OGC API's URLs.
    conf = WORK / "mapserver.conf"
    template = Template((ogcapi.TEMPLATES / "mapserver.conf").read_text())
    conf.write_text(
        template.substitute(
            mapfile=mapfile, alias=ogcapi.MAP_ALIAS, templates=ogcapi.HTML_TEMPLATES
        )
    )
    return conf


def write_qgs(layers: list[dict[str, Any]]) -> Path:
    spec, qgs = WORK / "qgis_project.json", WORK / "postgis_compare.qgs"
    spec.write_text(
        json.dumps(
            {"title": "PostGIS comparison", "crs": wms.CRS_LIST, "extent": [-180, -90, 180, 90],
             "layers": layers, "wfs_precision": 8}
        )
    )  # fmt: skip
    env = os.environ | {"QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(WORK / "xdg")}
    script = BENCH_DIR / "_qgs_project_wfs.py"
    done = subprocess.run(
        [str(wms.SYSTEM_PYTHON), str(script), str(spec), str(qgs)],
        capture_output=True, text=True, env=env, cwd=BENCH_DIR,
    )  # fmt: skip
    if done.returncode != 0 or not qgs.exists():
        raise SystemExit(f"writing the QGIS project failed:\n{done.stdout}\n{done.stderr}")
    return qgs


# --- servers --------------------------------------------------------------------------------


def start(procs: wms.Processes, layers: list[dict[str, Any]], ports: dict[str, int]) -> None:
    """Every server of `ports`: FastCGI ones behind nginx, ogcserve on its own port."""
    fcgi: list[tuple[int, str, Path]] = []
    base = {k: v for k, v in os.environ.items() if not k.startswith(("QGIS_", "MS_"))}
    if "qgis" in ports:
        qenv = base | {
            "QGIS_PROJECT_FILE": str(write_qgs(layers)), "QT_QPA_PLATFORM": "offscreen",
            "XDG_RUNTIME_DIR": str(WORK / "xdg"), "HOME": str(WORK),
            "QGIS_SERVER_LOG_LEVEL": "2", "QGIS_SERVER_IGNORE_BAD_LAYERS": "false",
        }  # fmt: skip
        for key, extra in (("qgis", {}), ("qgis_acl", _acl_env())):
            env = qenv | extra | {"QGIS_SERVER_LOG_FILE": str(WORK / f"{key}.log")}
            fcgi.append((ports[key], "/qgis", wms.spawn_fcgi(procs, key, wms.QGIS_FCGI, env)))
    if "mapserver" in ports:
        env = base | {"MAPSERVER_CONFIG_FILE": str(write_mapfile(layers, _url(ports, "mapserver")))}
        fcgi.append(
            (ports["mapserver"], "/mapserv", wms.spawn_fcgi(procs, "mapserver", wms.MAPSERV, env))
        )
    if fcgi:
        wms.start_nginx(procs, write_nginx(fcgi))
    if "ogcserve" in ports:
        write_project(layers)
        write_project(layers, GPKG_PROJECT)
        common = BENCH_DIR / "ogcserve_plugins" / "common"
        wms.start_ogcserve(procs, "ogcserve", ports["ogcserve"], [common])
        wms.PROJECT = GPKG_PROJECT  # start_ogcserve serves wms.PROJECT
        wms.start_ogcserve(procs, "ogcserve_gpkg", ports["ogcserve_gpkg"], [common])
        wms.PROJECT = PROJECT
        os.environ["BENCH_ACL_ROWS"] = "1"  # read by the plugin in ogcserve's workers
        plugins = [common, BENCH_DIR / "qgis_plugins"]
        wms.start_ogcserve(procs, "ogcserve_acl", ports["ogcserve_acl"], plugins)


def write_nginx(fcgi: list[tuple[int, str, Path]]) -> Path:
    """wms_compare's nginx.conf, plus for QGIS Server and MapServer a port of their own where
    the OGC API's paths (`/wfs3/...`, `/mapserv/<alias>/ogcapi/...`) reach the same FastCGI
    group with PATH_INFO set (ogcapi_compare's prefix location)."""
    conf = wms.write_nginx(fcgi)
    api_t = Template((ogcapi.TEMPLATES / "nginx_server.conf").read_text())
    prefixes = {"/qgis": "/wfs3", "/mapserv": "/mapserv"}
    api = "".join(
        api_t.substitute(port=port + API_PORT_OFFSET, prefix=prefixes[path], socket=sock)
        for port, path, sock in fcgi
        if path in prefixes
    )
    text = conf.read_text()
    conf.write_text(text[: text.rindex("}")] + api + "}\n")
    return conf


def _acl_env() -> dict[str, str]:
    return {"QGIS_PLUGINPATH": str(BENCH_DIR / "qgis_plugins"), "BENCH_ACL_ROWS": "1"}


def _url(ports: dict[str, int], key: str) -> str:
    return f"http://127.0.0.1:{ports[key]}{wfs.PATHS[_server(key)]}"


def _server(key: str) -> str:
    """qgis, mapserver or ogcserve, for a key such as qgis_acl or ogcserve_gpkg."""
    return key.split("_")[0]


def target(ports: dict[str, int], key: str, case: wms.Case | wfs.Case | ItemsCase) -> str:
    """The URL a case requests from the server `key`."""
    server = _server(key)
    if isinstance(case, ItemsCase):
        api = server in ("qgis", "mapserver")
        return case.url(server, ports[key] + (API_PORT_OFFSET if api else 0))
    if isinstance(case, wfs.Case):
        return case.url(_url(ports, key), server)
    return f"{_url(ports, key)}?{case.query()}"


# --- cases ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemsCase:
    """OGC API - Features items: `limit=features` in the CRS84 bbox of exactly `features`
    features (bench/ogcapi_compare.py's request)."""

    name: str = "items_1000"
    features: int = ogcapi.SMALL

    def url(self, server: str, port: int) -> str:
        url = ogcapi.items_url(server, f"http://127.0.0.1:{port}", self.features)
        return url.replace(f"/ogcapi/{ogcapi.OGCSERVE_PROJECT}/", f"/ogcapi/{PROJECT.stem}/")


def wms_cases(gpkg: Path) -> list[wms.Case]:
    with sqlite3.connect(gpkg.resolve().as_uri() + "?mode=ro", uri=True) as conn:
        dense, _ = wms.pick_window(conn, wms.DENSE_TARGET)
        sparse, _ = wms.pick_window(conn, wms.SPARSE_TARGET)
    fills = {layer["name"]: layer["fill"] for layer in wms.layers_spec()}
    cases = wms.make_cases(dense, sparse, fills["countries"], fills[TABLE])
    return [c for c in cases if c.kind != "capabilities"]


def check(key: str, ports: dict[str, int], case: wms.Case | wfs.Case | ItemsCase) -> dict[str, Any]:
    """wms_compare's, wfs_compare's or ogcapi_compare's check; with the plugin, fewer features
    and no `value`."""
    server, acl = _server(key), key.endswith("_acl")
    if isinstance(case, wms.Case):
        return wms.check(wms.Instance(key, key, _url(ports, key), [case.name]), case)
    if not acl:
        if isinstance(case, ItemsCase):
            return ogcapi.check(key, target(ports, key, case), case.features)
        return wfs.check(server, _url(ports, key), case)
    out = WORK / "answers" / f"{key}_{case.name}"
    done = wfs.curl(target(ports, key, case), out)
    fmt = "geojson" if isinstance(case, ItemsCase) else case.fmt
    n, _, _ = wfs.count_features(out, fmt)
    text = out.read_bytes()
    out.unlink()
    hidden = b'"value"' in text if fmt == "geojson" else b"value>" in text
    if done["http_code"] != 200 or not 0.8 * case.features < n < case.features or hidden:
        raise AssertionError(
            f"{key} {case.name}: HTTP {done['http_code']}, {n} features, value shown: {hidden}"
        )
    return {"features": n, "bytes": done["bytes"]}


def measure(
    url: str, case: wms.Case | wfs.Case | ItemsCase, args: argparse.Namespace
) -> dict[str, Any]:
    """requests/s (wrk) for the quick cases; seconds per download for 100,000 features and
    the map of every line."""
    busy = wms.wait_quiet(args.max_busy, args.patience)
    if (isinstance(case, wfs.Case) and case.features == wfs.LARGE) or (
        case.name in postgis_lines.DOWNLOADS
    ):
        wfs.curl(url)
        seconds = [wfs.curl(url)["seconds"] for _ in range(args.downloads)]
        return {"seconds": statistics.median(seconds), "runs": seconds, "cpu_busy_before": busy}
    wms.wrk(url, args.warmup, args.connections)
    run = wms.wrk(url, args.duration, args.connections)
    return run | {"cpu_busy_before": busy}


# --- report ---------------------------------------------------------------------------------


def value(result: dict[str, Any] | None) -> float | None:
    """Throughput: requests/s, or downloads/s for the cases timed by download; the median of
    the rounds."""
    if not result or "error" in result:
        return None
    if "rounds" in result:
        found = [v for v in map(value, result["rounds"]) if v is not None]
        return statistics.median(found) if found else None
    return result.get("requests_per_s") or (
        1 / result["seconds"] if result.get("seconds") else None
    )


def report(results: dict[str, dict[str, Any]], names: list[str], args: argparse.Namespace) -> int:
    rows = []
    for name in names:
        q, m, o = (value(results.get(f"{k}/{name}")) for k in SERVERS)
        qa, oa = value(results.get(f"qgis_acl/{name}")), value(results.get(f"ogcserve_acl/{name}"))
        og = value(results.get(f"ogcserve_gpkg/{name}"))
        best = max(v for v in (q, m, 0.0) if v is not None) or None
        rows.append(
            [name, *(wms.fmt(v) for v in (q, m, o)), wms.fmt(wms.ratio(o, q), 2),
             wms.fmt(wms.ratio(o, best), 2), wms.fmt(qa), wms.fmt(oa),
             _cost(qa, q), _cost(oa, o), wms.fmt(wms.ratio(oa, qa), 2), wms.fmt(og),
             wms.fmt(wms.ratio(og, best), 2), wms.fmt(wms.ratio(o, og), 2)]
        )  # fmt: skip
    print("\nthroughput (requests/s; for *_100000, lines_getmap_world: downloads/s, 1/seconds)")
    wms.print_table(
        ["case", "QGIS", "MapServer", "ogcserve", "og/QGIS", "og/best", "QGIS+acl",
         "og+acl", "QGIS acl cost", "og acl cost", "og/QGIS acl", "og gpkg", "gpkg/best",
         "og pg/gpkg"],
        rows,
    )  # fmt: skip
    busy = [r.get("cpu_busy_before", 0.0) for v in results.values() for r in v.get("rounds", [])]
    loads = [r["loadavg_1"] for v in results.values() for r in v.get("rounds", [])]
    if loads:
        print(f"\nload average (1 min) during the cases: {min(loads)}-{max(loads)}")
    quiet = all(b <= args.max_busy for b in busy)
    print(f"\nmachine busy before cases: max {max(busy, default=0):.0%}; quiet throughout: {quiet}")
    write_result(
        "postgis_compare",
        {"machine": machine(), "versions": wms.versions(), "results": results,
         "args": {k: str(v) for k, v in vars(args).items()}, "quiet": quiet},
    )  # fmt: skip
    return 0


def _cost(with_acl: float | None, without: float | None) -> str:
    return "-" if not with_acl or not without else f"{(1 - with_acl / without):.0%}"


# --- main -----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", default=DSN)
    parser.add_argument("--gpkg", type=Path, default=wms.POLYGONS, help="the parcels to load")
    parser.add_argument("--duration", type=float, default=10, help="seconds timed per wrk case")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of wrk warm-up")
    parser.add_argument("--downloads", type=int, default=2, help="timed 100,000-feature downloads")
    parser.add_argument("--connections", type=int, default=2, help="concurrency")
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--port-base", type=int, default=18380)
    parser.add_argument("--max-busy", type=float, default=0.15, help="wait for a quieter machine")
    parser.add_argument(
        "--patience", type=float, default=60, help="seconds to wait for it before each case"
    )
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds (medians)")
    parser.add_argument("--cases", default="", help="only these cases (comma-separated names)")
    parser.add_argument("--check-only", action="store_true")
    parser.add_argument("--no-install", action="store_true")
    args = parser.parse_args()
    wanted = [s for s in SERVERS if s in args.servers.split(",")]
    for name in ("QGIS_PLUGINPATH", "OGCSERVE_PLUGINPATH", "BENCH_ACL_ROWS"):
        os.environ.pop(name, None)
    wms.install(args.no_install)
    if not args.gpkg.exists():
        build_gpkg(args.gpkg, 1_000_000)
    postgis_lines.ensure_gpkg()
    load(args.dsn, args.gpkg)
    (WORK / "xdg").mkdir(parents=True, exist_ok=True)
    (WORK / "xdg").chmod(0o700)
    (WORK / "answers").mkdir(exist_ok=True)
    wms.WORK, wfs.WORK, ogcapi.WORK, wms.PROJECT = (
        WORK,
        WORK,
        WORK,
        PROJECT,
    )  # their helpers write here
    variants = {"qgis": ("", "_acl"), "mapserver": ("",), "ogcserve": ("", "_acl", "_gpkg")}
    keys = [s + v for s in wanted for v in variants[s]]
    ports = {k: args.port_base + i for i, k in enumerate(keys)}
    cases: dict[str, wms.Case | wfs.Case | ItemsCase] = {c.name: c for c in wms_cases(args.gpkg)}
    cases |= {c.name: c for c in wfs.CASES}
    cases["items_1000"] = ItemsCase()
    cases |= {c.name: c for c in postgis_lines.cases()}
    print(f"lines windows, R-tree candidates: {postgis_lines.counts()}", flush=True)
    if args.cases:
        cases = {k: v for k, v in cases.items() if k in args.cases.split(",")}
    procs = wms.Processes()
    results: dict[str, dict[str, Any]] = {}
    with wms.stopping(procs):
        start(procs, layers_spec(args.dsn), ports)
        for key, port in ports.items():
            if not wms.wait_port(port, 120):
                raise SystemExit(f"{key} does not listen on {port}")
        time.sleep(2)
        for name, case in cases.items():  # checks first: a wrong answer is never timed
            for key in ports:
                if key.endswith("_acl") and name.startswith(LINES):
                    continue  # the plugin restricts the parcels only
                try:
                    results[f"{key}/{name}"] = {"check": check(key, ports, case)}
                except (AssertionError, OSError) as error:
                    results[f"{key}/{name}"] = {"error": str(error)[:400]}
                    print(f"CHECK FAILED {key} {name}: {str(error)[:300]}", flush=True)
        for round_ in range(args.rounds if not args.check_only else 0):
            for name, case in cases.items():
                # Every other round the servers go the other way round.
                order = list(ports) if round_ % 2 == 0 else list(reversed(ports))
                for key in order:
                    result = results.get(f"{key}/{name}", {"error": "not run"})
                    if "error" not in result:
                        done = measure(target(ports, key, case), case, args)
                        done["loadavg_1"] = round(os.getloadavg()[0], 2)
                        result.setdefault("rounds", []).append(done)
                        print(
                            f"  {round_ + 1} {key:14} {name:16} {value(done) or 0:9.2f}"
                            f"  load {done['loadavg_1']}",
                            flush=True,
                        )
    return report(results, list(cases), args)


if __name__ == "__main__":
    raise SystemExit(main())
