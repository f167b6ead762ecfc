"""Soak: mixed load for a long time, with the servers' RSS and open file descriptors sampled.

    PYTHONPATH=src /work/main/.venv/bin/python bench/soak.py --duration 1800 --concurrency 4

Without `--url` it starts its own `ogcserve serve --workers 2` (disk cache) on the demo project
plus a writable project (`edits`: a copy of the demo GeoPackage whose `cities` table is the
editable layer `sites`, and a `grid` of points for large streamed answers) in
`bench/out/soak/`, and a second `ogcserve serve --workers 1` of the demo with the Redis cache
(`--redis`, a key prefix of its own) that half of the tile requests go to; both with the access
plugin `bench/ogcserve_plugins/soak/soak_access` (roles from `X-Role`). With `--url` it drives
that server for everything (which must run the same projects and plugin) and samples the
processes of `--server-pid` if given.

The operations: every WMS and WFS request (GetFeature streamed, WFS-T), OGC API - Features
(items, one item, queryables, CQL2 filters, POST/PUT/PATCH/DELETE), WCS GetCoverage 1.0 and
2.0, and tiles by WMTS KVP and RESTful, OGC API - Tiles and XYZ (hits and misses), each in one
of three roles (`bench/soak_services.py` has the ones beyond WMS and WFS). Every request is
checked (status, content type, no `pop_est` in what a non-admin reads, row rules, the
transaction summaries, refusals), and counted by operation and status. Every `--interval`
seconds the RSS and the open file descriptors of each server's parent and workers are read from
/proc and written to `bench/out/soak.csv`. The run stops after `--duration` seconds or
`--max-requests` requests, prints a table and exits 1 on any unexpected answer, on a worker
that was replaced, or when a process's RSS or FD count after the warm-up grew beyond
`--rss-growth-mb` / `--fd-growth` by the end.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import signal
import statistics
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from soak_checks import UnexpectedError, expect, random_bbox
from soak_server import Sample, own_server, prepare, sample_once
from soak_services import ServiceLoad

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
ROLES = ("admin", "user", "anonymous")
WFS2 = "http://www.opengis.net/wfs/2.0"
FES = "http://www.opengis.net/fes/2.0"
GML32 = "http://www.opengis.net/gml/3.2"
EDITS_NS = "https://ogcserve.org/edits"

# --- the load -----------------------------------------------------------------------------------


@dataclass
class Tally:
    """Requests by operation and status, unexpected answers, latencies; shared by threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    by_op: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    unexpected: list[str] = field(default_factory=list)
    total: int = 0

    def add(self, op: str, status: int, took: float, problem: str | None) -> None:
        with self.lock:
            self.total += 1
            self.by_op[op][status] += 1
            if len(self.seconds[op]) < 100_000:
                self.seconds[op].append(took)
            if problem is not None:
                self.unexpected.append(f"{op}: {problem}")
                if len(self.unexpected) <= 50:  # as it happens, to look at the server's log
                    print(f"unexpected ({time.strftime('%H:%M:%S')}): {op}: {problem}", flush=True)

    def errors(self) -> int:
        with self.lock:
            return len(self.unexpected)


