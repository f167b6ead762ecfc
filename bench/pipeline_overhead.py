"""What the request pipeline itself costs per request, with and without plugins.

Runs requests in process through `ogcserve.testing.call` (no HTTP, no ASGI) against the demo
project, with a tiny custom service so that nearly all the time is the pipeline's own:

* `SERVICE=NOOP`   writes b"ok" and flushes once, so all four filter hooks run
                   (request-ready, project-ready, send-response, response-complete);
* `SERVICE=LAYERS` also asks the access layer for the readable layer tree
                   (`server.access.readable_layers`), so an access-control filter is consulted
                   for every layer of the demo project.

Configurations: no plugin filters; 10 no-op request filters (each overriding all four hooks and
returning None); the same plus one access-control filter (overriding every method).

    /work/venv/bin/python bench/pipeline_overhead.py [--iterations 20000] [--warmup 2000]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

from _common import print_table, write_result

from ogcserve.features import Feature

# RequestContext comes through ogcserve.plugins: importing ogcserve.context (or
# ogcserve.testing) first fails with a circular import (see bench/README.md).
from ogcserve.plugins import (
    AccessControlFilter,
    LayerPermissions,
    RequestContext,
    ServerInterface,
    Service,
)
from ogcserve.plugins.filters import RequestFilter
from ogcserve.projects import Layer
from ogcserve.server import Server
from ogcserve.testing import call, make_server

TARGET_MS = 0.3
FILTERS = 10


class NoopService(Service):
    """Answers b"ok" as one flushed chunk: every hook of the lifecycle runs."""

    name = "NOOP"
    version = "1.0.0"

    def execute(self, ctx: RequestContext) -> None:
        ctx.response.set_header("Content-Type", "text/plain")
        ctx.response.write(b"ok")
        ctx.response.flush()


class LayersService(Service):
    """Asks the access layer which layers the caller may read (consults access control)."""

    name = "LAYERS"
    version = "1.0.0"

    def execute(self, ctx: RequestContext) -> None:
        assert ctx.project is not None
        layers = ctx.server.access.readable_layers(ctx, ctx.project)
        ctx.response.set_header("Content-Type", "text/plain")
        ctx.response.write(str(len(layers)).encode())
        ctx.response.flush()


class NoopFilter(RequestFilter):
    """Overrides every hook and does nothing."""

    def on_request_ready(self, ctx: RequestContext) -> bool | None:
        return None

    def on_project_ready(self, ctx: RequestContext) -> bool | None:
        return None

    def on_send_response(self, ctx: RequestContext) -> bool | None:
        return None

    def on_response_complete(self, ctx: RequestContext) -> bool | None:
        return None


class CountingFilter(NoopFilter):
    """Counts hook calls, to check that the benchmark really runs every hook."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def _count(self, hook: str) -> None:
        self.calls[hook] = self.calls.get(hook, 0) + 1

    def on_request_ready(self, ctx: RequestContext) -> bool | None:
        self._count("on_request_ready")
        return None

    def on_project_ready(self, ctx: RequestContext) -> bool | None:
        self._count("on_project_ready")
        return None

    def on_send_response(self, ctx: RequestContext) -> bool | None:
        self._count("on_send_response")
        return None

    def on_response_complete(self, ctx: RequestContext) -> bool | None:
        self._count("on_response_complete")
        return None


class NoopAccessControl(AccessControlFilter):
    """Overrides every access-control method; hides one layer so its effect is visible."""

    def __init__(self) -> None:
        self.asked = 0

    def layer_permissions(self, layer: Layer) -> LayerPermissions:
        self.asked += 1
        if layer.name == "nc_counties":
            return LayerPermissions(False, False, False, False)
        return LayerPermissions()

    def layer_filter_expression(self, layer: Layer) -> str | None:
        return None

    def layer_filter_subset_string(self, layer: Layer) -> str | None:
        return None

    def authorized_layer_attributes(self, layer: Layer, attributes: list[str]) -> list[str]:
        return attributes

    def allow_to_edit(self, layer: Layer, feature: Feature) -> bool:
        return True

    def cache_key(self) -> str:
        return ""


def setup_services(iface: ServerInterface) -> None:
    """Plugin setup: the two benchmark services."""
    iface.register_service(NoopService())
    iface.register_service(LayersService())


def setup_filters(iface: ServerInterface) -> None:
    """Plugin setup: ten no-op request filters."""
    for priority in range(FILTERS):
        iface.register_filter(NoopFilter(), priority)


def setup_access(iface: ServerInterface) -> None:
    """Plugin setup: one access-control filter."""
    iface.register_access_control(NoopAccessControl())


CONFIGS: dict[str, list[Callable[[ServerInterface], Any]]] = {
    "none": [setup_services],
    f"{FILTERS} filters": [setup_services, setup_filters],
    f"{FILTERS} filters + 1 ACL": [setup_services, setup_filters, setup_access],
}
REQUESTS = {"NOOP": "/ows?SERVICE=NOOP", "LAYERS": "/ows?SERVICE=LAYERS"}


