"""WMS side by side: QGIS Server 3.22, MapServer 8 and ogcserve, same data, same styles, one run.

What it does (everything it starts is stopped at the end, on errors and on Ctrl-C too):
1. installs what is missing with apt-get (qgis-server, python3-qgis, cgi-mapserver, nginx,
   spawn-fcgi, wrk); writes bench/data/polygons_1000000.gpkg with bench/gpkg_bbox.py's
   generator if it is not there;
2. picks a dense (~10,000 polygons) and a sparse (~50) 4:3 window on that layer by counting
   with its R-tree;
3. writes the configurations to bench/out/wms_compare/ (the .qgs project through PyQGIS, the
   mapfile and MapServer 8 config file, nginx.conf) and the ogcserve project to
   bench/data/wms_compare.yaml (the Natural Earth countries with the demo project's style, and
   the 1,000,000 parcels);
4. starts QGIS Server and MapServer as 2 FastCGI processes each (spawn-fcgi) behind one nginx,
   and ogcserve with `--workers 2` (with the plugin bench/ogcserve_plugins/common, which lets
   only GetCapabilities documents into the caches: QGIS Server and MapServer cache no image);
   the access-control runs use bench/qgis_plugins/bench_acl and bench/ogcserve_plugins/acl;
5. checks every answer before timing (HTTP 200, PNG magic, 1024x768, not blank, the style's
   fill colour present; GML feature info naming France; capabilities XML with the expected
   layers, the parcels layer hidden by the access control), and saves them in the out folder;
6. times each case with wrk at concurrency 2 (2 threads, 2 connections; a warm-up, then a fixed
   duration), one server and one case at a time;
7. prints requests/s per case and server, the ratios ogcserve/QGIS Server and
   ogcserve/MapServer against the targets, and writes bench/out/wms_compare.json.

ogcserve's WMS may not be there yet: with --wait-ogcserve N the script polls for up to N
minutes until GetCapabilities and GetMap answer; if they never do, the reference servers are
measured anyway and ogcserve is reported as not measured.

    /work/venv/bin/python bench/wms_compare.py [--duration 10] [--warmup 3] [--rounds 1]
        [--wait-ogcserve 0] [--servers qgis,mapserver,ogcserve] [--check-only] [--no-install]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any
from xml.etree import ElementTree

import yaml
from _common import BENCH_DIR, DATA_DIR, OUT_DIR, machine, print_table, write_result
from gpkg_bbox import CELL, GRID, SRS_ID, TABLE, X0, Y0, build_gpkg, rtree_count
from PIL import Image

REPO = BENCH_DIR.parent
WORK = OUT_DIR / "wms_compare"
TEMPLATES = BENCH_DIR / "wms_templates"
DEMO = REPO / "src" / "ogcserve" / "demo"
NATURAL_EARTH = DEMO / "natural_earth.gpkg"
POLYGONS = DATA_DIR / "polygons_1000000.gpkg"
PROJECT = DATA_DIR / "wms_compare.yaml"
OGCSERVE = Path(sys.executable).parent / "ogcserve"
QGIS_FCGI = Path("/usr/lib/cgi-bin/qgis_mapserv.fcgi")
MAPSERV = Path("/usr/lib/cgi-bin/mapserv")
SYSTEM_PYTHON = Path("/usr/bin/python3")

# The parcels' style (the generated project of gpkg_bbox.py has none); countries take the
# demo project's. Only these keys are translated to QGIS and MapServer.
PARCELS_STYLE = {"fill": "#fdd49e", "stroke": "#d7301f", "stroke_width": 0.5}
STYLE_KEYS = {"fill", "stroke", "stroke_width"}
CRS_LIST = ["EPSG:4326", "EPSG:3857"]
WIDTH, HEIGHT = 1024, 768
DENSE_TARGET, SPARSE_TARGET = 10_000, 50
GFI_POINT = (2.5, 46.5)  # lon, lat: France
GFI_EXPECT = "France"
HIDDEN_BY_ACL = "parcels"

# Targets, as ratios measured in the same run (the issue): GetMap >= 2x QGIS Server and
# >= 1.5x MapServer on every window, GetFeatureInfo >= 1.2x QGIS Server, GetCapabilities
# >= QGIS Server's cached figure, with or without an access-control plugin.
GETMAP_VS_QGIS, GETMAP_VS_MAPSERVER, GFI_VS_QGIS, CAPS_VS_QGIS = 2.0, 1.5, 1.2, 1.0

# The figures quoted in the issue (a quiet machine of this kind, concurrency 2), for reference.
ISSUE_REFERENCE = {
    "qgis": {
        "getmap_world": 41,
        "getmap_dense": 13,
        "getmap_sparse": 59,
        "getfeatureinfo": 1100,
        "getcapabilities": 2750,
        "getcapabilities_acl": 220,
    },
    "mapserver": {
        "getmap_world": 80,
        "getmap_dense": 12,
        "getmap_sparse": 93,
        "getfeatureinfo": 340,
        "getcapabilities": 117,
    },
}

PACKAGES = {  # what must exist -> the Debian package that brings it
    "/usr/lib/cgi-bin/qgis_mapserv.fcgi": "qgis-server",
    "/usr/lib/python3/dist-packages/qgis/server": "python3-qgis",
    "/usr/lib/cgi-bin/mapserv": "cgi-mapserver",
    "/usr/sbin/nginx": "nginx",
    "/usr/bin/spawn-fcgi": "spawn-fcgi",
    "/usr/bin/wrk": "wrk",
}


# --- cases ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One request, the same on every server (only the endpoint differs)."""

    name: str
    title: str
    params: dict[str, str]
    kind: str  # "png", "gml", "capabilities"
    fill: str = ""  # GetMap: the colour that must show (a line layer's stroke)
    min_share: float = 0.05  # GetMap: of the image, at least (thin lines cover less)
    acl: bool = False  # answered by the access-control instances

    def query(self) -> str:
        return urllib.parse.urlencode(self.params, safe=",:/")


