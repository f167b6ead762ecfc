"""The 200,000-line layer of bench/postgis_compare.py: its data, its layer and its cases.

bench/data/lines_200000.gpkg (written once by gpkg_bbox.build_gpkg, then reused), table
`roads`: one polyline of 5-20 vertices per cell of a 1000 x 200 grid of 100 m x 500 m cells
over the parcels' extent (EPSG:3857), running north through its cell and staying inside the
middle 80 % of it; attributes name ("road <fid>"), category (0-9), value, as the parcels.

Cases (names `lines_*`): GetMap of the whole layer, a dense window (~10,000 lines) and a
sparse one (~50), checked by the stroke colour; WFS 1.1.0 GetFeature of the 1,000 lines of the
first grid row (fids 1..1,000) in GML and GeoJSON, checked by count and ids.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
import wfs_compare as wfs
import wms_compare as wms
from _common import DATA_DIR
from gpkg_bbox import CELL, GRID, SRS_ID, X0, Y0, build_gpkg, rtree_count

TABLE = "roads"
COUNT = 200_000
GPKG = DATA_DIR / f"lines_{COUNT}.gpkg"
ROWS = COUNT // GRID  # grid rows; columns as the parcels' (GRID)
CELL_Y = GRID * CELL / ROWS  # 500 m: the parcels' extent
# The same join and cap in the three servers (each has its own default: QGIS bevel joins and
# square caps, MapServer and ogcserve round ones): QGIS's, the look of its default line.
STYLE = {"stroke": "#08519c", "stroke_width": 2, "line_join": "bevel", "line_cap": "square"}
MIN_SHARE = 0.005  # of the image in the stroke colour: ~50 lines cover ~2 %
# Timed as whole downloads (seconds, median of --downloads), as the 100,000-feature cases: one
# map of all 200,000 lines takes seconds, so a short wrk run finishes none and leaves the
# server busy with the abandoned ones during the next case.
DOWNLOADS = ("lines_getmap_world",)


def lines(start: int, stop: int, rng: np.random.Generator) -> npt.NDArray[np.object_]:
    """Lines for grid cells start..stop-1 (row-major): 5-20 vertices going north from 10 % to
    90 % of the cell's height, each at a random 10-90 % of its width. Vectorised."""
    n = stop - start
    cells = np.arange(start, stop)
    x0 = X0 + (cells % GRID) * CELL
    y0 = Y0 + (cells // GRID) * CELL_Y
    k = rng.integers(5, 21, n)
    ends = np.cumsum(k)
    starts = ends - k
    owner = np.repeat(np.arange(n), k)
    pos = np.arange(int(ends[-1])) - starts[owner]
    x = x0[owner] + CELL * rng.uniform(0.1, 0.9, len(owner))
    y = y0[owner] + CELL_Y * (0.1 + 0.8 * pos / (k[owner] - 1))
    offsets = np.concatenate(([0], ends))
    return shapely.from_ragged_array(  # type: ignore[no-any-return]
        shapely.GeometryType.LINESTRING, np.column_stack((x, y)), (offsets,)
    )


def ensure_gpkg(path: Path = GPKG) -> Path:
    if not path.exists():
        print(f"writing {path} ...", flush=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        build_gpkg(path, COUNT, 7, TABLE, "LINESTRING", lines, "road")
    return path


def layer_spec() -> dict[str, Any]:
    """The layer as wms_compare.layers_spec() gives the others (no fill: a line symbol)."""
    return {
        "name": TABLE,
        "path": str(GPKG.resolve()),
        "table": TABLE,
        "epsg": SRS_ID,
        "geometry": "line",
        **STYLE,
    }


def _window(cells_x: float) -> tuple[float, float, float, float]:
    """A 4:3 window `cells_x` columns wide from the grid's centre, offset by half a cell."""
    x = X0 + (GRID // 2 + 0.5) * CELL
    y = Y0 + (ROWS // 2 + 0.5) * CELL_Y
    w = cells_x * CELL
    return (x, y, x + w, y + w * wms.HEIGHT / wms.WIDTH)


def _pick(conn: sqlite3.Connection, target: int) -> tuple[float, float, float, float]:
    """The window of _window whose R-tree count is nearest `target` (wms.pick_window's way)."""
    best: tuple[int, tuple[float, float, float, float]] | None = None
    for tenth in range(10, 4000):
        bbox = _window(tenth / 10)
        count = rtree_count(conn, bbox, TABLE)
        if best is None or abs(count - target) < best[0]:
            best = (abs(count - target), bbox)
        if count > target * 1.5:
            break
    assert best is not None
    return best[1]


def cases(gpkg: Path = GPKG) -> list[wms.Case | wfs.Case]:
    with sqlite3.connect(gpkg.resolve().as_uri() + "?mode=ro", uri=True) as conn:
        dense, sparse = _pick(conn, wms.DENSE_TARGET), _pick(conn, wms.SPARSE_TARGET)
    # The whole layer, 4:3 (x first: EPSG:3857).
    side = GRID * CELL
    world = (X0 - side / 6, Y0, X0 + side * 7 / 6, Y0 + side)
    stroke = str(STYLE["stroke"])
    out: list[wms.Case | wfs.Case] = [
        wms.Case(
            f"lines_getmap_{name}",
            f"GetMap lines, {name}",
            wms.getmap(TABLE, "EPSG:3857", bbox),
            "png",
            stroke,
            MIN_SHARE,
        )
        for name, bbox in (("world", world), ("dense", dense), ("sparse", sparse))
    ]
    # The first grid row: lines stay within 10-90 % of their cell's height.
    band = (X0, Y0 + 0.05 * CELL_Y, X0 + GRID * CELL, Y0 + 0.95 * CELL_Y)
    out += [wfs.Case(f"lines_{fmt}_{GRID}", fmt, GRID, TABLE, band) for fmt in ("gml", "geojson")]
    return out


def counts(gpkg: Path = GPKG) -> dict[str, int]:
    """R-tree candidates of the lines GetMap windows (for the record)."""
    with sqlite3.connect(gpkg.resolve().as_uri() + "?mode=ro", uri=True) as conn:
        return {
            c.name: rtree_count(conn, tuple(float(v) for v in c.params["BBOX"].split(",")), TABLE)
            for c in cases(gpkg)
            if isinstance(c, wms.Case)
        }
