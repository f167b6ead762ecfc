"""Several `ogcserve serve` hosts behind Debian's nginx, for the scale-out tests and bench.

Each host is a separate `ogcserve serve` process bound to its own loopback address (127.0.0.2,
127.0.0.3, ...) on one port, with its own pid file; nginx runs with a config and prefix in a
temporary folder, from deploy/nginx/ogcserve.conf with the upstream servers and the listen
address replaced. A private redis-server can be started too (its statistics are then the
test's alone).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

NGINX_EXAMPLE = Path(__file__).resolve().parents[1] / "deploy" / "nginx" / "ogcserve.conf"
ADDRESSES = ("127.0.0.2", "127.0.0.3", "127.0.0.4")


def nginx_binary() -> str | None:
    return shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _wait(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 90.0) -> None:
    limit = time.monotonic() + timeout
    while time.monotonic() < limit:
        if process.poll() is not None:
            break
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer:\n{log.read_text(errors='replace')[-3000:]}")


class Host:
    """One `ogcserve serve` on `address:port` with `workers` workers and a pid file."""

    def __init__(
        self,
        root: Path,
        address: str,
        port: int,
        projects: Sequence[Path],
        env: dict[str, str],
        workers: int = 1,
        wrap: Sequence[str] = (),
    ) -> None:
        self.address, self.port = address, port
        self.url = f"http://{address}:{port}"
        self.pid_file = root / f"{address}.pid"
        self.log = root / f"{address}.log"
        self.args = [
            *wrap,
            sys.executable,
            "-m",
            "ogcserve",
            "serve",
            *map(str, projects),
            "--host",
            address,
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ]
        self.env = {**env, "OGCSERVE_PID_FILE": str(self.pid_file)}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.args, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        _wait(f"{self.url}/health", self.process, self.log)

    def kill(self) -> None:
        """SIGKILL the whole host: its dispatcher and its workers."""
        assert self.process is not None
        workers = _children(self.process.pid)
        os.kill(self.process.pid, signal.SIGKILL)
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(10)

    def reload(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ogcserve", "reload", "--pid-file", str(self.pid_file)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


class Nginx:
    """Debian's nginx with deploy/nginx/ogcserve.conf, balancing over `upstreams`."""

    def __init__(self, root: Path, upstreams: Sequence[str], port: int) -> None:
        self.root = root / "nginx"
        self.root.mkdir()
        self.port = port
        self.url = f"http://127.0.0.1:{port}/maps"
        example = NGINX_EXAMPLE.read_text()
        servers = "".join(f"    server {u} max_fails=1 fail_timeout=5s;\n" for u in upstreams)
        site = re.sub(r"(?m)^    server 10\.0\.0\.\d+:8080[^\n]*\n", "", example)
        site = site.replace("upstream ogcserve {\n", "upstream ogcserve {\n" + servers, 1)
        site = site.replace("listen 80;", f"listen 127.0.0.1:{port};", 1)
        (self.root / "site.conf").write_text(site)
        temp = "".join(
            f"    {kind}_temp_path {self.root}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (self.root / "nginx.conf").write_text(
            ("user root;\n" if os.geteuid() == 0 else "")
            + "worker_processes 1;\ndaemon off;\n"
            + f"pid {self.root}/nginx.pid;\nerror_log {self.root}/error.log info;\n"
            + "events { worker_connections 1024; }\nhttp {\n"
            + "    log_format up '$request $status $upstream_addr $upstream_status';\n"
            + f"    access_log {self.root}/access.log up;\n{temp}"
            + f"    include {self.root}/site.conf;\n}}\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = nginx_binary()
        assert binary is not None
        log = self.root / "stderr.log"
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [binary, "-p", str(self.root), "-c", str(self.root / "nginx.conf")],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        _wait(f"http://127.0.0.1:{self.port}/maps/health", self.process, log)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


class Redis:
    """A private redis-server on a free 127.0.0.1 port, without persistence."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = Path(tempfile.mkdtemp(prefix="ogcserve-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis.from_url(self.url)
        limit = time.monotonic() + 30
        while time.monotonic() < limit:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def temporary_root() -> Path:
    return Path(tempfile.mkdtemp(prefix="ogcserve-lb-"))
