"""Reloading a running `ogcserve serve`: new workers take the changed project and plugins, the
old ones finish their requests; a reload that fails leaves the old version serving.

The server runs with `project_reread` off, so that a project change, like a plugin change,
waits for a reload: each answer then carries one version in its capabilities title (from the
project file) and in its X-Plugin-Version header (from the plugin), and the two must agree.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from ogcserve.cli import demo_project
from ogcserve.http import dispatch
from ogcserve.testing import exited, serve_process

pytestmark = pytest.mark.skipif(not dispatch.SUPPORTED, reason="reloads need Linux (epoll)")

PLUGIN = Path(__file__).parent / "reload_plugins" / "versioned"
CAPABILITIES = "/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities"
TITLE = re.compile(r"<Title>ogcserve demo v(\w+)</Title>")
HANG = 180.0  # liveness only: a reload on a busy machine can take a minute


class Release:
    """A project file and a plugin folder whose version the test rewrites."""

    def __init__(self, root: Path) -> None:
        self.project = root / "project.yaml"
        self.plugins = root / "plugins"
        shutil.copytree(PLUGIN, self.plugins / "versioned")
        self.template = demo_project().read_text()
        for name in ("natural_earth.gpkg", "elevation.tif"):
            self.template = self.template.replace(
                f"path: {name}", f"path: {demo_project().parent / name}"
            )

    def write(self, version: str, *, project: str | None = None, plugin: str | None = None) -> None:
        """Version `version` of both, or the text given for either (a broken one)."""
        text = self.template.replace("title: ogcserve demo", f"title: ogcserve demo v{version}", 1)
        self.project.write_text(project if project is not None else text)
        init = self.plugins / "versioned" / "__init__.py"
        code = PLUGIN.joinpath("__init__.py").read_text()
        init.write_text(
            plugin
            if plugin is not None
            else code.replace('VERSION = "1"', f'VERSION = "{version}"')
        )
        # A rewrite within the same clock tick must still count as a change.
        later = time.time() + 1
        for path in (self.project, init):
            os.utime(path, (later, later))


@contextmanager
def server(
    tmp_path: Path, workers: int = 2, **settings: str
) -> Iterator[tuple[str, Path, Release]]:
    """`ogcserve serve` of a Release at version 1, with a pid file: (url, pid file, release)."""
    release = Release(tmp_path)
    release.write("1")
    pid_file = tmp_path / "ogcserve.pid"
    env = {
        **os.environ,
        "OGCSERVE_PID_FILE": str(pid_file),
        "OGCSERVE_PROJECT_REREAD": "false",
        **{f"OGCSERVE_{k.upper()}": v for k, v in settings.items()},
    }
    log = tmp_path / "server.log"
    with serve_process(
        release.project, "--plugins", release.plugins, workers=workers, env=env, log=log
    ) as url:
        yield url, pid_file, release


def reload(pid_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ogcserve", "reload", "--pid-file", str(pid_file)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def version(url: str, query: str = CAPABILITIES) -> tuple[str, str]:
    """(project version, plugin version) of one answer, on a connection of its own."""
    response = httpx.get(url + query, timeout=HANG)
    assert response.status_code == 200, response.text
    title = TITLE.search(response.text)
    return (title.group(1) if title else "?"), response.headers.get("X-Plugin-Version", "?")


def test_a_reload_under_load_loses_no_request_and_mixes_no_versions(tmp_path: Path) -> None:
    # The long request is held by the plugin until the first reload is over (not for a fixed
    # time: the reload may take long on a busy machine), then finishes within the grace time.
    hold = tmp_path / "hold"
    settings = {"shutdown_grace": "60", "request_timeout": "0", "test_hold": str(hold)}
    with server(tmp_path, **settings) as (url, pid_file, release):
        answers: list[list[object]] = [[] for _ in range(3)]
        stop = threading.Event()

        def load(mine: list[object]) -> None:
            while not stop.is_set():
                try:
                    mine.append(version(url))
                except (httpx.HTTPError, AssertionError) as error:
                    mine.append(error)

        # A long request running on an old worker across the reload is answered by it.
        hold.touch()
        long: list[object] = []
        slow = threading.Thread(target=lambda: long.append(version(url, CAPABILITIES + "&HOLD=1")))
        threads = [threading.Thread(target=load, args=(mine,)) for mine in answers]
        for thread in [slow, *threads]:
            thread.start()
        try:
            # The long request runs, and the load is flowing.
            assert _wait(lambda: Path(f"{hold}.running").exists())
            assert _wait(lambda: sum(len(mine) for mine in answers) >= 6)
            for new in ("2", "3"):
                release.write(new)
                done = reload(pid_file)
                assert done.returncode == 0, done.stderr
                assert "reloaded" in done.stdout
                # Every request sent after the reload returned is answered by the new version.
                assert version(url) == (new, new)
                hold.unlink(missing_ok=True)  # the long request, on an old worker, ends
            seen = sum(len(mine) for mine in answers)
            assert _wait(lambda: sum(len(mine) for mine in answers) >= seen + 20)
        finally:
            stop.set()
            hold.unlink(missing_ok=True)
            for thread in [slow, *threads]:
                thread.join(HANG)
        assert long == [("1", "1")]
        for mine in answers:
            errors = [a for a in mine if not isinstance(a, tuple)]
            assert not errors, errors[:3]
            mixed = [a for a in mine if a[0] != a[1]]  # type: ignore[index]
            assert not mixed, f"mixed versions (project, plugin): {mixed[:5]}"
            versions = [int(project) for project, _ in mine]  # type: ignore[misc]
            assert versions == sorted(versions), "an old version answered after a newer one"
        assert {v for mine in answers for v, _ in mine} == {"1", "2", "3"}  # type: ignore[misc]


def test_a_reload_that_fails_keeps_the_old_version_serving(tmp_path: Path) -> None:
    with server(tmp_path, workers=1) as (url, pid_file, release):
        # A project that does not parse.
        release.write("2", project="name: demo\nlayers: [\n")
        done = reload(pid_file)
        assert done.returncode == 1, (done.stdout, done.stderr)
        assert "reload failed, the previous version keeps serving" in done.stderr
        assert "project.yaml" in done.stderr
        assert version(url) == ("1", "1")

        # A plugin that raises while it loads.
        release.write("2", plugin="raise RuntimeError('the plugin cannot start')\n")
        done = reload(pid_file)
        assert done.returncode == 1, (done.stdout, done.stderr)
        assert "versioned" in done.stderr and "the plugin cannot start" in done.stderr
        assert version(url) == ("1", "1")

        # Fixed: the next reload takes it.
        release.write("2")
        done = reload(pid_file)
        assert done.returncode == 0, done.stderr
        assert version(url) == ("2", "2")
    log = (tmp_path / "server.log").read_text()
    assert log.count("reload failed, the previous version keeps serving") == 2


def test_watching_reloads_when_a_plugin_changes(tmp_path: Path) -> None:
    with server(tmp_path, workers=1, reload_watch="0.5") as (url, _, release):
        assert version(url) == ("1", "1")
        release.write("2")
        assert _wait(lambda: version(url) == ("2", "2"))


def test_a_reload_without_a_server_says_so(tmp_path: Path) -> None:
    done = reload(tmp_path / "nothing.pid")
    assert done.returncode == 2 and "no running server" in done.stderr


def test_sigterm_lets_running_requests_finish(tmp_path: Path) -> None:
    with server(tmp_path, workers=1, shutdown_grace="8") as (url, pid_file, _):
        parent = int(pid_file.read_text())
        answer: list[object] = []
        slow = threading.Thread(target=lambda: answer.append(version(url, CAPABILITIES + "&NAP=3")))
        slow.start()
        time.sleep(1)  # the request is running (not a timing assertion: it only must have begun)
        os.kill(parent, signal.SIGTERM)
        slow.join(HANG)
        assert answer == [("1", "1")]
        assert _wait(lambda: exited(parent))
        assert not pid_file.exists()


def test_a_request_cut_by_the_end_of_the_grace_gets_an_ogc_503(tmp_path: Path) -> None:
    """SIGTERM while a request runs past the grace time (1 s; it sleeps 10 s in a plugin):
    its client gets a 503 OGC exception report with Retry-After (uvicorn's own answer was a
    plain-text 500), and the server still ends."""
    with server(tmp_path, workers=1, shutdown_grace="1") as (url, pid_file, _):
        parent = int(pid_file.read_text())
        answer: list[httpx.Response] = []
        slow = threading.Thread(
            target=lambda: answer.append(httpx.get(url + CAPABILITIES + "&NAP=10", timeout=HANG))
        )
        slow.start()
        time.sleep(1)  # the request is running (not a timing assertion: it only must have begun)
        os.kill(parent, signal.SIGTERM)
        slow.join(HANG)
        assert len(answer) == 1
        response = answer[0]
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        assert response.headers["Content-Type"].startswith("text/xml")
        assert "<ServiceExceptionReport" in response.text
        assert "The server is stopping" in response.text
        assert "Internal Server Error" not in response.text
        assert _wait(lambda: exited(parent))


def _wait(condition: object, timeout: float = HANG) -> bool:
    limit = time.monotonic() + timeout
    while time.monotonic() < limit:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_a_lone_worker_killed_is_replaced_and_no_later_request_fails(tmp_path: Path) -> None:
    # With one worker the parent dispatches too: it replaces the worker, and connections
    # accepted while the replacement loads wait for it instead of failing.
    with server(tmp_path, workers=1) as (url, pid_file, _):
        victim = int(httpx.get(url + "/health", timeout=HANG).json()["worker"])
        os.kill(victim, signal.SIGKILL)
        # Requests sent while it dies are its in-flight ones (lost, as with any crash); once it
        # is dead, the parent gives every connection to the replacement.
        assert _wait(lambda: exited(victim))
        answers = [httpx.get(url + CAPABILITIES, timeout=HANG) for _ in range(5)]
        assert [a.status_code for a in answers] == [200] * 5
        replacement = int(httpx.get(url + "/health", timeout=HANG).json()["worker"])
        assert replacement != victim
        assert exited(victim)
        assert int(pid_file.read_text()) != replacement
