"""Where the time of a map of many lines goes in Skia, and what stroking in numpy would save.

For the 200,000 lines' maps of bench/postgis_lines.py (the whole layer, the dense window), read
from the GeoPackage and taken through the renderer up to its Skia paths (projected, clipped,
thinned, grouped as `rendering.vector` groups them), this times, CPU, least of `--repeat`:

- `stroke`: the renderer's draws (Skia strokes, then fills, each path);
- `getFillPath` + `fill`: Skia's stroker alone, then filling its outlines (the rasteriser alone);
- `outline` + `write` + `fill numpy`: bevel-join, square-cap outlines built in numpy for every
  line at once (the polygon `SkPathStroker` makes: per join the +v/-v offset points, with the
  pivot on the inner side), written as SkPath records (winding fill) and filled;

and compares the numpy outlines' image with Skia's stroke, pixel by pixel.

    PYTHONPATH=src python bench/line_strokes.py [--cases world,dense] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import postgis_lines
import pyogrio
import shapely
import skia

import ogcserve.rendering.vector as vector
from ogcserve.geo.wkb import ranges, starts_of
from ogcserve.rendering import MapView, Renderer, VectorLayerData
from ogcserve.rendering.paths import PathBatch, _write

_MOVE, _LINE, _CLOSE = 0, 1, 5


def captured(case: str) -> tuple[PathBatch, MapView]:
    """The renderer's path batch of the case's map (its lines projected, clipped, thinned)."""
    found = {c.name: c for c in postgis_lines.cases(postgis_lines.GPKG)}
    params: Any = found[f"lines_getmap_{case}"].params  # type: ignore[union-attr]
    bbox = tuple(float(v) for v in params["BBOX"].split(","))
    view = MapView(bbox, "EPSG:3857", int(params["WIDTH"]), int(params["HEIGHT"]))
    _, _, wkb, _ = pyogrio.raw.read(postgis_lines.GPKG, bbox=bbox)
    style = {k: postgis_lines.STYLE[k] for k in ("stroke", "stroke_width", "line_join", "line_cap")}
    layer = VectorLayerData("l", "L", style, "EPSG:3857", shapely.from_wkb(wkb), {})
    batches: list[PathBatch] = []
    serialize = vector.serialize

    def keep(subpaths: Any) -> PathBatch:
        batches.append(serialize(subpaths))
        return batches[-1]

    vector.serialize = keep  # type: ignore[assignment]
    try:
        Renderer().render(view, [layer])
    finally:
        vector.serialize = serialize
    return batches[-1], view


def outlines(batch: PathBatch, half: float, square: bool) -> tuple[np.ndarray, ...]:
    """Every line's stroke outline (bevel joins): points, verbs, points and verbs per line."""
    xy, new_sub = batch.points, batch.verbs == _MOVE
    sub_start = np.flatnonzero(new_sub)
    m = np.diff(np.append(sub_start, len(xy))) - 1  # segments per subpath
    assert (m >= 1).all()
    line_of_sub = np.repeat(np.arange(len(batch.n_points)), batch.n_points)[sub_start]
    a = ranges(sub_start, m)
    d = xy[a + 1] - xy[a]
    u = d / np.hypot(d[:, 0], d[:, 1])[:, None]
    v = np.column_stack((u[:, 1], -u[:, 0])) * half  # Skia's normal
    cap = u * (half if square else 0.0)
    seg_start = starts_of(m)
    first_seg, last_seg = seg_start, seg_start + m - 1
    is_join = np.ones(len(a), dtype=bool)
    is_join[last_seg] = False
    before = np.flatnonzero(is_join)
    after = before + 1
    pivot = xy[a[before] + 1]
    inner = (u[before, 0] * u[after, 1] - u[before, 1] * u[after, 0] <= 0).astype(np.intp)
    joins = m - 1
    sub_of_join = np.repeat(np.arange(len(m)), joins)
    inner_before = np.cumsum(inner) - inner
    some = joins > 0
    inner_before -= np.repeat(inner_before[starts_of(joins)[some]], joins[some])
    n_inner = np.bincount(sub_of_join, weights=inner, minlength=len(m)).astype(np.intp)
    n_sub = 5 * m - 1
    o = starts_of(n_sub)
    cap_at = o + 1 + 2 * joins + n_inner
    out = np.empty((int(n_sub.sum()), 2), dtype=np.float32)
    out[o] = xy[sub_start] + v[first_seg] - cap[first_seg]
    end = xy[sub_start + m]
    out[cap_at] = end + v[last_seg] + cap[last_seg]
    out[cap_at + 1] = end - v[last_seg] + cap[last_seg]
    out[o + n_sub - 1] = xy[sub_start] - v[first_seg] - cap[first_seg]
    k = before - seg_start[sub_of_join]
    fwd = o[sub_of_join] + 1 + 2 * k + inner_before
    rest = n_inner[sub_of_join] - inner_before - inner
    back = (cap_at + 2)[sub_of_join] + 3 * (joins[sub_of_join] - 1 - k) - rest
    out[fwd] = pivot + v[before]
    out[fwd + 1 + inner] = pivot + v[after]
    out[back] = pivot - v[after]
    out[back + 2 - inner] = pivot - v[before]
    out[np.where(inner == 1, fwd + 1, back + 1)] = pivot
    n_verbs = n_sub + 1
    verbs = np.full(int(n_verbs.sum()), _LINE, dtype=np.uint8)
    verb_start = starts_of(n_verbs)
    verbs[verb_start] = _MOVE
    verbs[verb_start + n_verbs - 1] = _CLOSE
    per_line = np.bincount(line_of_sub, weights=n_sub, minlength=len(batch.n_points))
    verbs_line = np.bincount(line_of_sub, weights=n_verbs, minlength=len(batch.n_points))
    return out, verbs, per_line.astype(np.intp), verbs_line.astype(np.intp)


