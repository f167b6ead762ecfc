"""Shared by the QGIS project tests: data files, projects written by PyQGIS, QGIS Server as CGI.

Projects are written by `make_qgis_projects.py` with Debian's Python (QGIS desktop's own
QgsProject.write). QGIS Server 3.22 (Debian's qgis_mapserv.fcgi) is run as a CGI program, one
process per request, on the same `.qgs` file the test serves with ogcserve.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pyogrio.raw

from ogcserve.cli import demo_project

QGIS_PYTHON = "/usr/bin/python3"
QGIS_SERVER = "/usr/lib/cgi-bin/qgis_mapserv.fcgi"
MAKER = Path(__file__).with_name("make_qgis_projects.py")
DEMO = demo_project().parent


def qgis_missing() -> str | None:
    """Why PyQGIS cannot write projects here, or None."""
    if not os.path.exists(QGIS_PYTHON):
        return f"{QGIS_PYTHON} is absent"
    probe = subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True)
    return None if probe.returncode == 0 else "Debian's python3-qgis cannot be imported"


def make_data(folder: Path) -> None:
    """The demo's GeoPackage and raster, and its layers as Shapefile, GeoJSON and FlatGeobuf."""
    for name in ("natural_earth.gpkg", "elevation.tif"):
        shutil.copyfile(DEMO / name, folder / name)
        (folder / name).chmod(0o644)
    gpkg = folder / "natural_earth.gpkg"
    for table, out in (
        ("cities", "cities.shp"),
        ("countries", "countries.geojson"),
        ("nyc_boroughs", "boroughs.fgb"),
    ):
        meta, _, geometry, values = pyogrio.raw.read(gpkg, layer=table)
        pyogrio.raw.write(
            folder / out,
            geometry,
            values,
            meta["fields"],
            crs=meta["crs"],
            geometry_type=meta["geometry_type"],
        )


def write_projects(specs: list[dict[str, Any]], folder: Path) -> None:
    """Write every project of `specs` in one PyQGIS process."""
    spec_file = folder / "specs.json"
    spec_file.write_text(json.dumps(specs))
    home = folder / "qgis-home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(home)}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [QGIS_PYTHON, str(MAKER), str(spec_file)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    missing = [spec["out"] for spec in specs if not Path(spec["out"]).exists()]
    assert done.returncode == 0 and not missing, done.stdout + done.stderr


def layer(name: str, uri: str, provider: str = "ogr", **options: Any) -> dict[str, Any]:
    """One layer of a project spec (see make_qgis_projects.py)."""
    return {"name": name, "uri": uri, "provider": provider, **options}


def qgis_server(
    project: Path, params: dict[str, str], home: Path, plugins: Path | None = None
) -> tuple[int, str, bytes]:
    """One request to QGIS Server as CGI: (status, content type, body); with the server plugins
    of the folder `plugins` (QGIS_PLUGINPATH) when given."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "QT_QPA_PLATFORM": "offscreen",
        "REQUEST_METHOD": "GET",
        "QUERY_STRING": urlencode({"MAP": str(project), **params}),
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SCRIPT_NAME": "/qgis",
        "QGIS_SERVER_LOG_LEVEL": "2",
        "QGIS_SERVER_LOG_STDERR": "1",
        "QGIS_SERVER_IGNORE_BAD_LAYERS": "true",
        "QGIS_SERVER_PARALLEL_RENDERING": "false",
        **({"QGIS_PLUGINPATH": str(plugins)} if plugins is not None else {}),
    }
    done = subprocess.run([QGIS_SERVER], env=env, capture_output=True, timeout=120, check=False)
    head, _, body = done.stdout.partition(b"\r\n\r\n")
    if not _:
        head, _, body = done.stdout.partition(b"\n\n")
    headers = {}
    for line in head.decode("latin-1").splitlines():
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    status = int(headers.get("status", "200").split()[0])
    return status, headers.get("content-type", ""), body
