"""WCS side by side: QGIS Server 3.22, MapServer 8 and ogcserve, same raster, one run.

The servers and arrangement of bench/wms_compare.py (its functions are reused): QGIS Server
and MapServer as 2 FastCGI processes each (spawn-fcgi) behind one nginx, ogcserve with
`--workers 2` (this checkout's code). The raster is bench/data/wcs_dem.tif, 4096 x 4096 int16
in EPSG:32631 (10 m pixels, tiled 256 x 256, uncompressed, nodata -9999), written here once.

Cases, WCS 1.0.0 on every server (the version all three serve), GeoTIFF:
- `native`: 512 x 512 on the raster's own grid (a BBOX on pixel corners, EPSG:32631);
- `webmercator`: the same area as 512 x 512 in EPSG:3857 (nearest neighbour).
Every answer is checked first (HTTP 200, a 512 x 512 GeoTIFF) and the native one compared with
the file: the origin's offset in pixels and whether the values are identical are reported for
each server; the reprojected one is compared with `gdalwarp -r near` on the same grid, with
exact transformations (`-et 0`) and with gdalwarp's default approximate ones (0.125 pixel):
the share of identical pixels among those both have data for (below 95 % for both, the answer
is reported as a problem and not timed). Then wrk at concurrency 2 (a warm-up, then
--duration s) gives requests/s. The target: ogcserve >= 2x the faster of QGIS Server and
MapServer on both cases. Prints the table and writes bench/out/wcs_compare.json;
everything started is stopped at the end.

    python bench/wcs_compare.py [--duration 10] [--warmup 2] [--servers qgis,mapserver,ogcserve]
        [--rounds N]  (interleaved: each round runs every server once per case, a different
                       one first; the medians make the table, every round is printed)
        [--ogcserve-src DIR]  (the ogcserve code served: this checkout's src/ by default)
        [--before-src DIR]  (also serve another ogcserve src/, e.g. before a change)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import wms_compare as wms
from _common import BENCH_DIR, DATA_DIR, OUT_DIR, machine, print_table, write_result
from affine import Affine
from rasterio.warp import transform_bounds
from rasterio.windows import Window

WORK = OUT_DIR / "wcs_compare"
RASTER = DATA_DIR / "wcs_dem.tif"
NAME = "dem"
SIZE, PIXEL, ORIGIN = 4096, 10.0, (400000.0, 5600000.0)
WINDOW = Window(1024, 1024, 512, 512)
TARGET_VS_BEST = 2.0
# A reprojected answer must equal gdalwarp's nearest neighbour on this share of its pixels.
SAME_AS_GDALWARP = 0.95
CASES = ("native", "webmercator")
PATHS = {"qgis": "/qgis", "mapserver": "/mapserv", "ogcserve": "/ows", "before": "/ows"}
LABELS = {
    "qgis": "QGIS Server",
    "mapserver": "MapServer",
    "ogcserve": "ogcserve",
    "before": "ogcserve (before)",
}
FORMATS = {"qgis": "GeoTIFF", "mapserver": "GTiff", "ogcserve": "GeoTIFF", "before": "GeoTIFF"}
MAPFILE = """MAP
  NAME "wcs_compare"
  EXTENT {extent}
  UNITS METERS
  PROJECTION
    "init=epsg:32631"
  END
  OUTPUTFORMAT
    NAME "GTiff"
    DRIVER "GDAL/GTiff"
    MIMETYPE "image/tiff"
    IMAGEMODE INT16
    EXTENSION "tif"
  END
  WEB
    METADATA
      "ows_title" "WCS comparison"
      "ows_onlineresource" "{online}"
      "ows_enable_request" "*"
      "ows_srs" "EPSG:32631 EPSG:3857"
    END
  END
  LAYER
    NAME "{name}"
    TYPE RASTER
    STATUS ON
    DATA "{raster}"
    PROJECTION
      "init=epsg:32631"
    END
    METADATA
      "wcs_label" "{name}"
      "wcs_srs" "EPSG:32631 EPSG:3857"
      "wcs_formats" "GTiff"
      "wcs_nativeformat" "GTiff"
      "wcs_bandcount" "1"
      "wcs_rangeset_nullvalue" "-9999"
    END
  END
