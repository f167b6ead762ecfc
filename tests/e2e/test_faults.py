"""Faults against a real `ogcserve serve`: each costs only the requests it must, and nothing is
half-written (issue 11, "Faults").

- a worker SIGKILLed under load: only its in-flight requests fail, the parent starts a
  replacement, later requests all succeed;
- a plugin sleeping past `request_timeout` in any hook: the OGC 503 budget error, and the worker
  serves the next request (plugins/sleepy.py); raising in the hooks test_unruly_plugins.py
  does not reach (the subset string, allow_to_edit);
- a disk full during a WFS-T Insert into a GeoPackage (a small tmpfs mounted by the test): a
  clean OGC exception, the GeoPackage intact and unchanged, the server serving on.

PostGIS down is tested with a cluster of the test's own (test_postgis_outage.py). Times are only
generous bounds that prove "does not hang"; the outcomes are what is checked.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import shapely

from ogcserve.cli import demo_project
from ogcserve.sources.gpkg_binary import encode_gpkg_geometry
from ogcserve.testing import serve_process

pytestmark = pytest.mark.e2e

PLUGINS = Path(__file__).resolve().parent / "plugins"
DEMO_GPKG = demo_project().parent / "natural_earth.gpkg"
HANG = 30.0  # seconds: far beyond what any of these requests needs
BUDGET = 1.0  # request_timeout of the sleepy server
NAP = 2.5  # how long a sleepy hook sleeps: past the budget
SECRET = "sleepy-internal-detail"  # what plugins/sleepy.py raises with

EDITS_YAML = """
name: edits
title: Edits
crs: [EPSG:4326]
layers:
  - name: sites
    title: Sites
    source: {type: geopackage, path: edits.gpkg, table: cities}
    key: fid
    wfs: {publish: true, insert: true, update: true, delete: true}
  - name: grid
    title: Grid
    source: {type: geopackage, path: edits.gpkg, table: grid}
    key: fid
    wfs: {publish: true}
"""
CAPABILITIES = "/ows/demo?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities"
GETMAP = (
    "/ows/demo?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=countries,cities&STYLES=&"
    "CRS=EPSG:4326&BBOX=-90,-180,90,180&WIDTH=128&HEIGHT=64&FORMAT=image/png"
)
GETFEATURE = "/ows/edits?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=sites&COUNT=3"
STREAMED = "/ows/edits?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=grid"
WFS2 = "http://www.opengis.net/wfs/2.0"
GML32 = "http://www.opengis.net/gml/3.2"


def edits_project(folder: Path, grid_rows: int = 2500) -> Path:
    """A copy of the demo GeoPackage whose `cities` are editable, plus a `grid` of points
    large enough for a streamed answer (more than one chunk of 1,000 features)."""
    folder.mkdir(parents=True, exist_ok=True)
    gpkg = folder / "edits.gpkg"
    shutil.copyfile(DEMO_GPKG, gpkg)
    gpkg.chmod(0o644)
    with sqlite3.connect(gpkg) as conn:
        conn.execute("CREATE TABLE grid (fid INTEGER PRIMARY KEY, geom BLOB, label TEXT)")
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
            "INSERT INTO grid VALUES (?, ?, ?)",
            (
                (i, encode_gpkg_geometry(shapely.Point(i % 100, i // 100), 4326), f"p{i}")
                for i in range(1, grid_rows + 1)
            ),
        )
    conn.close()
    project = folder / "edits.yaml"
    project.write_text(EDITS_YAML)
    return project


def insert(*names: str, pad: int = 0) -> bytes:
    sites = "".join(
        f"<e:sites><e:geom><gml:Point srsName='EPSG:4326'><gml:pos>{n % 80} {n % 170}</gml:pos>"
        f"</gml:Point></e:geom><e:name>{name}{'x' * pad}</e:name></e:sites>"
        for n, name in enumerate(names)
    )
    return (
        f'<wfs:Transaction service="WFS" version="2.0.0" xmlns:wfs="{WFS2}" '
        f'xmlns:gml="{GML32}" xmlns:e="https://ogcserve.org/edits"><wfs:Insert>{sites}'
        "</wfs:Insert></wfs:Transaction>"
    ).encode()


def rows(gpkg: Path) -> int:
    with sqlite3.connect(gpkg) as conn:
        count = int(conn.execute("SELECT count(*) FROM cities").fetchone()[0])
    conn.close()
    return count


@contextmanager
def server(tmp_path: Path, workers: int, **settings: str) -> Iterator[str]:
    """`ogcserve serve` on the demo and the edits project, with the test plugins SERVICE=SLOW
    and sleepy, and OGCSERVE_<NAME> settings."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PLUGINS), env.get("PYTHONPATH")) if p)
    env["OGCSERVE_PLUGINS"] = '["slow_service:setup", "sleepy:setup"]'
    env["SLOW_PLUGIN_DIR"] = str(tmp_path / "slow")
    env["SLEEPY_SECONDS"] = str(NAP)
    env.update({f"OGCSERVE_{k.upper()}": v for k, v in settings.items()})
    (tmp_path / "slow").mkdir()
    project = edits_project(tmp_path / "edits")
    with serve_process(demo_project(), project, workers=workers, env=env) as url:
        yield url


