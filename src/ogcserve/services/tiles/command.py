"""`ogcserve tiles seed|purge PROJECT`: fill or empty the tile cache from the command line.

    ogcserve tiles seed demo.yaml --layer countries --zoom 0-6 --bbox -10,35,30,60 --workers 4
    ogcserve tiles purge demo.yaml --layer countries --zoom 5-6

Seeding needs a cache every process shares (OGCSERVE_CACHE_BACKEND=disk or redis); it draws
metatiles in parallel worker processes, prints progress (tiles done, rate, time left) and a
summary, and skips what is cached already, so an interrupted seed resumes where it stopped.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from functools import cache
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .matrices import TileMatrixSets
from .seed import Metatile, count, draw, parse_bbox, parse_zooms, plan, purge

if TYPE_CHECKING:
    from ogcserve.server import Server

_CHUNK = 4  # metatiles per task: small enough for smooth progress, big enough to batch


def add_parser(commands: Any) -> None:
    """The `tiles` sub-command and its `seed` and `purge` actions."""
    tiles = commands.add_parser("tiles", help="seed or purge the tile cache")
    tiles.add_argument("action", choices=["seed", "purge"])
    tiles.add_argument("project", type=Path)
    tiles.add_argument(
        "--layer", action="append", default=[], help="a layer, group or the project (repeatable)"
    )
    tiles.add_argument("--zoom", type=parse_zooms, default=None, help="levels: N or LOW-HIGH")
    tiles.add_argument("--bbox", type=parse_bbox, default=None, help="minlon,minlat,maxlon,maxlat")
    tiles.add_argument(
        "--tms",
        action="append",
        default=[],
        help="tile matrix set (repeatable; default WebMercatorQuad)",
    )
    tiles.add_argument("--format", default="png", choices=["png", "jpg", "webp"])
    tiles.add_argument("--workers", type=int, default=2, help="parallel drawing processes")
    tiles.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="NAME: VALUE",
        help="seed as the caller these request headers make (repeatable)",
    )
    tiles.add_argument("--plugins", action="append", type=Path, default=[], metavar="DIR")


def _server(project: Path, plugins: list[Path]) -> Server:
    from ogcserve.app import build_server
    from ogcserve.settings import Settings

    return build_server(Settings(projects=[project.resolve()], plugin_paths=plugins))


@cache
def _worker_server(project: Path, plugins: tuple[Path, ...]) -> Server:
    """The server of a worker process, built on its first task (plugins load per process)."""
    return _server(project, list(plugins))


Job = tuple[Path, tuple[Path, ...], str, str, list[Metatile], str, dict[str, str]]


def _work(job: Job) -> list[tuple[str, int]]:
    project_file, plugins, project, tms_id, metatiles, image_format, headers = job
    server = _worker_server(project_file, plugins)
    tms = TileMatrixSets().get(tms_id, server.projects.default())
    assert tms is not None
    return [(draw(server, project, tms, m, image_format, headers), m.tiles) for m in metatiles]


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run `ogcserve tiles ...` (progress and summary to `out`, by default stderr)."""
    out = out or sys.stderr
    sets = TileMatrixSets()
    server = _server(args.project, args.plugins)
    default = server.projects.default()
    tms_list = [sets.get(name, default) for name in args.tms or ["WebMercatorQuad"]]
    if None in tms_list:
        known = ", ".join(s.id for s in sets.of(default))
        server.close()
        raise SystemExit(f"unknown tile matrix set (known: {known})")
    project = default.name
    if args.action == "purge":
        purge(server, project, args.layer, [t for t in tms_list if t], args.zoom, args.bbox)
        print(f"purged the cached tiles of {', '.join(args.layer) or project}", file=out)
        return 0
    if server.settings.cache_backend == "memory":
        raise SystemExit("seeding needs a shared cache: set OGCSERVE_CACHE_BACKEND=disk or redis")
    headers = dict(_header(h) for h in args.header)
    return _seed(args, project, [t for t in tms_list if t], headers, server, out)


def _header(text: str) -> tuple[str, str]:
    name, colon, value = text.partition(":")
    if not colon or not name.strip():
        raise SystemExit(f"--header {text!r}: give NAME: VALUE")
    return name.strip(), value.strip()


def _jobs(
    args: argparse.Namespace, project: str, tms_list: list[Any], headers: dict[str, str], size: int
) -> Iterator[Job]:
    layers = args.layer or [project]
    zooms = args.zoom or range(0, 6)
    plugins = tuple(args.plugins)
    for tms in tms_list:
        metatiles = plan(layers, tms, zooms, args.bbox, size)
        while chunk := list(islice(metatiles, _CHUNK)):
            yield args.project, plugins, project, tms.id, chunk, args.format, headers


def _seed(
    args: argparse.Namespace,
    project: str,
    tms_list: list[Any],
    headers: dict[str, str],
    server: Server,
    out: TextIO,
) -> int:
    layers, zooms = args.layer or [project], args.zoom or range(0, 6)
    total = sum(count(layers, tms, zooms, args.bbox) for tms in tms_list)
    size = server.settings.tile_metatile
    server.close()
    progress = Progress(total, out)
    with ProcessPoolExecutor(max(1, args.workers)) as pool:
        _run_all(pool, _jobs(args, project, tms_list, headers, size), progress, args.workers)
    progress.summary()
    return 1 if progress.outcomes["failed"] else 0


def _run_all(
    pool: ProcessPoolExecutor, jobs: Iterable[Any], progress: Progress, workers: int
) -> None:
    """Keep a few tasks per worker in flight (the plan may be millions of metatiles long)."""
    pending: set[Future[list[tuple[str, int]]]] = set()
    for job in jobs:
        pending.add(pool.submit(_work, job))
        if len(pending) >= 4 * max(1, workers):
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                progress.add(future.result())
    for future in pending:
        progress.add(future.result())


class Progress:
    """Tiles done, rate and time left on one line; a summary at the end."""

    def __init__(self, total: int, out: TextIO) -> None:
        self.total, self.out = total, out
        self.outcomes: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.started = self.shown = time.monotonic()

    @property
    def done(self) -> int:
        return sum(self.outcomes.values())

    def add(self, results: list[tuple[str, int]]) -> None:
        for outcome, tiles in results:
            kind = outcome.split(":")[0]
            self.outcomes[kind] += tiles
            if kind == "failed":
                self.failures[outcome] += tiles
        now = time.monotonic()
        if now - self.shown >= 0.5:
            self.shown = now
            self.line(now)

    def line(self, now: float) -> None:
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        percent = 100 * self.done / self.total if self.total else 100.0
        text = f"{self.done}/{self.total} tiles ({percent:.0f}%)  {rate:.1f} tiles/s"
        print(f"\r{text}  {_clock(left)} left", end="", file=self.out, flush=True)

    def summary(self) -> None:
        elapsed = time.monotonic() - self.started
        self.line(time.monotonic())
        print(file=self.out)
        drawn, cached, failed = (self.outcomes[k] for k in ("drawn", "cached", "failed"))
        print(
            f"{self.done} tiles in {_clock(elapsed)}: {drawn} drawn, {cached} already cached,"
            f" {failed} failed",
            file=self.out,
        )
        for outcome, tiles in sorted(self.failures.items()):
            print(f"  {tiles} tiles {outcome}", file=self.out)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