END
"""


def write_raster() -> None:
    """A smooth int16 surface with a nodata block, written once."""
    if RASTER.exists():
        return
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype("float32")
    surface = 300 + 200 * np.sin(x / 150.0) * np.cos(y / 230.0) + (x + y) / 40.0
    data = surface.astype("int16")
    data[:64, :64] = -9999
    with rasterio.open(
        RASTER,
        "w",
        driver="GTiff",
        width=SIZE,
        height=SIZE,
        count=1,
        dtype="int16",
        crs="EPSG:32631",
        transform=Affine(PIXEL, 0, ORIGIN[0], 0, -PIXEL, ORIGIN[1]),
        nodata=-9999,
        tiled=True,
        blockxsize=256,
        blockysize=256,
    ) as out:
        out.write(data, 1)


def native_bbox() -> tuple[float, float, float, float]:
    x0 = ORIGIN[0] + WINDOW.col_off * PIXEL
    y1 = ORIGIN[1] - WINDOW.row_off * PIXEL
    return (x0, y1 - WINDOW.height * PIXEL, x0 + WINDOW.width * PIXEL, y1)


def case_params(case: str, server: str) -> dict[str, str]:
    bbox = native_bbox()
    crs = "EPSG:32631"
    if case == "webmercator":
        bbox = transform_bounds("EPSG:32631", "EPSG:3857", *bbox)
        crs = "EPSG:3857"
    return {
        "SERVICE": "WCS",
        "VERSION": "1.0.0",
        "REQUEST": "GetCoverage",
        "COVERAGE": NAME,
        "CRS": crs,
        "RESPONSE_CRS": crs,
        "BBOX": ",".join(repr(float(v)) for v in bbox),
        "WIDTH": "512",
        "HEIGHT": "512",
        "FORMAT": FORMATS[server],
    }


def url_of(base: str, case: str, server: str) -> str:
    return f"{base}?{urllib.parse.urlencode(case_params(case, server), safe=',:')}"


def check(url: str, case: str, server: str) -> dict[str, Any]:
    """The answer is a 512 x 512 GeoTIFF; on the native grid, compared with the file (kept in
    bench/out/wcs_compare/answers/)."""
    status, ctype, body = wms.fetch(url)
    (WORK / "answers").mkdir(parents=True, exist_ok=True)
    (WORK / "answers" / f"{server}_{case}.tif").write_bytes(body)
    if status != 200:
        raise AssertionError(f"HTTP {status} {ctype}: {body[:300]!r}")
    with rasterio.MemoryFile(body) as memory, memory.open() as got:
        result: dict[str, Any] = {"size": [got.width, got.height], "bytes": len(body)}
        if (got.width, got.height) != (512, 512):
            raise AssertionError(f"size {got.width} x {got.height}")
        if case == "native":
            with rasterio.open(RASTER) as src:
                expected = src.read(1, window=WINDOW)
                want = src.window_transform(WINDOW)
            result["origin_offset_px"] = [
                round((got.transform.c - want.c) / PIXEL, 3),
                round((want.f - got.transform.f) / PIXEL, 3),
            ]
            result["identical_values"] = bool(np.array_equal(got.read(1), expected))
        else:
            for label, threshold in (("gdalwarp_et0", "0"), ("gdalwarp_default", "0.125")):
                result[f"identical_to_{label}"] = same_as_gdalwarp(got, threshold)
            best = max(result["identical_to_gdalwarp_et0"], result["identical_to_gdalwarp_default"])
            if best < SAME_AS_GDALWARP:
                # Not timed: a fast wrong answer is no reference (QGIS Server 3.22 answers this
                # request with an image of nodata only).
                raise AssertionError(f"not the raster reprojected: {result}")
    return result


def same_as_gdalwarp(got: Any, threshold: str) -> float:
    """Share of the pixels both have data for where `got` equals gdalwarp's nearest
    neighbour on the same grid."""
    out = WORK / "answers" / f"gdalwarp_et{threshold}.tif"
    bounds = got.bounds
    size = [str(got.width), str(got.height)]
    extent = [repr(float(v)) for v in bounds]
    args = ["gdalwarp", "-q", "-overwrite", "-r", "near", "-et", threshold, "-t_srs", "EPSG:3857"]
    subprocess.run([*args, "-ts", *size, "-te", *extent, str(RASTER), str(out)], check=True)
    with rasterio.open(out) as warped:
        want = warped.read(1)
    values = got.read(1)
    both = (want != -9999) & (values != got.nodata)
    return round(float(np.mean(values[both] == want[both])), 6) if both.any() else 0.0


def start(
    procs: wms.Processes, wanted: list[str], ports: dict[str, int], sources: dict[str, str]
) -> dict[str, str]:
    base = {k: f"http://127.0.0.1:{ports[k]}{PATHS[k]}" for k in ports}
    env0 = {k: v for k, v in os.environ.items() if not k.startswith(("QGIS_", "MS_"))}
    fcgi: list[tuple[int, str, Path]] = []
    if "qgis" in wanted:
        qgs = WORK / "wcs_compare.qgs"
        env = env0 | {"QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(WORK / "xdg")}
        subprocess.run(
            [
                str(wms.SYSTEM_PYTHON),
                str(BENCH_DIR / "_qgs_project_wcs.py"),
                str(RASTER),
                NAME,
                str(qgs),
            ],
            check=True,
            env=env,
            capture_output=True,
        )
        env |= {"QGIS_PROJECT_FILE": str(qgs), "HOME": str(WORK), "QGIS_SERVER_LOG_LEVEL": "2"}
        sock = wms.spawn_fcgi(procs, "qgis", wms.QGIS_FCGI, env)
        fcgi.append((ports["qgis"], PATHS["qgis"], sock))
    if "mapserver" in wanted:
        mapfile = WORK / "wcs_compare.map"
        extent = f"{ORIGIN[0]} {ORIGIN[1] - SIZE * PIXEL} {ORIGIN[0] + SIZE * PIXEL} {ORIGIN[1]}"
        mapfile.write_text(
            MAPFILE.format(extent=extent, online=base["mapserver"] + "?", name=NAME, raster=RASTER)
        )
        conf = WORK / "mapserver.conf"
        conf.write_text(f'CONFIG\n  ENV\n    MS_MAPFILE "{mapfile}"\n  END\nEND\n')
        env = env0 | {"MAPSERVER_CONFIG_FILE": str(conf)}
        fcgi.append(
            (
                ports["mapserver"],
                PATHS["mapserver"],
                wms.spawn_fcgi(procs, "mapserver", wms.MAPSERV, env),
            )
        )
    if fcgi:
        wms.start_nginx(procs, wms.write_nginx(fcgi))
    project = WORK / "wcs_compare.yaml"
    project.write_text(
        f"name: wcs_compare\ntitle: WCS comparison\ncrs: [EPSG:32631, EPSG:3857]\n"
        f"layers:\n  - name: {NAME}\n    source: {{type: raster, path: {RASTER}}}\n"
    )
    for key in ("ogcserve", "before"):
        if key not in wanted:
            continue
        log = (WORK / f"{key}.log").open("w")
        env = env0 | {"PYTHONPATH": str(sources[key]), "OGCSERVE_LOAD_ENTRY_POINTS": "false"}
        args = [sys.executable, "-m", "ogcserve", "serve", str(project), "--workers", "2"]
        args += ["--port", str(ports[key]), "--log-level", "warning", "--no-access-log"]
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        procs.add(key, [proc.pid])
    return base


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds timed per case")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per case")
    parser.add_argument("--connections", type=int, default=2, help="wrk concurrency")
    parser.add_argument("--servers", default="qgis,mapserver,ogcserve")
    parser.add_argument("--port-base", type=int, default=18780)
    parser.add_argument("--max-busy", type=float, default=0.5, help="wait for a quieter machine")
    parser.add_argument("--patience", type=float, default=20, help="seconds to wait for it")
    parser.add_argument("--no-install", action="store_true", help="never call apt-get")
    parser.add_argument("--ogcserve-src", default=str(BENCH_DIR.parent / "src"))
    parser.add_argument("--before-src", help="also serve this ogcserve src/ (a before/after)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds per case")
    args = parser.parse_args()
    wanted = [s for s in args.servers.split(",") if s]
    wms.install(args.no_install)
    wms.WORK = WORK  # nginx and FastCGI files go to this script's folder
    (WORK / "xdg").mkdir(parents=True, exist_ok=True)
    (WORK / "xdg").chmod(0o700)
    write_raster()
    if args.before_src:
        wanted.append("before")
    keys = ("qgis", "mapserver", "ogcserve", "before")
    ports = {key: args.port_base + i for i, key in enumerate(keys)}
    busy = [p for k, p in ports.items() if k in wanted and not wms.port_free(p)]
    if busy:
        raise SystemExit(f"ports in use: {busy} (use --port-base)")
    procs = wms.Processes()
    results: dict[str, dict[str, Any]] = {}
    with wms.stopping(procs):
        sources = {"ogcserve": args.ogcserve_src, "before": args.before_src}
        base = start(procs, wanted, ports, sources)
        for server in wanted:
            results[server] = checked(server, base[server], ports[server])
        for turn in range(args.rounds):
            for case in CASES:
                ready = [s for s in wanted if "requests_per_s" in results[s].get(case, {})]
                shift = turn % max(len(ready), 1)
                for server in ready[shift:] + ready[:shift]:  # a different one first each round
                    measure(results[server][case], args, server, case)
    report(results, wanted, args)
    return 0


def checked(server: str, base: str, port: int) -> dict[str, Any]:
    """Each case's answer checked (before any timing); a problem instead where it fails."""
    found: dict[str, Any] = {}
    if not wms.wait_port(port, 120):
        return {"problem": "does not listen"}
    for case in CASES:
        url = url_of(base, case, server)
        try:
            entry = check(url, case, server)
        except (AssertionError, OSError, rasterio.errors.RasterioIOError) as error:
            found[case] = {"problem": str(error)[:600], "url": url}
            print(f"{LABELS[server]} {case}: {str(error)[:600]}", flush=True)
            continue
        found[case] = entry | {"url": url, "rounds": [], "requests_per_s": None}
    return found