def wait_for(condition: Callable[[], bool], timeout: float = HANG) -> bool:
    limit = time.monotonic() + timeout
    while time.monotonic() < limit:
        if condition():
            return True
        time.sleep(0.1)
    return False


def children(parent: int) -> set[int]:
    """The living worker processes of `parent` (not zombies, not multiprocessing helpers)."""
    found = set()
    for task in Path(f"/proc/{parent}/task").iterdir():
        for pid in (task / "children").read_text().split():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except FileNotFoundError:
                continue
            if "State:\tZ" not in status and b"resource_tracker" not in cmdline:
                found.add(int(pid))
    return found


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


# --- a worker killed under load -----------------------------------------------------------------


def test_a_killed_worker_costs_only_its_requests(tmp_path: Path) -> None:
    with server(tmp_path, workers=2, request_timeout="0", shutdown_grace="1") as url:
        parent = parent_of(int(httpx.get(f"{url}/health").json()["worker"]))
        assert wait_for(lambda: len(children(parent)) == 2)
        before = children(parent)
        markers = tmp_path / "slow"

        # One long request on each worker (the parent hands each new connection to the least
        # busy worker), and three clients looping over ordinary requests meanwhile.
        slow: dict[str, object] = {}

        def long_request(name: str) -> None:
            try:
                slow[name] = httpx.get(f"{url}/ows/demo?SERVICE=SLOW", timeout=4 * HANG).status_code
            except httpx.HTTPError as error:
                slow[name] = error

        stop = threading.Event()
        outcomes: list[object] = []

        def load() -> None:
            with httpx.Client(timeout=HANG) as client:
                while not stop.is_set():
                    try:
                        for path in (CAPABILITIES, GETMAP, GETFEATURE):
                            outcomes.append(client.get(url + path).status_code)
                    except httpx.HTTPError as error:
                        outcomes.append(error)

        threads = {n: threading.Thread(target=long_request, args=(n,)) for n in ("a", "b")}
        threads["a"].start()
        assert wait_for(lambda: len(list(markers.iterdir())) == 1)
        (first,) = markers.iterdir()
        threads["b"].start()
        assert wait_for(lambda: len(list(markers.iterdir())) == 2)
        (second,) = set(markers.iterdir()) - {first}
        victim, survivor = (int(m.name.split("-")[0]) for m in (first, second))
        assert {victim, survivor} == before, "each worker holds one long request"
        loaders = [threading.Thread(target=load) for _ in range(3)]
        for thread in loaders:
            thread.start()
        assert wait_for(lambda: len(outcomes) >= 30)

        os.kill(victim, signal.SIGKILL)

        # The victim's long request fails at once (its connection is closed, not left open
        # by the parent's duplicate); the survivor's goes on.
        assert wait_for(lambda: "a" in slow), "the killed worker's request hangs"
        assert isinstance(slow["a"], httpx.TransportError)
        assert not isinstance(slow["a"], httpx.TimeoutException)
        assert "b" not in slow and second.read_text() == "running"

        # The parent starts a replacement; the load goes on meanwhile.
        assert wait_for(lambda: len(children(parent)) == 2 and victim not in children(parent))
        (replacement,) = children(parent) - before
        seen = len(outcomes)
        assert wait_for(lambda: len(outcomes) >= seen + 30)
        stop.set()
        for thread in loaders:
            thread.join(HANG)

        # Only requests in flight on the victim failed, as transport errors: at most one per
        # client (each reconnects afterwards); no answer was an error status.
        errors = [o for o in outcomes if not isinstance(o, int)]
        assert all(isinstance(e, httpx.TransportError) for e in errors), errors
        assert len(errors) <= len(loaders)
        assert {o for o in outcomes if isinstance(o, int)} == {200}
        assert outcomes[-30:] == [200] * 30

        # New connections are served by both workers, the replacement included.
        answered = set()
        limit = time.monotonic() + 2 * HANG
        while replacement not in answered and time.monotonic() < limit:
            with httpx.Client(timeout=HANG) as client:
                response = client.get(f"{url}/health")
                assert response.status_code == 200
                answered.add(int(response.json()["worker"]))
                assert client.get(url + GETMAP).status_code == 200
        assert replacement in answered

        # The survivor's long request is still running until its client leaves.
        assert threads["b"].is_alive() and second.read_text() == "running"
    for thread in threads.values():
        thread.join(HANG)


