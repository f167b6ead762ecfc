"""Three ogcserve hosts behind nginx against one, on the sparse GetMap case (issue 18).

Each host is a separate `ogcserve serve --workers 1` bound to its own address (127.0.0.2, .3,
.4), in a cgroup (v1 `cpu` controller) of its own limited to `--quota` CPUs (default 0.2:
this machine has 2 cores, so three unlimited hosts could not be three times one). nginx
(tests/lb_cluster.py, from deploy/nginx/ogcserve.conf) is not limited. The case is
bench/wms_compare.py's sparse GetMap (the 1,000,000-polygon GeoPackage, the 4:3 window
with ~50 polygons, 1024x768 PNG; images are not cached, bench/ogcserve_plugins/common).

Measured with wrk, interleaved over `--rounds` rounds: one host through nginx (an upstream of
one) at concurrency 2, and the three hosts through nginx at concurrency 6; one host directly
too (the cost of the proxy). Prints requests/s, the ratio three/one (target >= 2.5) and the
load average, and writes bench/out/scale_out.json.

    python bench/scale_out.py [--quota 0.2] [--duration 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from _common import BENCH_DIR, DATA_DIR, machine, print_table, write_result
from gpkg_bbox import TABLE, build_gpkg

sys.path.insert(0, str(BENCH_DIR.parent / "tests"))
import lb_cluster
from wms_compare import SPARSE_TARGET, getmap, pick_window

CGROUP = Path("/sys/fs/cgroup/cpu")
POLYGONS = DATA_DIR / "polygons_1000000.gpkg"
PLUGINS = BENCH_DIR / "ogcserve_plugins" / "common"


def limited(name: str, quota: float) -> list[str]:
    """A command prefix that puts the process in a new cgroup limited to `quota` CPUs."""
    group = CGROUP / name
    group.mkdir(exist_ok=True)
    period = int((group / "cpu.cfs_period_us").read_text())
    (group / "cpu.cfs_quota_us").write_text(str(int(period * quota)))
    return ["sh", "-c", f'echo $$ > {group}/cgroup.procs && exec "$@"', "sh"]


def wrk(url: str, connections: int, duration: float) -> tuple[float, int]:
    """Requests/s and the count of non-2xx answers."""
    done = subprocess.run(
        ["wrk", f"-t{min(connections, 2)}", f"-c{connections}", f"-d{round(duration)}s", url],
        capture_output=True,
        text=True,
        check=True,
    )
    rate = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    errors = re.search(r"Socket errors: .*", done.stdout)
    if errors:
        print("   ", errors.group(0))
    assert rate, done.stdout
    return float(rate.group(1)), int(bad.group(1)) if bad else 0


def project(root: Path) -> tuple[Path, str]:
    if not POLYGONS.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        print(f"writing {POLYGONS} (once)")
        build_gpkg(POLYGONS, 1_000_000)
    with sqlite3.connect(POLYGONS) as conn:
        window, count = pick_window(conn, SPARSE_TARGET)
    path = root / "scale_out.yaml"
    path.write_text(
        "name: scale\ntitle: scale-out bench\ncrs: [EPSG:3857, EPSG:4326]\nlayers:\n"
        f"  - name: {TABLE}\n    title: parcels\n"
        f"    source: {{type: geopackage, path: {POLYGONS}, table: {TABLE}}}\n"
        "    key: fid\n    style: {fill: '#e0c080', stroke: '#806020', stroke_width: 0.5}\n"
    )
    params = getmap(TABLE, "EPSG:3857", window)
    query = "&".join(f"{k}={v}" for k, v in params.items())
    print(f"sparse window: {count} polygons")
    return path, f"/ows/scale?{query}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quota", type=float, default=0.2, help="CPUs per host")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not os.access(CGROUP, os.W_OK):
        print(f"{CGROUP} is not writable: cannot limit each host's CPU; not measured")
        return 2
    for tool in ("wrk", "redis-server"):
        if shutil.which(tool) is None:
            print(f"{tool} is missing")
            return 2
    root = lb_cluster.temporary_root()
    path, query = project(root)
    env = {**os.environ, "OGCSERVE_ACCESS_LOG": "false", "OGCSERVE_LOG_LEVEL": "WARNING"}
    port = lb_cluster.free_port(lb_cluster.ADDRESSES[0])
    hosts = [
        lb_cluster.Host(
            root,
            address,
            port,
            [path],
            env,
            workers=1,
            wrap=limited(f"ogcserve-bench-{i}", args.quota),
        )
        for i, address in enumerate(lb_cluster.ADDRESSES)
    ]
    for host in hosts:
        host.args[host.args.index("serve") + 1 : host.args.index("serve") + 1] = [
            "--plugins",
            str(PLUGINS),
        ]
    (root / "one").mkdir()
    (root / "three").mkdir()
    one = lb_cluster.Nginx(root / "one", [f"{hosts[0].address}:{port}"], lb_cluster.free_port())
    three = lb_cluster.Nginx(
        root / "three", [f"{h.address}:{port}" for h in hosts], lb_cluster.free_port()
    )
    rates: dict[str, list[float]] = {"one host, direct": [], "one host": [], "three hosts": []}
    loads = [os.getloadavg()[0]]
    with ExitStack() as stack:
        for server in (*hosts, one, three):
            server.start()
            stack.callback(server.stop)
        cases = {
            "one host, direct": (hosts[0].url + query, 2),
            "one host": (one.url + query, 2),
            "three hosts": (three.url + query, 6),
        }
        for url, _ in cases.values():  # warm: every host's worker has opened the layer
            for _ in range(6):
                wrk(url, 1, 1)
        for round_ in range(args.rounds):
            for name, (url, connections) in cases.items():
                rate, bad = wrk(url, connections, args.duration)
                assert bad == 0, f"{name}: {bad} answers were not 200"
                rates[name].append(rate)
                print(f"round {round_ + 1}: {name}: {rate:.1f} requests/s")
            loads.append(os.getloadavg()[0])
    for i in range(len(hosts)):
        for _ in range(50):  # the hosts' last processes may still be exiting
            try:
                (CGROUP / f"ogcserve-bench-{i}").rmdir()
                break
            except OSError:
                time.sleep(0.2)
    shutil.rmtree(root, ignore_errors=True)
    best = {name: max(values) for name, values in rates.items()}
    median = {name: sorted(values)[len(values) // 2] for name, values in rates.items()}
    ratio = median["three hosts"] / median["one host"]
    print_table(
        ["case", "requests/s (median)", "best", "all rounds"],
        [
            [name, f"{median[name]:.1f}", f"{best[name]:.1f}", " ".join(f"{v:.1f}" for v in vals)]
            for name, vals in rates.items()
        ],
    )
    print(
        f"three hosts / one host (medians): {ratio:.2f} (target >= 2.5); "
        f"quota {args.quota} CPU per host; load average {min(loads):.1f}-{max(loads):.1f}"
    )
    write_result(
        "scale_out",
        {
            "machine": machine(),
            "quota_cpus_per_host": args.quota,
            "duration_s": args.duration,
            "rates": rates,
            "ratio_median": ratio,
            "load_average": loads,
            "time": time.strftime("%Y-%m-%d %H:%M:%S"),
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