def check(server: Server, url: str) -> bytes:
    result = call(server, url)
    if result.status != 200:
        raise SystemExit(f"{url} answered {result.status}: {result.body[:200]!r}")
    return result.body


def sanity(servers: dict[str, Server]) -> dict[str, Any]:
    """Each hook once per filter and request; the ACL asked once per layer and request."""
    probe = make_server(plugins=[setup_services])
    counter = CountingFilter()
    ServerInterface(probe, "probe").register_filter(counter)
    check(probe, REQUESTS["NOOP"])
    acl_server = servers[f"{FILTERS} filters + 1 ACL"]
    acl = next(e.item for e in acl_server.access_controls if isinstance(e.item, NoopAccessControl))
    before = acl.asked
    with_acl = check(acl_server, REQUESTS["LAYERS"])
    asked = acl.asked - before
    without_acl = check(servers["none"], REQUESTS["LAYERS"])
    if sorted(counter.calls.values()) != [1, 1, 1, 1]:
        raise SystemExit(f"expected each of the four hooks once per request: {counter.calls}")
    if asked == 0 or with_acl == without_acl:
        raise SystemExit("the access-control filter was not consulted")
    return {
        "builtin_access_controls": [type(e.item).__name__ for e in servers["none"].access_controls],
        "hook_calls_per_request": counter.calls,
        "acl_layer_permission_calls_per_request": asked,
        "top_level_layers_readable": {"without_acl": int(without_acl), "with_acl": int(with_acl)},
    }


def measure(server: Server, url: str, iterations: int) -> list[float]:
    """Seconds per request, one sample per request."""
    samples = []
    clock = time.perf_counter
    for _ in range(iterations):
        start = clock()
        call(server, url)
        samples.append(clock() - start)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--iterations",
        type=int,
        default=20_000,
        help="timed requests per configuration and request kind",
    )
    parser.add_argument("--warmup", type=int, default=2_000, help="untimed requests first")
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="split iterations into interleaved rounds (evens out machine drift)",
    )
    args = parser.parse_args()

    servers = {name: make_server(plugins=setups) for name, setups in CONFIGS.items()}
    checks = sanity(servers)
    for server in servers.values():
        for url in REQUESTS.values():
            for _ in range(args.warmup):
                call(server, url)

    samples: dict[tuple[str, str], list[float]] = {(c, r): [] for c in servers for r in REQUESTS}
    per_round = max(args.iterations // args.rounds, 1)
    for _ in range(args.rounds):
        for config, server in servers.items():
            for kind, url in REQUESTS.items():
                gc.collect()
                samples[(config, kind)].extend(measure(server, url, per_round))

    stats: dict[str, dict[str, dict[str, float]]] = {}
    for (config, kind), values in samples.items():
        us = [v * 1e6 for v in values]
        stats.setdefault(kind, {})[config] = {
            "n": len(us),
            "mean_us": round(statistics.fmean(us), 2),
            "median_us": round(statistics.median(us), 2),
            "p90_us": round(statistics.quantiles(us, n=10)[-1], 2),
        }

    rows = []
    added: dict[str, dict[str, dict[str, float]]] = {}
    for kind, by_config in stats.items():
        base = by_config["none"]
        for config, s in by_config.items():
            d_mean = (s["mean_us"] - base["mean_us"]) / 1000
            d_median = (s["median_us"] - base["median_us"]) / 1000
            if config != "none":
                added.setdefault(kind, {})[config] = {
                    "added_mean_ms": round(d_mean, 4),
                    "added_median_ms": round(d_median, 4),
                }
            rows.append(
                [
                    f"SERVICE={kind}",
                    config,
                    s["n"],
                    f"{s['mean_us']:.1f}",
                    f"{s['median_us']:.1f}",
                    f"{s['p90_us']:.1f}",
                    "" if config == "none" else f"{d_mean:+.4f}",
                    "" if config == "none" else f"{d_median:+.4f}",
                ]
            )
    print(
        f"pipeline overhead, {per_round * args.rounds} requests per row "
        f"after {args.warmup} warm-up (in process, demo project)\n"
    )
    print_table(
        [
            "request",
            "plugins",
            "n",
            "mean µs",
            "median µs",
            "p90 µs",
            "added mean ms",
            "added median ms",
        ],
        rows,
    )
    worst = max(v["added_mean_ms"] for by in added.values() for v in by.values())
    verdict = "PASS" if worst < TARGET_MS else "FAIL"
    print(f"\nworst added cost {worst:.4f} ms (mean); target < {TARGET_MS} ms: {verdict}")
    print(f"checks: {checks}")
    write_result(
        "pipeline_overhead",
        {
            "iterations": per_round * args.rounds,
            "warmup": args.warmup,
            "rounds": args.rounds,
            "filters": FILTERS,
            "checks": checks,
            "stats": stats,
            "added": added,
            "target_added_ms": TARGET_MS,
            "worst_added_mean_ms": worst,
            "pass": worst < TARGET_MS,
        },
    )


if __name__ == "__main__":
    main()