class Load:
    """The operations; each picks a role and checks its answer."""

    def __init__(self, url: str, tile_urls: list[str], rng: random.Random) -> None:
        self.demo = f"{url}/ows/demo"
        self.edits = f"{url}/ows/edits"
        self.rng = rng
        self.sequence = 0
        self.services = ServiceLoad(url, tile_urls, rng, self._next_name)

    def operations(self) -> list[tuple[str, int, Callable[[httpx.Client, str], int | None]]]:
        return [
            *self.services.operations(),
            ("WMS GetCapabilities", 2, self.wms_capabilities),
            ("WMS GetMap", 10, self.get_map),
            ("WMS GetFeatureInfo", 5, self.feature_info),
            ("WMS GetLegendGraphic", 2, self.legend),
            ("WFS GetCapabilities", 2, self.wfs_capabilities),
            ("WFS DescribeFeatureType", 2, self.describe),
            ("WFS GetFeature GML", 4, self.get_feature_gml),
            ("WFS GetFeature GeoJSON", 4, self.get_feature_json),
            ("WFS GetFeature paged", 4, self.get_feature_paged),
            ("WFS GetFeature streamed", 1, self.get_feature_streamed),
            ("WFS Transaction", 3, self.transaction),
            ("WFS Transaction refused", 1, self.transaction_refused),
        ]

    def layers_for(self, role: str) -> list[str]:
        layers = ["countries", "cities", "nyc_boroughs", "elevation"]
        return [*layers, "nc_counties"] if role != "anonymous" else layers

    def wms_capabilities(self, client: httpx.Client, role: str) -> None:
        r = client.get(
            self.demo,
            params={"SERVICE": "WMS", "REQUEST": "GetCapabilities"},
            headers={"X-Role": role},
        )
        expect(r, "text/xml", role)
        if (b"<Name>nc_counties</Name>" in r.content) != (role != "anonymous"):
            raise UnexpectedError(f"nc_counties listing wrong for {role}")

    def get_map(self, client: httpx.Client, role: str) -> None:
        layers = self.rng.sample(self.layers_for(role), self.rng.randint(1, 3))
        x0, y0, x1, y1 = random_bbox(self.rng)
        if self.rng.random() < 0.5:
            crs, bbox = "EPSG:4326", f"{y0},{x0},{y1},{x1}"
        else:
            k = 20037508.34 / 180
            crs, bbox = "EPSG:3857", f"{x0 * k},{y0 * k / 2},{x1 * k},{y1 * k / 2}"
        r = client.get(
            self.demo,
            headers={"X-Role": role},
            params={
                "SERVICE": "WMS",
                "VERSION": "1.3.0",
                "REQUEST": "GetMap",
                "LAYERS": ",".join(layers),
                "STYLES": "",
                "CRS": crs,
                "BBOX": bbox,
                "WIDTH": "256",
                "HEIGHT": "256",
                "FORMAT": self.rng.choice(("image/png", "image/jpeg")),
                "TRANSPARENT": "TRUE",
            },
        )
        expect(r, "image/", role, hidden=False)

    def feature_info(self, client: httpx.Client, role: str) -> None:
        fmt = self.rng.choice(
            ("text/xml", "application/json", "text/plain", "application/vnd.ogc.gml")
        )
        r = client.get(
            self.demo,
            headers={"X-Role": role},
            params={
                "SERVICE": "WMS",
                "VERSION": "1.3.0",
                "REQUEST": "GetFeatureInfo",
                "LAYERS": "countries,cities",
                "QUERY_LAYERS": "countries,cities",
                "STYLES": "",
                "CRS": "EPSG:4326",
                "BBOX": "-90,-180,90,180",
                "WIDTH": "360",
                "HEIGHT": "180",
                "I": str(self.rng.randrange(360)),
                "J": str(self.rng.randrange(180)),
                "INFO_FORMAT": fmt,
                "FEATURE_COUNT": "5",
            },
        )
        expect(r, fmt, role)

    def legend(self, client: httpx.Client, role: str) -> None:
        r = client.get(
            self.demo,
            headers={"X-Role": role},
            params={
                "SERVICE": "WMS",
                "VERSION": "1.3.0",
                "REQUEST": "GetLegendGraphic",
                "LAYER": self.rng.choice(("countries", "cities", "elevation")),
                "FORMAT": "image/png",
                "STYLE": "",
            },
        )
        expect(r, "image/png", role, hidden=False)

    def wfs_capabilities(self, client: httpx.Client, role: str) -> None:
        url = self.rng.choice((self.demo, self.edits))
        r = client.get(
            url, headers={"X-Role": role}, params={"SERVICE": "WFS", "REQUEST": "GetCapabilities"}
        )
        expect(r, "text/xml", role)

    def describe(self, client: httpx.Client, role: str) -> None:
        r = client.get(
            self.demo,
            headers={"X-Role": role},
            params={
                "SERVICE": "WFS",
                "VERSION": "2.0.0",
                "REQUEST": "DescribeFeatureType",
                "TYPENAMES": "countries",
            },
        )
        expect(r, "", role)
        if role == "admin" and b"pop_est" not in r.content:
            raise UnexpectedError("pop_est missing for admin")

    def get_feature_gml(self, client: httpx.Client, role: str) -> None:
        x0, y0, x1, y1 = random_bbox(self.rng)
        r = client.get(
            self.demo,
            headers={"X-Role": role},
            params={
                "SERVICE": "WFS",
                "VERSION": self.rng.choice(("2.0.0", "1.1.0")),
                "REQUEST": "GetFeature",
                "TYPENAME": "countries",
                "SRSNAME": "EPSG:4326",
                "BBOX": f"{y0},{x0},{y1},{x1},urn:ogc:def:crs:EPSG::4326",
            },
        )
        expect(r, "", role)
        if b"FeatureCollection" not in r.content:
            raise UnexpectedError(f"no FeatureCollection: {r.text[:200]!r}")

    def get_feature_json(self, client: httpx.Client, role: str) -> None:
        typename = self.rng.choice(("countries", "cities", "nyc_boroughs"))
        r = client.get(
            self.demo,
            headers={"X-Role": role},
            params={
                "SERVICE": "WFS",
                "VERSION": "2.0.0",
                "REQUEST": "GetFeature",
                "TYPENAMES": typename,
                "OUTPUTFORMAT": "application/json",
            },
        )
        expect(r, "application/", role)
        features = r.json()["features"]
        if (
            typename == "countries"
            and role != "admin"
            and any(f["properties"].get("continent") not in ("Africa", "Europe") for f in features)
        ):
            raise UnexpectedError(f"row filter not applied for {role}")

    def get_feature_paged(self, client: httpx.Client, role: str) -> None:
        start = self.rng.randrange(0, 60)
        r = client.get(
            self.demo,
            headers={"X-Role": role},
            params={
                "SERVICE": "WFS",
                "VERSION": "2.0.0",
                "REQUEST": "GetFeature",
                "TYPENAMES": "countries",
                "COUNT": "10",
                "STARTINDEX": str(start),
                "OUTPUTFORMAT": self.rng.choice(
                    ("application/json", "application/gml+xml; version=3.2")
                ),
            },
        )
        expect(r, "application/", role)
        if (
            b'"numberReturned":10' not in r.content.replace(b" ", b"")
            and b'numberReturned="10"' not in r.content
        ):
            raise UnexpectedError(f"page of 10 not returned from {start}: {r.text[:200]!r}")

    def get_feature_streamed(self, client: httpx.Client, role: str) -> None:
        size = 0
        with client.stream(
            "GET",
            self.edits,
            headers={"X-Role": role},
            params={
                "SERVICE": "WFS",
                "VERSION": "2.0.0",
                "REQUEST": "GetFeature",
                "TYPENAMES": "grid",
                "OUTPUTFORMAT": self.rng.choice(
                    ("application/json", "application/gml+xml; version=3.2")
                ),
            },
        ) as r:
            if r.status_code != 200:
                r.read()
                raise UnexpectedError(f"HTTP {r.status_code}: {r.text[:300]!r}")
            tail = b""
            for chunk in r.iter_bytes():
                size += len(chunk)
                tail = (tail + chunk)[-64:]
        if size < 100_000 or not tail.rstrip().endswith((b"}", b">")):
            raise UnexpectedError(f"streamed answer cut: {size} bytes ending {tail!r}")

    def _next_name(self, role: str) -> str:
        self.sequence += 1
        return f"soak-{role}-{threading.get_ident() % 10000}-{self.sequence}"

    def _tx(self, client: httpx.Client, role: str, action: str) -> httpx.Response:
        body = (
            f'<wfs:Transaction service="WFS" version="2.0.0" xmlns:wfs="{WFS2}" '
            f'xmlns:fes="{FES}" xmlns:gml="{GML32}" xmlns:e="{EDITS_NS}">{action}'
            "</wfs:Transaction>"
        )
        return client.post(
            self.edits, content=body.encode(), headers={"X-Role": role, "Content-Type": "text/xml"}
        )

    def transaction(self, client: httpx.Client, role: str) -> None:
        role = "admin" if role == "admin" else "user"
        name = self._next_name(role)
        x, y = self.rng.uniform(-170, 170), self.rng.uniform(-80, 80)
        site = (
            f"<e:sites><e:geom><gml:Point gml:id='p' srsName='EPSG:4326'><gml:pos>{y} {x}"
            f"</gml:pos></gml:Point></e:geom><e:name>{name}</e:name></e:sites>"
        )
        r = self._tx(client, role, f"<wfs:Insert>{site}</wfs:Insert>")
        expect(r, "text/xml", role)
        found = re.search(rb'rid="(sites\.\d+)"', r.content)
        if found is None or b"<wfs:totalInserted>1<" not in r.content:
            raise UnexpectedError(f"insert: {r.text[:300]!r}")
        rid = found.group(1).decode()
        where = f'<fes:Filter><fes:ResourceId rid="{rid}"/></fes:Filter>'
        r = self._tx(
            client,
            role,
            f'<wfs:Update typeName="e:sites"><wfs:Property>'
            f"<wfs:ValueReference>name</wfs:ValueReference><wfs:Value>{name}-u"
            f"</wfs:Value></wfs:Property>{where}</wfs:Update>",
        )
        expect(r, "text/xml", role)
        if b"<wfs:totalUpdated>1<" not in r.content:
            raise UnexpectedError(f"update: {r.text[:300]!r}")
        r = self._tx(client, role, f'<wfs:Delete typeName="e:sites">{where}</wfs:Delete>')
        expect(r, "text/xml", role)
        if b"<wfs:totalDeleted>1<" not in r.content:
            raise UnexpectedError(f"delete: {r.text[:300]!r}")

    def transaction_refused(self, client: httpx.Client, role: str) -> int:
        # anonymous may not edit; user may not insert a site it could not edit afterwards
        role = "anonymous" if role != "user" else "user"
        name = "not-mine" if role == "user" else self._next_name(role)
        site = (
            "<e:sites><e:geom><gml:Point gml:id='p' srsName='EPSG:4326'><gml:pos>1 2"
            f"</gml:pos></gml:Point></e:geom><e:name>{name}</e:name></e:sites>"
        )
        r = self._tx(client, role, f"<wfs:Insert>{site}</wfs:Insert>")
        if r.status_code != 403 or b"ExceptionReport" not in r.content:
            raise UnexpectedError(f"refusal for {role}: HTTP {r.status_code} {r.text[:300]!r}")
        return r.status_code


