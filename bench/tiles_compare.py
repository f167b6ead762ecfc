"""Tiles side by side in one run: ogcserve's WMTS against MapProxy and nginx.

- ogcserve: `ogcserve serve` (demo project, --workers 2, disk cache), RESTful WMTS tiles.
- MapProxy: a WMTS in front of ogcserve's WMS (the same data), its own file cache, 4 x 4
  metatiles with a 64 px buffer like ours, under gunicorn with 2 workers.
- nginx: MapProxy's tile files served from disk (2 workers), the physical limit of a hit.

- before (optional, --before SRC): another ogcserve checkout's `src` served the same way, to
  see a change against the code it replaces in the same run.
- bare (hits only): an ASGI app of five lines answering nginx's tile file from memory under
  uvicorn (httptools, uvloop, 2 workers): the ceiling of any Python server on uvicorn here.

hits:   wrk on one cached tile per server (--seconds each, --connections).
misses: the same N uncached z8 tiles over Europe from each server, by --connections client
        threads (every cache emptied before each round): tiles per second, metatiles included.

--rounds N repeats both, the servers' order turned round each round (the machine is shared:
its load average is recorded with every round); the summary is the median of the rounds.

Targets (issue 17): hits >= 2x MapProxy's and >= 30 % of nginx's; misses >= 1.5x MapProxy's.

    bench/data/mapproxy-venv/bin/pip install MapProxy gunicorn   # once (a venv of its own)
    PYTHONPATH=src .venv/bin/python bench/tiles_compare.py [--seconds 10] [--connections 4] \
        [--rounds 3] [--before /path/to/other/checkout/src]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from _common import BENCH_DIR, machine, print_table, write_result
from wms_compare import wait_port, wrk

WORK = BENCH_DIR / "data" / "tiles_compare"
VENV = BENCH_DIR / "data" / "mapproxy-venv"
DEMO = BENCH_DIR.parent / "src" / "ogcserve" / "demo" / "demo.yaml"
PORTS: dict[str, int] = {}  # free ports, chosen when the servers start
_REF = ("nginx", "bare")  # the references (hits only)
# Misses: z8 over Europe (WMTS rows from the top), the same tiles from each server.
MISS_LEVEL, MISS_ROWS, MISS_COLS = 8, range(80, 96), range(124, 140)

MAPPROXY_YAML = """
services:
  wmts:
    restful: true
    kvp: false
layers:
  - name: countries
    title: Countries
    sources: [countries_cache]
caches:
  countries_cache:
    grids: [webmercator]
    sources: [countries_wms]
    format: image/png
    meta_size: [4, 4]
    meta_buffer: 64
    cache:
      type: file
      directory_layout: tms
      directory: {cache}
sources:
  countries_wms:
    type: wms
    supported_srs: ['EPSG:3857']
    req:
      url: http://127.0.0.1:{port}/ows
      layers: countries
      transparent: true
grids:
  webmercator:
    base: GLOBAL_WEBMERCATOR
    srs: 'EPSG:3857'
    origin: nw
"""

NGINX_CONF = """
{user}
worker_processes 2;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx.error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {work}/tmp/body;
  proxy_temp_path {work}/tmp/proxy;
  fastcgi_temp_path {work}/tmp/fastcgi;
  uwsgi_temp_path {work}/tmp/uwsgi;
  scgi_temp_path {work}/tmp/scgi;
  types {{ image/png png; }}
  server {{ listen 127.0.0.1:{port}; root {root}; location / {{ try_files $uri =404; }} }}
}}
"""


BARE_APP = """
BODY = open({tile!r}, "rb").read()
HEAD = [(b"content-type", b"image/png"), (b"content-length", str(len(BODY)).encode())]


async def app(scope, receive, send):
    if scope["type"] == "http":
        await send({{"type": "http.response.start", "status": 200, "headers": HEAD}})
        await send({{"type": "http.response.body", "body": BODY}})
