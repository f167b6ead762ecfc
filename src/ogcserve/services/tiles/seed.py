"""Seeding and purging cached tiles: the plan (which metatiles), the work (drawing them through
the pipeline, as a request would be) and the purge (dropping spaces).

Seeding draws through the whole pipeline, filters and access control included, as the caller
the given headers make (anonymous by default): tiles are cached under that caller's
fingerprint, and only callers with the same rights will be served them. A metatile whose tile
is already cached is skipped, so an interrupted seed resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from ogcserve import pipeline
from ogcserve.geo import BBox, transform_bbox
from ogcserve.http.request import ServerRequest
from ogcserve.http.response import BufferSink

from .invalidate import grown
from .keys import layer_space, level_space
from .matrices import TileMatrixSet

if TYPE_CHECKING:
    from ogcserve.server import Server


@dataclass(frozen=True, slots=True)
class Metatile:
    """One unit of seeding work: the top-left tile of a metatile and how many tiles it holds
    inside the seeded area."""

    layer: str
    level: int
    row: int
    col: int
    tiles: int


def parse_zooms(text: str) -> range:
    """`5` or `0-12`."""
    first, _, last = text.partition("-")
    low, high = int(first), int(last or first)
    if low < 0 or high < low:
        raise ValueError(f"zoom levels {text!r}: give N or LOW-HIGH with LOW <= HIGH")
    return range(low, high + 1)


def parse_bbox(text: str) -> BBox:
    """`minlon,minlat,maxlon,maxlat`."""
    parts = [float(p) for p in text.split(",")]
    if len(parts) != 4 or parts[0] >= parts[2] or parts[1] >= parts[3]:
        raise ValueError(f"bbox {text!r}: give minlon,minlat,maxlon,maxlat")
    return parts[0], parts[1], parts[2], parts[3]


def plan(
    layers: Sequence[str], tms: TileMatrixSet, zooms: range, lonlat: BBox | None, size: int
) -> Iterator[Metatile]:
    """The metatiles covering `lonlat` (everything if None) at each level, level by level."""
    area = tms.bbox if lonlat is None else transform_bbox(lonlat, "CRS:84", tms.crs)
    for level in zooms:
        matrix = tms.matrix(level)
        if matrix is None:
            raise ValueError(f"{tms.id} has no level {level} (0 to {tms.max_level})")
        rows, cols = matrix.tiles_over(area)
        for layer in layers:
            for row in range(rows.start - rows.start % size, rows.stop, size):
                for col in range(cols.start - cols.start % size, cols.stop, size):
                    inside_rows = range(max(row, rows.start), min(row + size, rows.stop))
                    inside_cols = range(max(col, cols.start), min(col + size, cols.stop))
                    count = len(inside_rows) * len(inside_cols)
                    yield Metatile(layer, level, inside_rows.start, inside_cols.start, count)


def count(layers: Sequence[str], tms: TileMatrixSet, zooms: range, lonlat: BBox | None) -> int:
    """How many tiles `plan` covers."""
    area = tms.bbox if lonlat is None else transform_bbox(lonlat, "CRS:84", tms.crs)
    total = 0
    for level in zooms:
        matrix = tms.matrix(level)
        if matrix is not None:
            rows, cols = matrix.tiles_over(area)
            total += len(rows) * len(cols)
    return total * len(layers)


def draw(
    server: Server,
    project: str,
    tms: TileMatrixSet,
    metatile: Metatile,
    image_format: str,
    headers: dict[str, str],
) -> str:
    """Ask for the metatile's first tile through the pipeline: "drawn", "cached" or "failed:
    <status>" (a failure is the answer's status, e.g. 403 for a layer the caller may not read)."""
    path = (
        f"/wmts/{quote(project, safe='')}/{quote(metatile.layer, safe='')}/default/{tms.id}"
        f"/{metatile.level}/{metatile.row}/{metatile.col}.{image_format}"
    )
    request = ServerRequest.build(
        "GET", f"http://seed{path}", headers=headers, route={"endpoint": "path"}
    )
    sink = BufferSink()
    pipeline.handle(server, request, sink)
    if sink.status != 200:
        return f"failed: {sink.status}"
    cached = dict(sink.headers).get("X-Cache") == "HIT"
    return "cached" if cached else "drawn"


def purge(
    server: Server,
    project: str,
    layers: Sequence[str],
    tms_list: Sequence[TileMatrixSet],
    zooms: range | None,
    lonlat: BBox | None,
) -> None:
    """Drop cached tiles: of whole layers, of levels, or of the tiles over an area."""
    backend = server.cache_backend
    if not layers:
        backend.drop_tree(f"{project}/tile")
        return
    for layer in layers:
        if zooms is None and lonlat is None:
            backend.drop_tree(layer_space(project, layer))
            continue
        for tms in tms_list:
            levels = zooms if zooms is not None else range(tms.max_level + 1)
            for level in levels:
                matrix = tms.matrix(level)
                if matrix is None:
                    continue
                space = level_space(project, layer, tms.id, level)
                if lonlat is None:
                    backend.drop_tree(space)
                    continue
                area = transform_bbox(lonlat, "CRS:84", tms.crs)
                rows, cols = matrix.tiles_over(grown(area, matrix))
                for row in rows:
                    for col in cols:
                        backend.drop(f"{space}/{row}/{col}")