def worker_loop(
    load: Load, client: httpx.Client, tally: Tally, stop: threading.Event, max_requests: int
) -> None:
    ops = load.operations()
    weights = [w for _, w, _ in ops]
    while not stop.is_set():
        if tally.total >= max_requests:
            stop.set()
            return
        name, _, run = load.rng.choices(ops, weights)[0]
        role = load.rng.choice(ROLES)
        start = time.monotonic()
        status, problem = 200, None
        try:
            status = run(client, role) or 200
        except UnexpectedError as bad:
            problem = str(bad)
            found = re.match(r"HTTP (\d+)", problem)
            status = int(found.group(1)) if found else -1
        except httpx.HTTPError as failed:
            problem, status = f"{type(failed).__name__}: {failed}", 0
        tally.add(name, status, time.monotonic() - start, problem)


# --- the run ------------------------------------------------------------------------------------


def growth(samples: list[Sample], warmup: float) -> dict[int, tuple[Sample, Sample, Sample]]:
    """Per pid: first sample, first one after the warm-up, last one."""
    by_pid: dict[int, list[Sample]] = defaultdict(list)
    for s in samples:
        by_pid[s.pid].append(s)
    result = {}
    for pid, seq in by_pid.items():
        after = [s for s in seq if s.elapsed >= warmup]
        if after:
            result[pid] = (seq[0], after[0], seq[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=1800, help="seconds (default 1800)")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads")
    parser.add_argument("--max-requests", type=int, default=2_000_000)
    parser.add_argument("--url", help="drive this server instead of starting one")
    parser.add_argument("--server-pid", type=int, help="parent pid to sample with --url")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--interval", type=float, default=10.0, help="sampling, seconds")
    parser.add_argument(
        "--warmup", type=float, help="seconds (default: 20%% of the duration, at most 300)"
    )
    parser.add_argument("--rss-growth-mb", type=float, default=40.0)
    parser.add_argument("--fd-growth", type=int, default=8)
    parser.add_argument("--grid-rows", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--csv", type=Path, default=OUT / "soak.csv")
    parser.add_argument(
        "--redis",
        default="redis://127.0.0.1:6379/0",
        help="Redis of the second server's tile cache ('' : no second server)",
    )
    args = parser.parse_args()
    warmup = args.warmup if args.warmup is not None else min(300.0, args.duration * 0.2)
    OUT.mkdir(exist_ok=True)

    with _servers(args) as (url, tile_urls, servers):
        tally = Tally()
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())  # ends the run, with its report
        # Idle connections dropped before the server's 5 s keep-alive timeout (uvicorn's): at
        # httpx's default (5 s too) a POST sent as the server closed the connection was reset.
        keepalive = httpx.Limits(keepalive_expiry=2.0)
        clients = [httpx.Client(timeout=120, limits=keepalive) for _ in range(args.concurrency)]
        threads = [
            threading.Thread(
                target=worker_loop,
                daemon=True,
                args=(
                    Load(url, tile_urls, random.Random(args.seed * 1000 + n)),
                    c,
                    tally,
                    stop,
                    args.max_requests,
                ),
            )
            for n, c in enumerate(clients)
        ]
        started = time.monotonic()
        samples = sample_once(servers, started, tally.total, tally.errors())
        for t in threads:
            t.start()
        print(
            f"soak: {url}, {args.concurrency} clients, {args.duration:.0f} s, warm-up "
            f"{warmup:.0f} s, samples every {args.interval:.0f} s -> {args.csv}",
            flush=True,
        )
        try:
            while not stop.wait(args.interval):
                samples += (now := sample_once(servers, started, tally.total, tally.errors()))
                line = "  ".join(
                    f"{s.kind}[{s.pid}] {s.rss_kb / 1024:.0f} MB {s.fds} fd" for s in now
                )
                print(
                    f"{time.monotonic() - started:7.0f} s  {tally.total:8d} req  "
                    f"{tally.errors():4d} err  {line}",
                    flush=True,
                )
                if time.monotonic() - started >= args.duration:
                    stop.set()
        except KeyboardInterrupt:
            stop.set()
        for t in threads:
            t.join(timeout=180)
        elapsed = time.monotonic() - started
        samples += sample_once(servers, started, tally.total, tally.errors())
        for c in clients:
            c.close()
    return report(args, tally, samples, warmup, elapsed)


@contextmanager
def _servers(
    args: argparse.Namespace,
) -> Iterator[tuple[str, list[str], list[tuple[str, int]]]]:
    """(URL of the main server, URLs tiles are asked of, (name, parent pid) of each server)."""
    if args.url:
        url = args.url.rstrip("/")
        yield url, [url], [("server", args.server_pid)] if args.server_pid else []
        return
    work = OUT / "soak"
    projects = prepare(work, args.grid_rows)
    disk = {"OGCSERVE_CACHE_BACKEND": "disk", "OGCSERVE_CACHE_DIR": str(work / "cache")}
    with ExitStack() as stack:
        url, pid = stack.enter_context(
            own_server(projects, args.workers, work / "server.log", disk)
        )
        servers, tile_urls = [("disk", pid)], [url]
        if args.redis:
            redis = {
                "OGCSERVE_CACHE_BACKEND": "redis",
                "OGCSERVE_CACHE_REDIS_URL": args.redis,
                # a prefix of this run's own: no tile of an earlier run is a hit
                "OGCSERVE_CACHE_REDIS_PREFIX": f"ogcserve-soak-{time.time_ns()}:",
            }
            url2, pid2 = stack.enter_context(
                own_server(projects[:1], 1, work / "server-redis.log", redis)
            )
            servers.append(("redis", pid2))
            tile_urls.append(url2)
        yield url, tile_urls, servers


def report(
    args: argparse.Namespace, tally: Tally, samples: list[Sample], warmup: float, elapsed: float
) -> int:
    with args.csv.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["elapsed_s", "pid", "kind", "rss_kb", "fds", "requests", "errors"])
        for s in samples:
            writer.writerow([s.elapsed, s.pid, s.kind, s.rss_kb, s.fds, s.requests, s.errors])
    print(f"\n{tally.total} requests in {elapsed:.0f} s ({tally.total / elapsed:.1f}/s)\n")
    print(f"{'operation':38s} {'requests':>9s} {'median ms':>10s} {'p99 ms':>8s}  statuses")
    for op in sorted(tally.by_op):
        times = sorted(tally.seconds[op])
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(tally.by_op[op].items()))
        print(
            f"{op:38s} {sum(tally.by_op[op].values()):9d} "
            f"{statistics.median(times) * 1000:10.1f} {p99 * 1000:8.1f}  {statuses}"
        )
    failed = []
    pids = {s.pid for s in samples}
    workers = {s.pid for s in samples if s.kind.endswith("worker")}
    if len(workers) > args.workers + (1 if args.redis and not args.url else 0):
        failed.append(f"workers replaced: {len(workers)} worker pids seen")
    print(
        f"\n{'process':24s} {'RSS start':>10s} {'warm':>8s} {'end':>8s} {'FDs start':>10s} "
        f"{'warm':>5s} {'end':>5s}"
    )
    for pid, (first, warm, last) in sorted(growth(samples, warmup).items()):
        print(
            f"{first.kind}[{pid}]".ljust(24) + f" {first.rss_kb / 1024:8.1f}MB "
            f"{warm.rss_kb / 1024:6.1f}MB {last.rss_kb / 1024:6.1f}MB {first.fds:10d} "
            f"{warm.fds:5d} {last.fds:5d}"
        )
        if (last.rss_kb - warm.rss_kb) / 1024 > args.rss_growth_mb:
            failed.append(f"RSS of {pid} grew {(last.rss_kb - warm.rss_kb) / 1024:.1f} MB")
        if last.fds - warm.fds > args.fd_growth:
            failed.append(f"FDs of {pid} grew by {last.fds - warm.fds}")
    if tally.unexpected:
        failed.append(f"{len(tally.unexpected)} unexpected answers")
        for line in tally.unexpected[:20]:
            print("  unexpected:", line)
    summary = {
        "requests": tally.total,
        "seconds": round(elapsed, 1),
        "pids": sorted(pids),
        "by_operation": {op: dict(c) for op, c in tally.by_op.items()},
        "unexpected": tally.unexpected[:200],
        "failed": failed,
    }
    (OUT / "soak.json").write_text(json.dumps(summary, indent=1))
    for reason in failed:
        print("FAILED:", reason)
    print("OK" if not failed else "NOT OK")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