"""


def start_bare(stack: ExitStack, tile: Path) -> str:
    """The bare ASGI app answering `tile` under uvicorn; its URL."""
    PORTS["bare"] = free_port()
    (WORK / "bare_app.py").write_text(BARE_APP.format(tile=str(tile)))
    uvicorn = [sys.executable, "-m", "uvicorn", "--app-dir", str(WORK), "bare_app:app"]
    options = ["--workers", "2", "--http", "httptools", "--loop", "uvloop", "--no-access-log"]
    start(stack, "bare", [*uvicorn, *options, "--port", str(PORTS["bare"])], dict(os.environ))
    return f"http://127.0.0.1:{PORTS['bare']}/"


def tile_urls() -> dict[str, str]:
    """One tile's URL per server, `{z}/{row}/{col}` to fill."""
    ours = "/wmts/demo/countries/default/WebMercatorQuad/{z}/{row}/{col}.png"
    urls = {"ogcserve": f"http://127.0.0.1:{PORTS['ogcserve']}{ours}"}
    if "before" in PORTS:
        urls["before"] = f"http://127.0.0.1:{PORTS['before']}{ours}"
    urls["mapproxy"] = (
        f"http://127.0.0.1:{PORTS['mapproxy']}/wmts/countries/webmercator/{{z:02d}}/{{col}}/{{row}}.png"
    )
    return urls


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as answer:
        if answer.status != 200:
            raise RuntimeError(f"{url}: {answer.status}")
        return bytes(answer.read())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(stack: ExitStack, name: str, args: list[str], env: dict[str, str]) -> None:
    log = stack.enter_context((WORK / f"{name}.log").open("w"))
    process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=WORK)
    stack.callback(lambda: (process.terminate(), process.wait(20)))
    if not wait_port(PORTS[name], 90):
        raise SystemExit(f"{name} did not start: see {WORK / f'{name}.log'}")


def start_ogcserve(stack: ExitStack, name: str, src: Path) -> None:
    """`ogcserve serve` of the checkout `src` (2 workers, disk cache in WORK/<name>)."""
    env = {**os.environ, "OGCSERVE_CACHE_BACKEND": "disk", "OGCSERVE_CACHE_DIR": str(WORK / name)}
    env["OGCSERVE_ACCESS_LOG"] = "false"
    # That checkout's ogcserve, whatever the directory the servers run in.
    env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")])
    ogcserve = [sys.executable, "-m", "ogcserve", "serve", str(DEMO), "--workers", "2"]
    start(stack, name, [*ogcserve, "--port", str(PORTS[name])], env)


