"""Tiles drawn by the WMS renderer as metatiles, split, and kept in the cache backend.

A metatile is `tile_metatile` x `tile_metatile` tiles (clipped to the matrix) drawn at once with
`tile_buffer` pixels around it, so labels and symbols meet at tile edges and the renderer's fixed
cost is paid once for many tiles. Every tile of the metatile is stored under the caller's key,
with its ETag; a metatile is drawn once even when its tiles are asked for together, by threads
of one process (a lock per metatile) or by the processes and hosts sharing the backend (the
backend's lock: a file lock on disk, SET NX in Redis).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

from ogcserve.geo import in_scale_range, proj_code
from ogcserve.rendering import MapView, Renderer, encode
from ogcserve.services.wms.get_map import layer_data
from ogcserve.services.wms.layers import check_style, map_layers, named_layer, project_of

from .edge import EdgeHits
from .keys import TileAddress, tile_key, tile_space
from .matrices import TILE_SIZE, TileMatrix
from .tile import Tile

_LOCK_WAIT = 30.0  # seconds a request waits for another process drawing its metatile

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ogcserve.context import RequestContext


class TileRenderer:
    """Draws and caches tiles for every tile service (WMTS, OGC API - Tiles, XYZ)."""

    def __init__(self) -> None:
        self.renderer = Renderer()
        self.edge = EdgeHits()  # where the tiles of answered URLs are (hits at the ASGI edge)
        self._drawing: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def tile(self, ctx: RequestContext, address: TileAddress, url_decides: bool = True) -> Tile:
        """The tile, from the cache or drawn (with its metatile) and cached; `url_decides`:
        the request's URL alone chose it (not a header), so hits may be answered at the edge.

        The layer is resolved first, through the access layer: LayerNotDefined for an unknown
        name or a group the caller can read nothing of, Security (403) for a forbidden layer.
        """
        project = project_of(ctx)
        # The fingerprint first: where the access decisions are remembered (access/memo.py)
        # this takes them all at once, and resolving the layer then asks no filter again.
        fingerprint = ctx.server.access.fingerprint(ctx, project)
        layer = named_layer(ctx, address.layer)
        address = replace(address, style=check_style(layer, address.style, "STYLE"))
        settings = ctx.server.settings
        max_age = settings.tile_max_age if layer.tiles.max_age is None else layer.tiles.max_age
        drawing = (settings.tile_metatile, settings.tile_buffer)
        key = tile_key(fingerprint, project, address, drawing)
        backend = ctx.server.cache_backend
        space = tile_space(project.name, address)
        cached = self._cached(backend.get(space, key), address, max_age)
        if url_decides:
            self.edge.remember(ctx, project, (space, key), address.format, max_age)
        if cached is not None:
            return cached
        size = settings.tile_metatile
        block = (address.level, address.row - address.row % size, address.col - address.col % size)
        name = f"{project.name}/{address.layer}/{address.tms.id}/{block}/{key}"
        remaining = ctx.deadline.remaining()
        wait = _LOCK_WAIT if remaining is None else min(_LOCK_WAIT, remaining)
        # One drawing of a metatile: by one thread of this process, then by one process of
        # all that share the backend (disk, Redis); the others wait and find it cached.
        with self._once(name), backend.lock(name, wait):
            cached = self._cached(backend.get(space, key), address, max_age)
            if cached is not None:  # drawn meanwhile by the request we waited for
                return cached
            bodies = self.metatile(ctx, address, drawing)
            tiles = {
                at: Tile(body, address.format, cached=False, max_age=max_age)
                for at, body in bodies.items()
            }
            for (row, col), tile in tiles.items():
                backend.set(tile_space(project.name, address.at(row, col)), key, tile.entry())
        return tiles[(address.row, address.col)]

    @staticmethod
    def _cached(data: bytes | None, address: TileAddress, max_age: int) -> Tile | None:
        return None if data is None else Tile.from_entry(data, address.format, max_age)

    def metatile(
        self, ctx: RequestContext, address: TileAddress, drawing: tuple[int, int]
    ) -> dict[tuple[int, int], bytes]:
        """Draw the metatile holding `address` and split it into encoded tiles."""
        size, buffer = drawing
        matrix = address.tms.matrix(address.level)
        assert matrix is not None
        row0, col0 = address.row - address.row % size, address.col - address.col % size
        rows = min(size, matrix.matrix_height - row0)
        cols = min(size, matrix.matrix_width - col0)
        image = self.draw(ctx, address, matrix, (row0, col0, rows, cols), buffer)
        transparent = address.format != "image/jpeg"
        tiles = {}
        for r in range(rows):
            for c in range(cols):
                top, left = buffer + r * TILE_SIZE, buffer + c * TILE_SIZE
                part = image[top : top + TILE_SIZE, left : left + TILE_SIZE]
                tiles[(row0 + r, col0 + c)] = encode(part, address.format, transparent=transparent)
        return tiles

    def draw(
        self,
        ctx: RequestContext,
        address: TileAddress,
        matrix: TileMatrix,
        block: tuple[int, int, int, int],
        buffer: int,
    ) -> npt.NDArray[np.uint8]:
        """The RGBA pixels of a block of tiles plus `buffer` pixels around it."""
        row0, col0, rows, cols = block
        minx, miny, maxx, maxy = matrix.tile_bbox(row0, col0, rows, cols)
        pad = buffer * matrix.cell_size
        view = MapView(
            (minx - pad, miny - pad, maxx + pad, maxy + pad),
            proj_code(address.tms.crs),
            cols * TILE_SIZE + 2 * buffer,
            rows * TILE_SIZE + 2 * buffer,
        )
        layers = map_layers(ctx, [address.layer], [address.style], {})
        scale = matrix.scale_denominator
        visible = [m for m in layers if in_scale_range(scale, m.layer.min_scale, m.layer.max_scale)]
        data = [d for d in (layer_data(ctx, self.renderer, view, m) for m in visible) if d]
        return self.renderer.render(view, data, ctx.deadline.check)

    @contextmanager
    def _once(self, name: str) -> Iterator[None]:
        """One drawing of a metatile at a time in this process (the others wait for it)."""
        with self._guard:
            lock = self._drawing.setdefault(name, threading.Lock())
        with lock:
            yield
        with self._guard:
            self._drawing.pop(name, None)
