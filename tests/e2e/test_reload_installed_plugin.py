"""A plugin installed or upgraded with pip after the server started is taken by a reload: the
new workers read the installed distributions' entry points afresh (group ogcserve.plugins).

"Installed" as pip leaves it: a module and its `.dist-info` (METADATA, entry_points.txt) in a
directory on the server's path, here a temporary one, so that the shared environment is left
alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ogcserve.cli import demo_project
from ogcserve.http import dispatch
from ogcserve.testing import serve_process

pytestmark = pytest.mark.skipif(not dispatch.SUPPORTED, reason="reloads need Linux (epoll)")

CAPABILITIES = "/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities"
MODULE = """
from ogcserve.plugins import RequestFilter

VERSION = "{version}"


class Tells(RequestFilter):
    def on_response_complete(self, ctx):
        ctx.response.set_header("X-Installed-Plugin", VERSION)
        return True


def setup(server_iface):
    server_iface.register_filter(Tells(), priority=100)
"""


def install(site: Path, version: str) -> None:
    """What `pip install tiny-installed-plugin==<version>.0` leaves in `site`."""
    for old in site.glob("tiny_installed_plugin-*.dist-info"):
        shutil.rmtree(old)
    (site / "tiny_installed_plugin.py").write_text(MODULE.format(version=version))
    info = site / f"tiny_installed_plugin-{version}.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: tiny-installed-plugin\nVersion: {version}.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[ogcserve.plugins]\ntiny = tiny_installed_plugin:setup\n"
    )


def told(url: str) -> str | None:
    response = httpx.get(url + CAPABILITIES, timeout=60)
    assert response.status_code == 200, response.text
    return response.headers.get("X-Installed-Plugin")


def test_a_plugin_installed_or_upgraded_with_pip_is_taken_by_a_reload(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    pid_file = tmp_path / "ogcserve.pid"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
        "PYTHONDONTWRITEBYTECODE": "1",  # an upgrade within one second is still read
        "OGCSERVE_PID_FILE": str(pid_file),
        "OGCSERVE_LOAD_ENTRY_POINTS": "true",
        "OGCSERVE_RELOAD_WATCH": "0.5",
    }
    with serve_process(demo_project(), workers=1, env=env) as url:
        assert told(url) is None

        # Installed, then `ogcserve reload`.
        install(site, "1")
        done = subprocess.run(
            [sys.executable, "-m", "ogcserve", "reload", "--pid-file", str(pid_file)],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert told(url) == "1"

        # Upgraded: the watcher sees the installed distribution change and reloads.
        install(site, "2")
        limit = time.monotonic() + 120
        while told(url) != "2" and time.monotonic() < limit:
            time.sleep(0.2)
        assert told(url) == "2"