def getmap(layer: str, crs: str, bbox: tuple[float, ...]) -> dict[str, str]:
    return {
        "SERVICE": "WMS",
        "VERSION": "1.3.0",
        "REQUEST": "GetMap",
        "LAYERS": layer,
        "STYLES": "",
        "CRS": crs,
        "BBOX": ",".join(_num(v) for v in bbox),
        "WIDTH": str(WIDTH),
        "HEIGHT": str(HEIGHT),
        "FORMAT": "image/png",
    }


def _num(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def make_cases(
    dense: tuple[float, ...], sparse: tuple[float, ...], countries_fill: str, parcels_fill: str
) -> list[Case]:
    # WMS 1.3.0 and EPSG:4326: latitude first. The whole world is 2:1 in a 4:3 image; every
    # server stretches it the same way (WMS 1.3.0 allows non-square pixels).
    world = (-90.0, -180.0, 90.0, 180.0)
    lon, lat = GFI_POINT
    i = int((lon + 180.0) / 360.0 * WIDTH)
    j = int((90.0 - lat) / 180.0 * HEIGHT)
    gfi = getmap("countries", "EPSG:4326", world) | {
        "REQUEST": "GetFeatureInfo",
        "QUERY_LAYERS": "countries",
        "INFO_FORMAT": "application/vnd.ogc.gml",
        "I": str(i),
        "J": str(j),
        "FEATURE_COUNT": "1",
    }
    caps = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetCapabilities"}
    return [
        Case(
            "getmap_world",
            "GetMap countries, whole world",
            getmap("countries", "EPSG:4326", world),
            "png",
            countries_fill,
        ),
        Case(
            "getmap_dense",
            "GetMap parcels, dense window",
            getmap(TABLE, "EPSG:3857", dense),
            "png",
            parcels_fill,
        ),
        Case(
            "getmap_sparse",
            "GetMap parcels, sparse window",
            getmap(TABLE, "EPSG:3857", sparse),
            "png",
            parcels_fill,
        ),
        Case("getfeatureinfo", "GetFeatureInfo GML (countries)", gfi, "gml"),
        Case("getcapabilities", "GetCapabilities", caps, "capabilities"),
        Case(
            "getcapabilities_acl",
            "GetCapabilities, access-control plugin",
            caps,
            "capabilities",
            acl=True,
        ),
    ]


# --- windows on the 1,000,000-polygon layer -------------------------------------------------


def pick_window(conn: sqlite3.Connection, target: int) -> tuple[tuple[float, ...], int]:
    """The 4:3 window, offset by half a cell from the grid centre (as gpkg_bbox.py's), whose
    R-tree count is nearest `target`."""
    x = X0 + (GRID // 2 + 0.5) * CELL
    y = Y0 + (GRID // 2 + 0.5) * CELL
    best: tuple[int, tuple[float, ...], int] | None = None
    for tenth in range(10, 4000):  # width in tenths of a cell
        w = tenth / 10 * CELL
        bbox = (x, y, x + w, y + w * HEIGHT / WIDTH)
        count = rtree_count(conn, bbox)
        if best is None or abs(count - target) < best[0]:
            best = (abs(count - target), bbox, count)
        if count > target * 1.5:
            break
    assert best is not None
    return best[1], best[2]


# --- processes ------------------------------------------------------------------------------


@dataclass
class Instance:
    """One server under test: how to reach it and which cases it answers."""

    key: str  # qgis, qgis_acl, qgis_acl_nokey, mapserver, ogcserve, ogcserve_acl
    label: str
    base_url: str
    cases: list[str]
    pids: list[int] = field(default_factory=list)
    available: bool = True
    problem: str = ""
    headers: tuple[str, ...] = ()  # extra request headers for wrk (diagnostic runs)

    @property
    def port(self) -> int:
        return int(urllib.parse.urlsplit(self.base_url).port or 80)

    def url(self, case: Case) -> str:
        return f"{self.base_url}?{case.query()}"


class Processes:
    """Everything started, stopped by pid in reverse order."""

    def __init__(self) -> None:
        self.started: list[tuple[str, list[int]]] = []

    def add(self, name: str, pids: list[int]) -> None:
        self.started.append((name, pids))

    def stop_all(self) -> None:
        while self.started:
            name, pids = self.started.pop()
            for pid in pids:
                for child in _children(pid):
                    _signal(child, signal.SIGTERM)
                _signal(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            for pid in pids:
                while _alive(pid) and time.monotonic() < deadline:
                    _reap(pid)
                    time.sleep(0.05)
                if _alive(pid):
                    for child in _children(pid):
                        _signal(child, signal.SIGKILL)
                    _signal(pid, signal.SIGKILL)
                    _reap(pid)
            print(f"stopped {name} ({', '.join(map(str, pids))})")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(p) for p in (task / "children").read_text().split()]
    return found


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no obstacle
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_port(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s, contextlib.suppress(OSError):
            s.settimeout(0.5)
            s.connect(("127.0.0.1", port))
            return True
        time.sleep(0.2)
    return False


# --- installation and configuration ---------------------------------------------------------


def install(skip: bool) -> None:
    missing = sorted({pkg for path, pkg in PACKAGES.items() if not Path(path).exists()})
    if not missing:
        return
    if skip:
        raise SystemExit(f"missing Debian packages: {' '.join(missing)} (--no-install given)")
    if os.geteuid() != 0:
        raise SystemExit(
            f"missing Debian packages: {' '.join(missing)}; run as root (or install them) first"
        )
    print(f"installing {' '.join(missing)} ...", flush=True)
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        check=True,
        env=env,
    )


def versions() -> dict[str, str]:
    def first_line(cmd: list[str]) -> str:
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        except OSError as error:
            return str(error)
        return (
            (done.stdout or done.stderr).strip().splitlines()[0]
            if (done.stdout or done.stderr)
            else ""
        )

    def deb(pkg: str) -> str:
        return first_line(["dpkg-query", "-W", "-f=${Version}", pkg])

    return {
        "qgis-server": deb("qgis-server"),
        "cgi-mapserver": deb("cgi-mapserver"),
        "mapserv": first_line([str(MAPSERV), "-v"]).split(" OUTPUT=")[0],
        "nginx": deb("nginx"),
        "spawn-fcgi": deb("spawn-fcgi"),
        "wrk": deb("wrk"),
        "gdal": deb("libgdal32"),
        "ogcserve": first_line(
            [sys.executable, "-c", "import importlib.metadata as m; print(m.version('ogcserve'))"]
        ),
    }


def style_of(name: str) -> dict[str, Any]:
    if name == TABLE:
        return dict(PARCELS_STYLE)
    demo = yaml.safe_load((DEMO / "demo.yaml").read_text())
    for layer in demo["layers"]:
        if layer["name"] == name:
            style: dict[str, Any] = layer["style"]
            unknown = set(style) - STYLE_KEYS
            if unknown:
                raise SystemExit(
                    f"demo style of {name} has {unknown}: not translated for "
                    "QGIS Server and MapServer; update bench/wms_compare.py"
                )
            return style
    raise SystemExit(f"no layer {name} in the demo project")


def layers_spec() -> list[dict[str, Any]]:
    return [
        {
            "name": "countries",
            "path": str(NATURAL_EARTH),
            "table": "countries",
            "epsg": 4326,
            **style_of("countries"),
        },
        {
            "name": TABLE,
            "path": str(POLYGONS.resolve()),
            "table": TABLE,
            "epsg": SRS_ID,
            **style_of(TABLE),
        },
    ]


def write_ogcserve_project(layers: list[dict[str, Any]]) -> None:
    doc = {
        "name": "wms_compare",
        "title": "WMS comparison (bench/wms_compare.py)",
        "crs": CRS_LIST,
        "layers": [
            {
                "name": layer["name"],
                "title": layer["name"],
                "source": {"type": "geopackage", "path": layer["path"], "table": layer["table"]},
                "key": "fid",
                "style": {k: layer[k] for k in ("fill", "stroke", "stroke_width")},
                "queryable": True,
                # The decimals QGIS Server writes in WFS (WFSLayersPrecision 8 in its project,
                # bench/_qgs_project_wfs.py); MapServer writes 6.
                "wfs": {"precision": 8},
            }
            for layer in layers
        ],
    }
    PROJECT.write_text(
        "# Written by bench/wms_compare.py; rewritten on every run.\n"
        + yaml.safe_dump(doc, sort_keys=False)
    )


def write_qgs(layers: list[dict[str, Any]]) -> Path:
    spec = WORK / "qgis_project.json"
    qgs = WORK / "wms_compare.qgs"
    spec.write_text(
        json.dumps(
            {
                "title": "WMS comparison (bench/wms_compare.py)",
                "crs": CRS_LIST,
                "extent": [-180, -90, 180, 90],
                "layers": layers,
            },
            indent=2,
        )
    )
    env = os.environ | {"QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(WORK / "xdg")}
    done = subprocess.run(
        [str(SYSTEM_PYTHON), str(BENCH_DIR / "_qgs_project.py"), str(spec), str(qgs)],
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode != 0 or not qgs.exists():
        raise SystemExit(f"writing the QGIS project failed:\n{done.stdout}\n{done.stderr}")
    return qgs


def write_mapfile(layers: list[dict[str, Any]], online: str) -> Path:
    layer_t = Template((TEMPLATES / "mapserver_layer.map").read_text())
    body = "".join(
        layer_t.substitute(
            name=layer["name"],
            path=layer["path"],
            table=layer["table"],
            epsg=layer["epsg"],
            crs_list=" ".join(CRS_LIST),
            fill=layer["fill"],
            stroke=layer["stroke"],
            stroke_width=layer["stroke_width"],
        )
        for layer in layers
    )
    mapfile = WORK / "wms_compare.map"
    mapfile.write_text(
        Template((TEMPLATES / "mapserver.map").read_text()).substitute(
            title="WMS comparison (bench/wms_compare.py)",
            online_resource=online,
            crs_list=" ".join(CRS_LIST),
            layers=body,
        )
    )
    conf = WORK / "mapserver.conf"
    conf.write_text(
        Template((TEMPLATES / "mapserver.conf").read_text()).substitute(mapfile=mapfile)
    )
    return conf


def write_nginx(servers: list[tuple[int, str, Path]]) -> Path:
    server_t = Template((TEMPLATES / "nginx_server.conf").read_text())
    blocks = "".join(
        server_t.substitute(port=port, path=path, socket=sock) for port, path, sock in servers
    )
    for sub in ("body", "fastcgi", "proxy", "uwsgi", "scgi"):
        (WORK / "nginx_tmp" / sub).mkdir(parents=True, exist_ok=True)
    conf = WORK / "nginx.conf"
    conf.write_text(
        Template((TEMPLATES / "nginx.conf").read_text()).substitute(
            user_line="user root;" if os.geteuid() == 0 else "", out=WORK, servers=blocks
        )
    )
    return conf


# --- starting servers -----------------------------------------------------------------------


def spawn_fcgi(
    procs: Processes, name: str, program: Path, env: dict[str, str], processes: int = 2
) -> Path:
    sock = WORK / f"{name}.sock"
    pidfile = WORK / f"{name}.pids"
    sock.unlink(missing_ok=True)
    pidfile.unlink(missing_ok=True)
    log = (WORK / f"{name}.spawn.log").open("w")
    subprocess.run(
        [
            "spawn-fcgi",
            "-s",
            str(sock),
            "-M",
            "0666",
            "-F",
            str(processes),
            "-P",
            str(pidfile),
            "--",
            str(program),
        ],
        check=True,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=WORK,
    )
    pids = [int(p) for p in pidfile.read_text().split()]
    procs.add(f"{name} FastCGI", pids)
    return sock


def start_nginx(procs: Processes, conf: Path) -> None:
    log = (WORK / "nginx.stderr.log").open("w")
    proc = subprocess.Popen(
        ["nginx", "-c", str(conf), "-p", str(WORK)], stdout=log, stderr=subprocess.STDOUT
    )
    procs.add("nginx", [proc.pid])


def start_ogcserve(procs: Processes, name: str, port: int, plugin_dirs: list[Path]) -> None:
    args = [
        str(OGCSERVE),
        "serve",
        str(PROJECT),
        "--workers",
        "2",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    for folder in plugin_dirs:
        args += ["--plugins", str(folder)]
    log = (WORK / f"{name}.log").open("w")
    env = os.environ | {"OGCSERVE_LOAD_ENTRY_POINTS": "false"}
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    procs.add(name, [proc.pid])


# --- checks ---------------------------------------------------------------------------------


def fetch(url: str, timeout: float = 60) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


def hex_rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def check(instance: Instance, case: Case) -> dict[str, Any]:
    """Request once, save the answer and check it; raises AssertionError with the reason."""
    url = instance.url(case)
    status, ctype, body = fetch(url)
    suffix = {"png": "png", "gml": "xml", "capabilities": "xml"}[case.kind]
    (WORK / "answers").mkdir(exist_ok=True)
    (WORK / "answers" / f"{instance.key}_{case.name}.{suffix}").write_bytes(body)
    head = body[:300].decode("utf-8", "replace")
    if status != 200:
        raise AssertionError(f"HTTP {status} ({ctype}): {head}")
    info: dict[str, Any] = {"bytes": len(body), "content_type": ctype}
    if case.kind == "png":
        if not body.startswith(b"\x89PNG\r\n\x1a\n"):
            raise AssertionError(f"not a PNG ({ctype}): {head}")
        image = Image.open(io.BytesIO(body)).convert("RGBA")
        if image.size != (WIDTH, HEIGHT):
            raise AssertionError(f"image is {image.size}, not {(WIDTH, HEIGHT)}")
        colours = image.getcolors(maxcolors=WIDTH * HEIGHT) or []
        if len(colours) < 2:
            raise AssertionError("blank image (one colour)")
        target = hex_rgb(case.fill)
        near = 0
        for count, pixel in colours:
            r, g, b, a = pixel if isinstance(pixel, tuple) else (pixel, pixel, pixel, 255)
            if a > 200 and max(abs(r - target[0]), abs(g - target[1]), abs(b - target[2])) <= 8:
                near += count
        share = near / (WIDTH * HEIGHT)
        info |= {"colours": len(colours), "fill_share": round(share, 3)}
        if share < case.min_share:
            raise AssertionError(f"the colour {case.fill} covers {share:.1%} of the image")
    else:
        try:
            root = ElementTree.fromstring(body)
        except ElementTree.ParseError as error:
            raise AssertionError(f"not XML ({error}): {head}") from error
        if case.kind == "gml":
            text = body.decode("utf-8", "replace")
            if GFI_EXPECT not in text:
                raise AssertionError(f"{GFI_EXPECT} not in the feature info: {head}")
            if "gml" not in text.lower():
                raise AssertionError(f"no GML: {head}")
            info["root"] = root.tag
        else:
            if not root.tag.endswith("WMS_Capabilities"):
                raise AssertionError(f"root element {root.tag}: {head}")
            names = {e.text for e in root.iter() if e.tag.endswith("}Name") or e.tag == "Name"}
            expected = {"countries"} if case.acl else {"countries", TABLE}
            if not expected <= names:
                raise AssertionError(f"layers {sorted(expected - names)} missing from capabilities")
            if case.acl and HIDDEN_BY_ACL in names:
                raise AssertionError(f"{HIDDEN_BY_ACL} is listed although the ACL hides it")
            info["layers"] = sorted(n for n in names if n in {"countries", TABLE})
    return info


def wait_ogcserve(
    instance: Instance, cases: dict[str, Case], minutes: float, restart: Callable[[], None]
) -> None:
    """Poll until GetCapabilities and GetMap answer (the WMS may still be being written)."""
    deadline = time.monotonic() + minutes * 60
    probe = [
        cases[
            "getcapabilities_acl" if "getcapabilities_acl" in instance.cases else "getcapabilities"
        ]
    ]
    if "getmap_world" in instance.cases:
        probe.append(cases["getmap_world"])
    attempt = 0
    while True:
        try:
            for case in probe:
                check(instance, case)
            return
        except (AssertionError, OSError) as error:
            last = f"{type(error).__name__}: {error}"
        if time.monotonic() >= deadline:
            raise AssertionError(f"ogcserve's WMS does not answer yet ({last[:300]})")
        attempt += 1
        print(f"  {instance.label}: not ready ({last[:120]}); retrying in 60 s", flush=True)
        time.sleep(60)
        if attempt % 5 == 0:
            restart()  # pick up the colleague's latest code


# --- timing ---------------------------------------------------------------------------------


def cpu_busy(seconds: float = 1.0) -> float:
    """Share of all CPUs busy over `seconds` (from /proc/stat); 0.0 where there is none."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
        idle = values[3] + (values[4] if len(values) > 4 else 0)
        return sum(values), idle

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except OSError:
        return 0.0
    total = total1 - total0
    return round(1.0 - (idle1 - idle0) / total, 3) if total else 0.0


def wait_quiet(max_busy: float, patience: float = 60.0) -> float:
    """Wait until the machine is quiet (our servers are idle between cases); the last share."""
    deadline = time.monotonic() + patience
    busy = cpu_busy()
    while busy > max_busy and time.monotonic() < deadline:
        print(f"  machine busy ({busy:.0%} of the CPUs); waiting", flush=True)
        busy = cpu_busy(2.0)
    return busy


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def wrk(
    url: str, seconds: float, connections: int, headers: tuple[str, ...] = ()
) -> dict[str, Any]:
    done = subprocess.run(
        [
            "wrk",
            *(arg for header in headers for arg in ("-H", header)),
            f"-t{connections}",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--timeout",
            "60s",
            "--latency",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    out = done.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    latency = {
        q: _ms(m.group(1))
        for q, m in ((q, re.search(rf"^\s+{q}%\s+([\d.]+\w+)", out, re.M)) for q in ("50", "99"))
        if m
    }
    if rps is None or total is None:
        raise RuntimeError(f"cannot read wrk's output:\n{out}\n{done.stderr}")
    return {
        "requests_per_s": float(rps.group(1)),
        "requests": int(total.group(1)),
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1).strip() if errors else "",
        "latency_p50_ms": latency.get("50"),
        "latency_p99_ms": latency.get("99"),
    }


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return round(float(m.group(1)) * _UNITS[m.group(2)], 3) if m else float("nan")


# --- main -----------------------------------------------------------------------------------


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}" if value < 100 else f"{value:,.0f}"


@contextlib.contextmanager
def stopping(procs: Processes) -> Iterator[None]:
    """Stop everything on exit, on errors, on Ctrl-C and on SIGTERM."""

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        procs.stop_all()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds timed per case")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of warm-up per case")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="timed runs per case and server (the median is reported)",
    )
    parser.add_argument("--connections", type=int, default=2, help="concurrency")
    parser.add_argument("--servers", default="qgis,mapserver,ogcserve")
    parser.add_argument("--port-base", type=int, default=18180)
    parser.add_argument(
        "--wait-ogcserve",
        type=float,
        default=0,
        metavar="MINUTES",
        help="poll this long for ogcserve's WMS before giving up on it",
    )
    parser.add_argument("--check-only", action="store_true", help="check the answers, no timing")
    parser.add_argument("--no-install", action="store_true", help="never call apt-get")
    parser.add_argument(
        "--max-busy",
        type=float,
        default=0.15,
        help="before each case, wait (up to 60 s) until other processes use less than this "
        "share of the CPUs",
    )
    parser.add_argument(
        "--hold",
        action="store_true",
        help="after the checks, keep the servers running until Ctrl-C (to probe "
        "them by hand); no timing",
    )
    args = parser.parse_args()
    wanted = set(args.servers.split(","))

    install(args.no_install)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing")
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    if not POLYGONS.exists():
        print(f"generating {POLYGONS} (bench/gpkg_bbox.py's generator) ...", flush=True)
        build_gpkg(POLYGONS, 1_000_000)
    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "xdg").mkdir(parents=True)
    (WORK / "xdg").chmod(0o700)

    with sqlite3.connect(POLYGONS.resolve().as_uri() + "?mode=ro", uri=True) as conn:
        dense, dense_n = pick_window(conn, DENSE_TARGET)
        sparse, sparse_n = pick_window(conn, SPARSE_TARGET)
    print(f"dense window  {tuple(round(v) for v in dense)}: {dense_n:,} polygons (R-tree)")
    print(f"sparse window {tuple(round(v) for v in sparse)}: {sparse_n:,} polygons (R-tree)")

    layers = layers_spec()
    fills = {layer["name"]: layer["fill"] for layer in layers}
    case_list = make_cases(dense, sparse, fills["countries"], fills[TABLE])
    cases = {c.name: c for c in case_list}
    plain = [c.name for c in case_list if not c.acl]

    port = iter(range(args.port_base, args.port_base + 100))
    ports = {
        key: next(port)
        for key in ("qgis", "qgis_acl", "qgis_acl_nokey", "mapserver", "ogcserve", "ogcserve_acl")
    }
    busy = [p for p in ports.values() if not port_free(p)]
    if busy:
        raise SystemExit(f"ports in use: {busy} (use --port-base)")

    def url(key: str, path: str) -> str:
        return f"http://127.0.0.1:{ports[key]}{path}"

    instances: list[Instance] = []
    if "qgis" in wanted:
        instances += [
            Instance("qgis", "QGIS Server", url("qgis", "/qgis"), plain),
            Instance(
                "qgis_acl",
                "QGIS Server + ACL plugin",
                url("qgis_acl", "/qgis"),
                ["getcapabilities_acl"],
            ),
            Instance(
                "qgis_acl_nokey",
                "QGIS Server + ACL plugin without cacheKey",
                url("qgis_acl_nokey", "/qgis"),
                ["getcapabilities_acl"],
            ),
        ]
    if "mapserver" in wanted:
        instances.append(Instance("mapserver", "MapServer", url("mapserver", "/mapserv"), plain))
    if "ogcserve" in wanted:
        instances += [
            Instance("ogcserve", "ogcserve", url("ogcserve", "/ows"), plain),
            # Diagnostic: a new connection per request (keep-alive answers of uvicorn
            # --workers N wait ~40 ms for a delayed ACK: Kludex/uvicorn#3149).
            Instance(
                "ogcserve_close",
                "ogcserve, Connection: close (diagnostic)",
                url("ogcserve", "/ows"),
                plain,
                headers=("Connection: close",),
            ),
            Instance(
                "ogcserve_acl",
                "ogcserve + ACL plugin",
                url("ogcserve_acl", "/ows"),
                ["getcapabilities_acl"],
            ),
        ]
    by_key = {i.key: i for i in instances}

    write_ogcserve_project(layers)
    procs = Processes()
    with stopping(procs):
        fcgi: list[tuple[int, str, Path]] = []
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("QGIS_", "MS_"))}
        if "qgis" in wanted:
            qgs = write_qgs(layers)
            qenv = base_env | {
                "QGIS_PROJECT_FILE": str(qgs),
                "QT_QPA_PLATFORM": "offscreen",
                "XDG_RUNTIME_DIR": str(WORK / "xdg"),
                "HOME": str(WORK),
                "QGIS_SERVER_LOG_LEVEL": "2",
                "QGIS_SERVER_LOG_STDERR": "0",
                "QGIS_SERVER_IGNORE_BAD_LAYERS": "false",
            }
            plugins = {"QGIS_PLUGINPATH": str(BENCH_DIR / "qgis_plugins")}
            for key, env in (
                ("qgis", qenv | {"QGIS_SERVER_LOG_FILE": str(WORK / "qgis.log")}),
                ("qgis_acl", qenv | plugins | {"QGIS_SERVER_LOG_FILE": str(WORK / "qgis_acl.log")}),
                (
                    "qgis_acl_nokey",
                    qenv
                    | plugins
                    | {
                        "QGIS_SERVER_LOG_FILE": str(WORK / "qgis_acl_nokey.log"),
                        "WMS_BENCH_ACL_NO_CACHE_KEY": "1",
                    },
                ),
            ):
                fcgi.append((ports[key], "/qgis", spawn_fcgi(procs, key, QGIS_FCGI, env)))
        if "mapserver" in wanted:
            conf = write_mapfile(layers, url("mapserver", "/mapserv") + "?")
            menv = base_env | {"MAPSERVER_CONFIG_FILE": str(conf)}
            fcgi.append(
                (ports["mapserver"], "/mapserv", spawn_fcgi(procs, "mapserver", MAPSERV, menv))
            )
        if fcgi:
            start_nginx(procs, write_nginx(fcgi))

        common = BENCH_DIR / "ogcserve_plugins" / "common"
        acl = BENCH_DIR / "ogcserve_plugins" / "acl"
        og_plugins = {"ogcserve": [common], "ogcserve_acl": [common, acl]}

        def start_og(key: str) -> None:
            start_ogcserve(procs, key, ports[key], og_plugins[key])

        def restart_og(key: str) -> Callable[[], None]:
            def again() -> None:
                for i, (name, pids) in enumerate(procs.started):
                    if name == key:
                        single = Processes()
                        single.add(name, pids)
                        single.stop_all()
                        del procs.started[i]
                        break
                start_og(key)
                wait_port(ports[key], 60)

            return again

        for key in og_plugins:
            if key in by_key:
                start_og(key)
        for inst in instances:
            if not wait_port(inst.port, 120):
                inst.available, inst.problem = False, "does not listen"

        # --- checks before timing
        checks: dict[str, dict[str, Any]] = {}
        for inst in instances:
            if inst.key == "ogcserve_close":  # the same process as "ogcserve"
                inst.available, inst.problem = (
                    by_key["ogcserve"].available,
                    by_key["ogcserve"].problem,
                )
            elif inst.available and inst.key.startswith("ogcserve"):
                try:
                    wait_ogcserve(inst, cases, args.wait_ogcserve, restart_og(inst.key))
                except AssertionError as error:
                    inst.available, inst.problem = False, str(error)
            for name in inst.cases:
                if not inst.available:
                    break
                try:
                    checks[f"{inst.key}/{name}"] = check(inst, cases[name])
                except (AssertionError, OSError) as error:
                    checks[f"{inst.key}/{name}"] = {"error": str(error)[:500]}
                    print(
                        f"CHECK FAILED {inst.label} {name}: {str(error)[:300]}\n"
                        f"  {inst.url(cases[name])}",
                        flush=True,
                    )
                    if not inst.key.startswith("ogcserve"):
                        raise SystemExit(2) from error
        for inst in instances:
            status = "ok" if inst.available else f"NOT AVAILABLE: {inst.problem[:300]}"
            print(f"checked {inst.label}: {status}")
        no_image_cache = _dropped_cache_entries()
        if args.hold:
            for inst in instances:
                print(f"{inst.label}: {inst.base_url}")
            print("holding; Ctrl-C stops everything", flush=True)
            while True:
                time.sleep(3600)

        # --- timing, one server and one case at a time
        results: dict[str, dict[str, Any]] = {}
        if not args.check_only:
            for inst in instances:
                for name in inst.cases:
                    check_result = checks.get(f"{inst.key}/{name}", {})
                    if not inst.available or "error" in check_result:
                        continue
                    target = inst.url(cases[name])
                    cpu_before = wait_quiet(args.max_busy)
                    wrk(target, args.warmup, args.connections, inst.headers)
                    runs = [
                        wrk(target, args.duration, args.connections, inst.headers)
                        for _ in range(args.rounds)
                    ]
                    runs.sort(key=lambda r: r["requests_per_s"])
                    median = runs[len(runs) // 2]
                    results[f"{inst.key}/{name}"] = median | {
                        "runs_requests_per_s": [r["requests_per_s"] for r in runs],
                        "cpu_busy_before": cpu_before,
                    }
                    flag = f"  ({median['non_2xx']} non-2xx!)" if median["non_2xx"] else ""
                    print(
                        f"  {inst.label:42s} {name:20s} {median['requests_per_s']:9.1f} req/s"
                        f"{flag}",
                        flush=True,
                    )
                    time.sleep(1)

    return report(
        args,
        instances,
        cases,
        checks,
        results,
        no_image_cache,
        {"dense": (dense, dense_n), "sparse": (sparse, sparse_n)},
    )


def _dropped_cache_entries() -> list[str]:
    """What bench_no_image_cache kept out of the caches (it logs the first drop per kind)."""
    found: list[str] = []
    for log in sorted(WORK.glob("ogcserve*.log")):
        found += [
            f"{log.stem}: {line.split('bench_no_image_cache: ', 1)[1]}"
            for line in log.read_text(errors="replace").splitlines()
            if "bench_no_image_cache: " in line
        ]
    return found


def report(
    args: argparse.Namespace,
    instances: list[Instance],
    cases: dict[str, Case],
    checks: dict[str, dict[str, Any]],
    results: dict[str, dict[str, Any]],
    no_image_cache: list[str],
    windows: dict[str, tuple[tuple[float, ...], int]],
) -> int:
    def rps(key: str, case: str) -> float | None:
        hit = results.get(f"{key}/{case}")
        return None if hit is None else float(hit["requests_per_s"])

    rows: list[list[object]] = []
    verdicts: dict[str, Any] = {}
    for name, case in cases.items():
        q = rps("qgis_acl" if case.acl else "qgis", name)
        m = None if case.acl else rps("mapserver", name)
        o = rps("ogcserve_acl" if case.acl else "ogcserve", name)
        closing = rps("ogcserve_close", name)
        targets: list[tuple[str, float | None, float]] = []
        if name.startswith("getmap"):
            targets = [
                ("QGIS", ratio(o, q), GETMAP_VS_QGIS),
                ("MapServer", ratio(o, m), GETMAP_VS_MAPSERVER),
            ]
        elif name == "getfeatureinfo":
            targets = [("QGIS", ratio(o, q), GFI_VS_QGIS)]
        else:  # against QGIS Server's cached GetCapabilities (no ACL), with or without ACL
            targets = [("QGIS cached", ratio(o, rps("qgis", "getcapabilities")), CAPS_VS_QGIS)]
        passed = [r is not None and r >= t for _, r, t in targets]
        verdict = (
            "-" if any(r is None for _, r, _t in targets) else "PASS" if all(passed) else "FAIL"
        )
        verdicts[name] = {
            "targets": [{"vs": vs, "ratio": r, "target": t} for vs, r, t in targets],
            "verdict": verdict,
        }
        label = case.title
        if name in ("getmap_dense", "getmap_sparse"):
            label += f" ({windows[name.split('_')[1]][1]:,} polygons)"
        rows.append(
            [
                label,
                fmt(q),
                fmt(m),
                fmt(o),
                fmt(ratio(o, q), 2),
                fmt(ratio(o, m), 2),
                "; ".join(
                    f"{r if r is not None else '-'} vs {vs} >= {t:g}" for vs, r, t in targets
                ),
                verdict,
                fmt(closing),
            ]
        )
    nokey = rps("qgis_acl_nokey", "getcapabilities_acl")
    if nokey is not None:
        rows.append(
            [
                "GetCapabilities, ACL plugin without cacheKey (QGIS)",
                fmt(nokey),
                "-",
                fmt(rps("ogcserve_acl", "getcapabilities_acl")),
                fmt(ratio(rps("ogcserve_acl", "getcapabilities_acl"), nokey), 2),
                "-",
                "-",
                "-",
                "-",
            ]
        )

    print(
        f"\nrequests/s at concurrency {args.connections} (wrk, {args.duration:g} s per case "
        f"after {args.warmup:g} s of warm-up, median of {args.rounds} run(s))\n"
    )
    print_table(
        [
            "case",
            "QGIS Server",
            "MapServer",
            "ogcserve",
            "og/QGIS",
            "og/MapServer",
            "targets",
            "verdict",
            "ogcserve, Connection: close",
        ],
        rows,
    )
    for inst in instances:
        if not inst.available:
            print(f"\n{inst.label} not measured: {inst.problem[:500]}")
    failed = {k: v["error"] for k, v in checks.items() if "error" in v}
    for key, error in failed.items():
        print(f"check failed: {key}: {error[:300]}")
    if no_image_cache:
        print("\nkept out of ogcserve's caches (bench_no_image_cache):")
        for line in no_image_cache:
            print(f"  {line}")
    write_result(
        "wms_compare",
        {
            "settings": {
                "duration_s": args.duration,
                "warmup_s": args.warmup,
                "rounds": args.rounds,
                "connections": args.connections,
                "tool": f"wrk -t{args.connections} -c{args.connections}",
                "image": [WIDTH, HEIGHT],
            },
            "versions": versions(),
            "machine_at_end": machine(),
            "windows": {
                k: {"bbox_epsg3857": list(v[0]), "rtree_polygons": v[1]} for k, v in windows.items()
            },
            "cases": {name: {"title": c.title, "query": c.query()} for name, c in cases.items()},
            "instances": {
                i.key: {
                    "label": i.label,
                    "url": i.base_url,
                    "available": i.available,
                    "problem": i.problem,
                }
                for i in instances
            },
            "checks": checks,
            "results": results,
            "verdicts": verdicts,
            "ogcserve_cache_drops": no_image_cache,
            "issue_reference": ISSUE_REFERENCE,
        },
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; everything started was stopped", file=sys.stderr)
        sys.exit(130)