def start_all(stack: ExitStack, before: Path | None) -> Path:
    """ogcserve (and the `before` checkout), MapProxy and nginx; returns MapProxy's cache
    directory (nginx's root)."""
    shutil.rmtree(WORK, ignore_errors=True)
    names = ("ogcserve", "mapproxy", "nginx", *(("before",) if before else ()))
    PORTS.update({name: free_port() for name in names})
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (WORK / "tmp" / sub).mkdir(parents=True)
    start_ogcserve(stack, "ogcserve", BENCH_DIR.parent / "src")
    if before is not None:
        start_ogcserve(stack, "before", before)
    cache = WORK / "mapproxy_cache"
    (WORK / "mapproxy.yaml").write_text(MAPPROXY_YAML.format(cache=cache, port=PORTS["ogcserve"]))
    (WORK / "mapproxy_app.py").write_text(
        "from mapproxy.wsgiapp import make_wsgi_app\n"
        f"application = make_wsgi_app({str(WORK / 'mapproxy.yaml')!r})\n"
    )
    gunicorn = [str(VENV / "bin" / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{PORTS['mapproxy']}"]
    start(stack, "mapproxy", [*gunicorn, "mapproxy_app:application"], dict(os.environ))
    user = "user root;" if os.geteuid() == 0 else ""
    conf = NGINX_CONF.format(user=user, work=WORK, port=PORTS["nginx"], root=cache)
    (WORK / "nginx.conf").write_text(conf)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    start(stack, "nginx", [nginx, "-c", str(WORK / "nginx.conf"), "-p", str(WORK)], {})
    return cache


def misses(url: str, connections: int) -> dict[str, Any]:
    """Every tile of the miss area once, by `connections` threads: tiles per second."""
    tiles = [url.format(z=MISS_LEVEL, row=r, col=c) for r in MISS_ROWS for c in MISS_COLS]
    started = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        sizes = list(pool.map(fetch, tiles))
    elapsed = time.perf_counter() - started
    return {"tiles": len(sizes), "seconds": round(elapsed, 3), "tiles_per_s": len(sizes) / elapsed}


def empty_caches(cache: Path) -> None:
    """Every server's cached tiles of the miss level (MapProxy's z3 tile stays: nginx's hit)."""
    for name in ("ogcserve", "before"):
        shutil.rmtree(WORK / name / "demo" / "tile", ignore_errors=True)
    for level in (str(MISS_LEVEL), f"{MISS_LEVEL:02d}"):  # the tms layout: <level>/<x>/<y>
        shutil.rmtree(cache / level, ignore_errors=True)


def one_round(
    urls: dict[str, str], hit: dict[str, str], args: argparse.Namespace, turn: int
) -> Any:
    """Misses, then hits, of every server; the order turned round on odd rounds."""
    order = list(urls) if turn % 2 == 0 else list(reversed(urls))
    figures: dict[str, Any] = {"loadavg_before": [round(v, 2) for v in os.getloadavg()]}
    figures["misses"] = {name: misses(urls[name], args.connections) for name in order}
    hit_order = [*order, "nginx", "bare"] if turn % 2 == 0 else ["bare", "nginx", *order]
    figures["hits"] = {name: wrk(hit[name], args.seconds, args.connections) for name in hit_order}
    figures["loadavg_after"] = [round(v, 2) for v in os.getloadavg()]
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--before", type=Path, default=None, help="another checkout's src")
    args = parser.parse_args()
    if not (VENV / "bin" / "gunicorn").exists():
        raise SystemExit(f"MapProxy is not installed: {VENV}/bin/pip install MapProxy gunicorn")
    result: dict[str, Any] = {"machine": machine(), "rounds": []}
    with ExitStack() as stack:
        cache = start_all(stack, args.before)
        urls = tile_urls()
        # Warm every worker up (sources opened, fonts and transformers built) outside the
        # measured area, so that misses measure drawing, not a process's first request.
        for url in urls.values():
            warm = [url.format(z=6, row=r, col=c) for r in range(16, 24) for c in range(28, 36)]
            with ThreadPoolExecutor(args.connections) as pool:
                list(pool.map(fetch, warm))
        # A hit: a z3 tile, fetched once (drawn and cached) before the load.
        hit = {name: url.format(z=3, row=2, col=4) for name, url in urls.items()}
        for url in hit.values():
            fetch(url)
        files = sorted(cache.rglob("*.png"))
        relative = files[len(files) // 2].relative_to(cache)
        hit["nginx"] = f"http://127.0.0.1:{PORTS['nginx']}/{relative}"
        hit["bare"] = start_bare(stack, cache / relative)
        for turn in range(args.rounds):
            empty_caches(cache)
            result["rounds"].append(one_round(urls, hit, args, turn))
            report_round(result["rounds"][-1], turn)
    result["median"] = medians(result["rounds"])
    report(result["median"])
    write_result("tiles_compare", result)
    return 0


def medians(rounds: list[Any]) -> dict[str, dict[str, float]]:
    """Per server, the median over the rounds of hits (requests/s) and misses (tiles/s)."""
    hits = {
        n: statistics.median(r["hits"][n]["requests_per_s"] for r in rounds)
        for n in rounds[0]["hits"]
    }
    miss = {
        n: statistics.median(r["misses"][n]["tiles_per_s"] for r in rounds)
        for n in rounds[0]["misses"]
    }
    return {"hits": hits, "misses": miss}


def report_round(figures: Any, turn: int) -> None:
    hits = {n: r["requests_per_s"] for n, r in figures["hits"].items()}
    miss = {n: r["tiles_per_s"] for n, r in figures["misses"].items()}
    load = figures["loadavg_before"][0], figures["loadavg_after"][0]
    print(
        f"round {turn + 1} (load {load[0]:.1f} -> {load[1]:.1f}): "
        + ", ".join(f"{n} hits {hits[n]:.0f}/s" for n in hits)
        + "; "
        + ", ".join(f"{n} misses {miss[n]:.1f}/s" for n in miss),
        flush=True,
    )


def report(summary: dict[str, dict[str, float]]) -> None:
    hits, miss = summary["hits"], summary["misses"]
    names = [n for n in ("ogcserve", "before", "mapproxy") if n in miss]
    rows = [
        ["hits (req/s)", *(f"{hits[n]:.0f}" for n in names), *(f"{hits[n]:.0f}" for n in _REF)],
        ["misses (tiles/s)", *(f"{miss[n]:.1f}" for n in names), "-", "-"],
    ]
    print_table(["median", *names, *_REF], rows)
    print(
        f"hits: {hits['ogcserve'] / hits['mapproxy']:.2f}x MapProxy (target 2x), "
        f"{100 * hits['ogcserve'] / hits['nginx']:.0f} % of nginx (target 30 %); "
        f"misses: {miss['ogcserve'] / miss['mapproxy']:.2f}x MapProxy (target 1.5x); "
        f"the bare ASGI app on uvicorn: {100 * hits['bare'] / hits['nginx']:.0f} % of nginx"
    )


if __name__ == "__main__":
    raise SystemExit(main())
