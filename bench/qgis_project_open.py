"""Opening a QGIS project of 100 layers: ogcserve's reader against QGIS's own QgsProject.read.

    /work/main/.venv/bin/python bench/qgis_project_open.py [--layers 100] [--rounds 10]

The project is written by PyQGIS (QgsProject.write, tests/projects/qgs/make_qgis_projects.py)
into bench/data/qgis_open/: layers cycling through GeoPackage tables, a Shapefile, a GeoJSON
file and a GeoTIFF (each layer its own file: no source is shared), in groups of ten, every
vector layer published in WFS. Timed, in interleaved rounds:

- `parse`: `read_qgis_project` without opening sources (XML, tree, data sources, settings,
  symbology);
- `load`: `load_project` with the access layer's `check_source`, as `ogcserve serve` and
  `ogcserve check` load it (every source opened and its schema read); `load CPU`: the same
  loads' CPU time (`time.process_time`), which a machine loaded by other work inflates least;
- `qgis`: QGIS 3.22 reading the same file with QgsProject.read (Debian's PyQGIS, a separate
  process timing its own reads; layers validated by their providers, as QGIS Server does).

Target (issue 19): `load` under 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import DATA_DIR, machine, print_table, summary_ms, write_result

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests" / "projects" / "qgs")]

from qgis_project_support import layer, make_data, write_projects  # noqa: E402

from ogcserve.access import AccessLayer  # noqa: E402
from ogcserve.projects import load_project  # noqa: E402
from ogcserve.projects.qgis import read_qgis_project  # noqa: E402

QGIS_READ = """
import os, sys, time
from qgis.core import QgsApplication, QgsProject
QgsApplication.setPrefixPath("/usr", True)
app = QgsApplication([], False)
app.initQgis()
times = []
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    project = QgsProject.instance()
    project.clear()
    assert project.read(sys.argv[1])
    valid = sum(layer.isValid() for layer in project.mapLayers().values())
    times.append(time.perf_counter() - start)
print(valid, *times)
sys.stdout.flush()
os._exit(0)
"""


def make_project(folder: Path, count: int) -> Path:
    out = folder / f"layers_{count}.qgs"
    if out.exists():
        return out
    folder.mkdir(parents=True, exist_ok=True)
    make_data(folder)
    kinds = [
        ("ogr", "natural_earth.gpkg", "|layername=countries"),
        ("ogr", "natural_earth.gpkg", "|layername=cities"),
        ("ogr", "natural_earth.gpkg", "|layername=nc_counties"),
        ("ogr", "natural_earth.gpkg", "|layername=nyc_boroughs"),
        ("ogr", "cities.shp", ""),
        ("ogr", "countries.geojson", ""),
        ("gdal", "elevation.tif", ""),
    ]
    groups = {f"group {g}": {"short": f"g{g}"} for g in range(count // 10)}
    layers = []
    for i in range(count):
        # Every layer its own file (a hard link), so that no source is opened only once for
        # several layers, which the reader would do.
        provider, name, options = kinds[i % len(kinds)]
        stem, suffix = name.split(".")
        linked = folder / f"{stem}_{i}.{suffix}"
        for part in sorted(folder.glob(f"{stem}.*")):  # a Shapefile's .dbf, .shx, .prj too
            target = folder / f"{stem}_{i}{part.suffix}"
            if not target.exists():
                os.link(part, target)
        layers.append(
            layer(
                f"layer {i}",
                f"{linked}{options}",
                provider,
                short=f"l{i:03}",
                group=f"group {i // 10}",
            )
        )
    vectors = [item["name"] for item in layers if item["provider"] == "ogr"]
    spec = {
        "out": str(out),
        "title": f"{count} layers",
        "groups": groups,
        "layers": layers,
        "settings": {"WFSLayers": vectors, "WMSCrsList": ["EPSG:4326", "EPSG:3857"]},
    }
    write_projects([spec], folder)
    return out


def qgis_reads(path: Path, rounds: int) -> tuple[int, list[float]]:
    home = path.parent / "qgis-home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(home)}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        ["/usr/bin/python3", "-c", QGIS_READ, str(path), str(rounds)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    valid, *times = done.stdout.split()
    return int(valid), [float(t) for t in times]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    path = make_project(DATA_DIR / "qgis_open", args.layers)
    parse: list[float] = []
    load: list[float] = []
    load_cpu: list[float] = []  # CPU time of this process: what a loaded machine inflates least
    qgis: list[float] = []
    for _ in range(args.rounds):  # interleaved: the machine's load hits every column alike
        start = time.perf_counter()
        loaded = read_qgis_project(path, None)
        parse.append(time.perf_counter() - start)
        assert loaded.project is not None
        start, cpu = time.perf_counter(), time.process_time()
        project = load_project(path, opener=AccessLayer().check_source)
        load.append(time.perf_counter() - start)
        load_cpu.append(time.process_time() - cpu)
        valid, times = qgis_reads(path, 1)
        qgis += times
    served = len(project.data_layers())
    assert served == args.layers, f"{served} of {args.layers} layers served"
    assert valid == args.layers, f"QGIS found {valid} valid layers"
    rows = [
        [name, *summary_ms(samples).values()]
        for name, samples in (
            ("parse", parse),
            ("load", load),
            ("load CPU", load_cpu),
            ("qgis", qgis),
        )
    ]
    print(f"{args.layers} layers, {args.rounds} rounds; load average {os.getloadavg()}")
    print_table(["what", "median ms", "mean ms", "min ms", "max ms"], rows)
    ratio = statistics.median(load) / statistics.median(qgis)
    print(f"load / QGIS's QgsProject.read (medians): {ratio:.2f}")
    result = {
        "machine": machine(),
        "layers": args.layers,
        "rounds": args.rounds,
        "parse": summary_ms(parse),
        "load": summary_ms(load),
        "load_cpu": summary_ms(load_cpu),
        "qgis": summary_ms(qgis),
        "load_over_qgis": round(ratio, 3),
    }
    print(json.dumps(result["machine"]))
    write_result("qgis_project_open", result)


if __name__ == "__main__":
    main()
