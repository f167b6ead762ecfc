"""The soak's servers and what it samples of them: the projects it serves (`prepare`), an
`ogcserve serve` of its own (`own_server`), and the RSS and open descriptors of a server's
processes read from /proc (`sample_once`)."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import shapely

BENCH = Path(__file__).resolve().parent
PLUGINS = BENCH / "ogcserve_plugins" / "soak"
DEMO = BENCH.parent / "src" / "ogcserve" / "demo"

EDITS_YAML = """
name: edits
title: Soak edits
crs: [EPSG:4326, EPSG:3857]
layers:
  - name: sites
    title: Sites (editable)
    source: {type: geopackage, path: edits.gpkg, table: cities}
    key: fid
    queryable: true
    wfs: {publish: true, insert: true, update: true, delete: true}
  - name: grid
    title: Grid of points
    source: {type: geopackage, path: edits.gpkg, table: grid}
    key: fid
    wfs: {publish: true}
"""


def prepare(work: Path, grid_rows: int) -> list[Path]:
    """The demo project and a fresh writable copy with a `grid` table of `grid_rows` points."""
    from ogcserve.sources.gpkg_binary import encode_gpkg_geometry

    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    gpkg = work / "edits.gpkg"
    shutil.copyfile(DEMO / "natural_earth.gpkg", gpkg)
    gpkg.chmod(0o644)
    side = max(1, int(grid_rows**0.5))
    with sqlite3.connect(gpkg) as conn:
        conn.execute(
            "CREATE TABLE grid (fid INTEGER PRIMARY KEY, geom BLOB, label TEXT, value REAL)"
        )
        conn.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id)"
            " VALUES ('grid', 'features', 'grid', 4326)"
        )
        conn.execute(
            "INSERT INTO gpkg_geometry_columns (table_name, column_name,"
            " geometry_type_name, srs_id, z, m) VALUES ('grid', 'geom', 'POINT',"
            " 4326, 0, 0)"
        )
        conn.executemany(
            "INSERT INTO grid VALUES (?, ?, ?, ?)",
            (
                (
                    i + 1,
                    encode_gpkg_geometry(
                        shapely.Point(
                            -170 + 340 * (i % side) / side, -80 + 160 * (i // side) / side
                        ),
                        4326,
                    ),
                    f"point {i + 1}",
                    i * 0.5,
                )
                for i in range(grid_rows)
            ),
        )
    (work / "edits.yaml").write_text(EDITS_YAML)
    return [DEMO / "demo.yaml", work / "edits.yaml"]


@contextmanager
def own_server(
    projects: list[Path], workers: int, log: Path, settings: dict[str, str] | None = None
) -> Iterator[tuple[str, int]]:
    """`ogcserve serve` on a free port with `settings` (OGCSERVE_* variables) added to the
    environment; yields (base URL, parent pid); stopped by pid."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = {
        k: v for k, v in os.environ.items() if k not in ("OGCSERVE_PLUGINPATH", "QGIS_PLUGINPATH")
    }
    env.update(settings or {})
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ogcserve",
                "serve",
                *map(str, projects),
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--plugins",
                str(PLUGINS),
                "--log-level",
                "WARNING",
                "--no-access-log",
            ],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"ogcserve did not start; see {log}")
                time.sleep(0.3)
            yield url, process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# --- /proc sampling -----------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    """The direct children of `pid`, from /proc/<pid>/task/*/children."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return sorted(set(found))


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def is_worker(pid: int) -> bool:
    """A worker of the dispatching parent (not a resource tracker or another helper)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"resource_tracker" not in cmdline


@dataclass
class Sample:
    elapsed: float
    pid: int
    kind: str
    rss_kb: int
    fds: int
    requests: int
    errors: int


def sample_once(
    servers: list[tuple[str, int]], started: float, requests: int, errors: int
) -> list[Sample]:
    """One sample of each process of `servers` (name, parent pid): the parent, then each
    worker, as `name` and `name worker`."""
    elapsed = time.monotonic() - started
    samples = []
    for name, parent in servers:
        found = [(parent, name)] + [(p, f"{name} worker") for p in children(parent) if is_worker(p)]
        for pid, kind in found:
            try:
                samples.append(
                    Sample(
                        round(elapsed, 1), pid, kind, rss_kb(pid), fd_count(pid), requests, errors
                    )
                )
            except OSError:
                continue
    return samples
