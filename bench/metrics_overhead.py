"""What the Prometheus metrics add to each request: the same servers with metrics on and off,
interleaved in one run, in process (no HTTP), with the values in shared files as under
`ogcserve serve` (PROMETHEUS_MULTIPROC_DIR, set before anything imports prometheus_client).

Requests (the classes of bench/pipeline_overhead.py, with its 10 no-op filters and one
access-control filter, so that every request makes ~50 plugin calls):

* `SERVICE=NOOP`   the pipeline alone;
* `SERVICE=LAYERS` the readable layer tree (the access controls asked about every layer);
* `GetFeature`     a WFS GetFeature of 10 countries (a layer read, counted per layer).

    PYTHONPATH=src python bench/metrics_overhead.py [--iterations 20000] [--rounds 10]
    PYTHONPATH=src python bench/metrics_overhead.py --in-process   # one process's registry
"""

from __future__ import annotations

import os
import sys
import tempfile

if "--in-process" not in sys.argv:  # before prometheus_client is imported, as `serve` does
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ogcserve-bench-metrics-")

import argparse
import gc
import shutil
import statistics
import time

from _common import print_table, write_result
from pipeline_overhead import setup_access, setup_filters, setup_services

from ogcserve.server import Server
from ogcserve.testing import call, make_server

TARGET_MS = 0.05
# A GetFeature takes ~100 times a NOOP: it gets a tenth of the iterations.
SHARE = {"NOOP": 1.0, "LAYERS": 1.0, "GetFeature": 0.1}
REQUESTS = {
    "NOOP": "/ows?SERVICE=NOOP",
    "LAYERS": "/ows?SERVICE=LAYERS",
    "GetFeature": "/ows?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=countries&COUNT=10",
}


def measure(server: Server, url: str, iterations: int) -> list[float]:
    """Seconds per request."""
    samples = []
    clock = time.perf_counter
    for _ in range(iterations):
        start = clock()
        call(server, url)
        samples.append(clock() - start)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=20_000, help="per request and setting")
    parser.add_argument("--warmup", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds")
    parser.add_argument("--in-process", action="store_true", help="no shared files")
    args = parser.parse_args()

    plugins = [setup_services, setup_filters, setup_access]
    servers = {
        "off": make_server(plugins=plugins, metrics=False),
        "on": make_server(plugins=plugins, metrics=True),
    }
    on = servers["on"].metrics
    assert on is not None and servers["off"].metrics is None
    mode = "in-process registry" if on.shared_dir is None else "shared files (as serve)"
    for server in servers.values():
        for url in REQUESTS.values():
            for _ in range(args.warmup):
                assert call(server, url).status == 200, url

    samples: dict[tuple[str, str], list[float]] = {(s, r): [] for s in servers for r in REQUESTS}
    # per round: the median of each cell; the quietest round of a loaded machine is its best
    rounds: dict[tuple[str, str], list[float]] = {key: [] for key in samples}
    per_round = max(args.iterations // args.rounds, 1)
    for turn in range(args.rounds):
        # alternate which setting goes first, so that drift favours neither
        order = list(servers.items()) if turn % 2 == 0 else list(reversed(servers.items()))
        for kind, url in REQUESTS.items():
            for name, server in order:
                gc.collect()
                taken = measure(server, url, max(int(per_round * SHARE[kind]), 3))
                samples[(name, kind)].extend(taken)
                rounds[(name, kind)].append(statistics.median(taken) * 1e6)

    rows, added = [], {}
    for kind in REQUESTS:
        off = [v * 1e6 for v in samples[("off", kind)]]
        on_us = [v * 1e6 for v in samples[("on", kind)]]
        d_mean = (statistics.fmean(on_us) - statistics.fmean(off)) / 1000
        d_median = (statistics.median(on_us) - statistics.median(off)) / 1000
        best_off, best_on = min(rounds[("off", kind)]), min(rounds[("on", kind)])
        d_best = (best_on - best_off) / 1000
        added[kind] = {
            "added_mean_ms": round(d_mean, 4),
            "added_median_ms": round(d_median, 4),
            "best_round_median_us": {"off": round(best_off, 1), "on": round(best_on, 1)},
            "added_best_round_ms": round(d_best, 4),
        }
        rows.append(
            [
                kind,
                len(off),
                f"{statistics.median(off):.1f}",
                f"{statistics.median(on_us):.1f}",
                f"{statistics.fmean(off):.1f}",
                f"{statistics.fmean(on_us):.1f}",
                f"{d_median:+.4f}",
                f"{d_mean:+.4f}",
                f"{best_off:.1f}",
                f"{best_on:.1f}",
                f"{d_best:+.4f}",
            ]
        )
    print(f"metrics overhead, {mode}; {args.rounds} interleaved rounds\n")
    headers = ["request", "n", "off median µs", "on median µs", "off mean µs", "on mean µs"]
    best = ["best off µs", "best on µs", "added best ms"]
    print_table([*headers, "added median ms", "added mean ms", *best], rows)
    print("(best: the lowest of the per-round medians, the machine's quietest moment)")
    worst = max(v["added_median_ms"] for v in added.values())
    worst_best = max(v["added_best_round_ms"] for v in added.values())
    verdict = "PASS" if worst < TARGET_MS else "FAIL"
    print(
        f"\nworst added cost {worst:.4f} ms (median of all), {worst_best:.4f} ms (best rounds);"
        f" target < {TARGET_MS} ms: {verdict}"
    )
    print(f"load average: {os.getloadavg()}")
    write_result("metrics_overhead", {"mode": mode, "added": added, "verdict": verdict})
    if on.shared_dir is not None:
        shutil.rmtree(on.shared_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
