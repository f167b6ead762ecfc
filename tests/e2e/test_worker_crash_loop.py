"""A server whose workers die as they start (here a plugin ends the process while loading)
stops with a clear message, instead of restarting workers for ever."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
PLUGINS = Path(__file__).with_name("plugins_dying")


def test_workers_that_die_at_start_stop_the_server() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        k: v for k, v in os.environ.items() if k not in ("OGCSERVE_PLUGINPATH", "QGIS_PLUGINPATH")
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ogcserve",
            "serve",
            "--plugins",
            str(PLUGINS),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "workers in a row died before they were ready; stopping" in done.stderr