def measure(entry: dict[str, Any], args: argparse.Namespace, server: str, case: str) -> None:
    """One round of wrk on a case: its requests/s added to the entry's rounds (median kept)."""
    busy = wms.wait_quiet(args.max_busy, patience=args.patience)
    wms.wrk(entry["url"], args.warmup, args.connections)
    done = wms.wrk(entry["url"], args.duration, args.connections)
    load = round(os.getloadavg()[0], 2)
    entry["rounds"].append(done | {"cpu_busy_before": round(busy, 3), "loadavg_1": load})
    entry["requests_per_s"] = float(np.median([r["requests_per_s"] for r in entry["rounds"]]))
    print(
        f"{LABELS[server]} {case}: {done['requests_per_s']:.1f} req/s "
        f"(CPUs {busy:.0%} busy before, load {load})",
        flush=True,
    )


def report(results: dict[str, dict[str, Any]], wanted: list[str], args: argparse.Namespace) -> None:
    rows = []
    shown = [s for s in ("qgis", "mapserver", "before", "ogcserve") if s in wanted]
    for case in CASES:
        rps = {s: results.get(s, {}).get(case, {}).get("requests_per_s") for s in wanted}
        others = [v for s, v in rps.items() if s in ("qgis", "mapserver") and v]
        best = max(others) if others else None
        row: list[object] = [case]
        row += [wms.fmt(rps.get(s)) for s in shown]
        row += [wms.fmt(wms.ratio(rps.get("ogcserve"), best), 2), TARGET_VS_BEST]
        rows.append(row)
    print(f"medians over {args.rounds} interleaved round(s):")
    print_table(["case", *(LABELS[s] for s in shown), "x best", "target"], rows)
    for case in CASES:
        for turn in range(args.rounds):
            got = {
                s: results[s][case]["rounds"][turn]["requests_per_s"]
                for s in wanted
                if len(results.get(s, {}).get(case, {}).get("rounds", [])) > turn
            }
            best = max((v for s, v in got.items() if s in ("qgis", "mapserver")), default=None)
            ratio = wms.fmt(wms.ratio(got.get("ogcserve"), best), 2)
            line = ", ".join(f"{LABELS[s]} {v:.1f}" for s, v in got.items())
            print(f"  {case} round {turn + 1}: {line}; ogcserve / faster reference {ratio}")
    for server in wanted:
        native = results.get(server, {}).get("native", {})
        print(
            f"{LABELS[server]}: native origin offset {native.get('origin_offset_px')} px, "
            f"identical values {native.get('identical_values')}"
        )
        warped = results.get(server, {}).get("webmercator", {})
        print(
            f"{LABELS[server]}: reprojected, identical to gdalwarp -et 0 "
            f"{warped.get('identical_to_gdalwarp_et0')}, to gdalwarp (et 0.125) "
            f"{warped.get('identical_to_gdalwarp_default')}"
        )
    path = write_result(
        "wcs_compare",
        {"machine": machine(), "versions": wms.versions(), "args": vars(args), "results": results},
    )
    print(f"written {path}")


if __name__ == "__main__":
    sys.exit(main())