def surface(view: MapView) -> tuple[skia.Surface, skia.Canvas]:
    s = skia.Surface(view.width, view.height)
    s.getCanvas().clear(0xFFFFFFFF)
    return s, s.getCanvas()


def measure(case: str, repeat: int, stroke: skia.Paint, fill: skia.Paint) -> None:
    batch, view = captured(case)
    width = stroke.getStrokeWidth()
    tiny = batch.extents() <= vector._TINY * width
    first, size = vector._groups(tiny)
    joined, g_start, g_size = batch.grouped(np.arange(len(batch.feature)), size)
    records = [joined[s : s + n] for s, n in zip(g_start.tolist(), g_size.tolist(), strict=True)]
    times: dict[str, float] = {}
    cpu = time.process_time
    for _ in range(repeat):
        s, c = surface(view)
        path = skia.Path()
        t = cpu()
        for r in records:
            path.readFromMemory(r)
            c.drawPath(path, stroke)
        lap = {"stroke": cpu() - t}
        skia_image = s.toarray()
        t = cpu()
        stroked = []
        for r in records:
            path.readFromMemory(r)
            q = skia.Path()
            stroke.getFillPath(path, q)
            stroked.append(q)
        lap["getFillPath"] = cpu() - t
        s, c = surface(view)
        t = cpu()
        for q in stroked:
            c.drawPath(q, fill)
        lap["fill"] = cpu() - t
        t = cpu()
        pts, verbs, n_pts, n_verbs = outlines(batch, width / 2, True)
        lap["outline"] = cpu() - t
        t = cpu()
        buf, start, size_ = _write(
            pts, np.add.reduceat(n_pts, first), verbs, np.add.reduceat(n_verbs, first)
        )
        buf.view(np.int32)[start // 4] = 5  # winding fill, version 5
        data = buf.tobytes()
        lap["write"] = cpu() - t
        s, c = surface(view)
        t = cpu()
        for at, n in zip(start.tolist(), size_.tolist(), strict=True):
            path.readFromMemory(data[at : at + n])
            c.drawPath(path, fill)
        lap["fill numpy"] = cpu() - t
        numpy_image = s.toarray()
        for k, v in lap.items():
            times[k] = min(times.get(k, 1e9), v)
    diff = np.abs(skia_image.astype(int) - numpy_image.astype(int)).max(axis=2)
    print(
        f"{case}: {len(batch.feature)} lines, {len(batch.points)} vertices, {len(records)} "
        f"draws; Skia's outlines {sum(q.countPoints() for q in stroked)} points, numpy's "
        f"{len(pts)}"
    )
    print("  CPU ms: " + ", ".join(f"{k} {v * 1000:.0f}" for k, v in times.items()))
    print(
        f"  numpy vs Skia stroke: {(diff > 16).sum()} pixels > 16 levels, "
        f"{(diff > 64).sum()} > 64, max {diff.max()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", default="world,dense")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    style = postgis_lines.STYLE
    colour = int(str(style["stroke"])[1:], 16) | 0xFF000000
    stroke = skia.Paint(AntiAlias=True, Color=colour, Style=skia.Paint.kStroke_Style)
    stroke.setStrokeWidth(float(style["stroke_width"]))  # type: ignore[arg-type]
    stroke.setStrokeJoin(skia.Paint.kBevel_Join)
    stroke.setStrokeCap(skia.Paint.kSquare_Cap)
    fill = skia.Paint(AntiAlias=True, Color=colour)
    for case in args.cases.split(","):
        measure(case, args.repeat, stroke, fill)


if __name__ == "__main__":
    main()