# --- a plugin sleeping or raising in a hook -----------------------------------------------------

CAPS = CAPABILITIES + "&NAP={hook}"
FEATURES = "/ows/demo?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=countries&NAP={hook}"
HOOKS = [
    ("request_ready", CAPS),
    ("project_ready", CAPS),
    ("response_complete", CAPS),
    ("cache_key", CAPS),
    ("cache_get", CAPS),
    ("cache_set", CAPS),
    ("send_response", STREAMED + "&NAP={hook}"),
    ("layer_permissions", FEATURES),
    ("layer_filter_expression", FEATURES),
    ("layer_filter_subset_string", FEATURES),
    ("authorized_layer_attributes", FEATURES),
    ("allow_to_edit", "/ows/edits?NAP={hook}"),
]


@pytest.fixture(scope="module")
def sleepy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("sleepy")
    with server(folder, workers=1, request_timeout=str(BUDGET)) as url:
        # Warm: the first capabilities document is built from scratch, which took more than
        # the 1 s budget on a busy machine and made the first hook's check of a free worker
        # (the same request without the nap) a 503.
        for target in (CAPS, FEATURES):
            _ask(url, target.replace("NAP=", "AWAKE="), "warm")
        yield url, folder / "edits" / "edits.gpkg"


def _ask(url: str, target: str, name: str) -> httpx.Response:
    if target.startswith("/ows/edits?") and "REQUEST" not in target:
        return httpx.post(
            url + target, content=insert(name), timeout=HANG, headers={"Content-Type": "text/xml"}
        )
    return httpx.get(url + target, timeout=HANG)


@pytest.mark.parametrize(("hook", "target"), HOOKS, ids=[h for h, _ in HOOKS])
def test_a_hook_sleeping_past_the_budget_gets_the_503(
    sleepy: tuple[str, Path], hook: str, target: str
) -> None:
    url, gpkg = sleepy
    before = rows(gpkg)
    response = _ask(url, target.format(hook=hook), f"nap-{hook}")
    assert response.status_code == 503, response.text[:300]
    assert "ExceptionReport" in response.text
    assert f"exceeded the time budget of {BUDGET:g} s" in response.text
    assert "Retry-After" not in response.headers  # the same request would fail again
    assert rows(gpkg) == before  # an edit stopped by its budget is rolled back
    # The worker is free: the same request without the nap is answered.
    again = _ask(url, target.replace("NAP=", "AWAKE="), f"awake-{hook}")
    assert again.status_code == 200, again.text[:300]


@pytest.mark.parametrize(
    ("hook", "target"),
    [
        ("layer_filter_subset_string", FEATURES.replace("NAP=", "BREAK=raise:")),
        ("allow_to_edit", "/ows/edits?BREAK=raise:{hook}"),
    ],
)
def test_hooks_raising_beyond_the_unruly_ones(
    sleepy: tuple[str, Path], hook: str, target: str
) -> None:
    url, gpkg = sleepy
    before = rows(gpkg)
    response = _ask(url, target.format(hook=hook), "broken")
    assert response.status_code == 500 and "ExceptionReport" in response.text
    assert SECRET not in response.text and "Traceback" not in response.text
    assert rows(gpkg) == before


# --- a disk full during a GeoPackage transaction ------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs barely larger than the GeoPackage put on it (mounted here; root only)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    size = DEMO_GPKG.stat().st_size // 1024 + 400  # kB: the grid and ~100 kB spare
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}k", "tmpfs", str(mountpoint)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.decode().strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_disk_full_during_an_insert_leaves_the_geopackage_unchanged(small_disk: Path) -> None:
    project = edits_project(small_disk, grid_rows=2000)
    gpkg = small_disk / "edits.gpkg"
    free = shutil.disk_usage(small_disk).free
    assert 0 < free < 500_000
    before = rows(gpkg)
    with serve_process(project, workers=1) as url:
        # ~1.3 MB of new rows for a disk with less than 500 kB free
        body = insert(*(f"site {n} " for n in range(4000)), pad=300)
        response = httpx.post(
            f"{url}/ows/edits", content=body, timeout=HANG, headers={"Content-Type": "text/xml"}
        )
        assert response.status_code == 500, response.text[:500]
        assert "ExceptionReport" in response.text and "Traceback" not in response.text
        assert "commit" in response.text and str(small_disk) not in response.text
        # The server serves on, the layer included, and a small edit still fits.
        assert httpx.get(url + GETFEATURE, timeout=HANG).status_code == 200
        assert (
            httpx.get(url + CAPABILITIES.replace("demo", "edits"), timeout=HANG).status_code == 200
        )
        small = httpx.post(
            f"{url}/ows/edits",
            content=insert("fits"),
            timeout=HANG,
            headers={"Content-Type": "text/xml"},
        )
        assert small.status_code == 200 and "<wfs:totalInserted>1<" in small.text
    with sqlite3.connect(gpkg) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        names = [r[0] for r in conn.execute("SELECT name FROM cities WHERE name LIKE 'site %'")]
    conn.close()
    assert names == [] and rows(gpkg) == before + 1  # nothing of the big insert, the small one
    assert not list(small_disk.glob("*-journal")) and not list(small_disk.glob("*-wal"))


def test_a_failed_insert_leaves_the_file_byte_identical(small_disk: Path) -> None:
    project = edits_project(small_disk, grid_rows=2000)
    gpkg = small_disk / "edits.gpkg"
    sha = digest(gpkg)
    with serve_process(project, workers=1) as url:
        for _ in range(2):  # twice: the first failure leaves nothing in the way of the second
            body = insert(*(f"site {n} " for n in range(4000)), pad=300)
            response = httpx.post(
                f"{url}/ows/edits", content=body, timeout=HANG, headers={"Content-Type": "text/xml"}
            )
            assert response.status_code == 500 and "ExceptionReport" in response.text
        assert httpx.get(url + GETFEATURE, timeout=HANG).status_code == 200
    assert digest(gpkg) == sha
