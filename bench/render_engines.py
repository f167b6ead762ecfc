"""Render engines on this machine: 10,000 polygons (and 10,000 wide lines), 1024x768 RGBA.

    python bench/render_engines.py [--rounds 7] [--save DIR]

Candidates run round-robin in one process (order rotated each round); medians of wall and CPU
time are printed with the ratio to the fastest of the same run. Input: shapely geometries in
EPSG:3857; every candidate includes its own conversion from them, and output is read back as
straight-alpha RGBA. "ogcserve" is the real `Renderer.render`; the others are what it could be
built on (aggdraw: AGG; mapnik: AGG with its own feature model). Used for
docs/decisions/0003-rendering-engine.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from PIL import Image

from ogcserve.rendering import MapView, Renderer, VectorLayerData, encode

W, H = 1024, 768
VIEW = MapView((0.0, 0.0, W * 100.0, H * 100.0), "EPSG:3857", W, H)  # 100 m per pixel
FILL, STROKE = (166, 206, 227, 255), (31, 120, 180, 255)


def polygons(n: int, radius_px: float, vertices: int = 20, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.uniform((0, 0), (W, H), size=(n, 2)) * 100
    angles = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
    radii = radius_px * 100 * rng.uniform(0.7, 1.3, size=(n, vertices))
    xs = centres[:, :1] + radii * np.cos(angles)
    ys = centres[:, 1:] + radii * np.sin(angles)
    rings = np.stack([xs, ys], axis=-1)
    rings = np.concatenate([rings, rings[:, :1]], axis=1)
    return shapely.polygons(rings)


def lines(n: int, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    start = rng.uniform((0, 0), (W, H), size=(n, 1, 2))
    steps = rng.normal(0, 8, size=(n, 9, 2))
    coords = np.concatenate([start, start + np.cumsum(steps, axis=1)], axis=1) * 100
    return shapely.linestrings(coords)


def pixels(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates and per-geometry offsets (what non-ogcserve candidates start from)."""
    coords = shapely.get_coordinates(geoms) / 100
    coords[:, 1] = H - coords[:, 1]
    counts = shapely.get_num_coordinates(geoms)
    return coords, np.concatenate([[0], np.cumsum(counts)])


# --- candidates ---------------------------------------------------------------------------


def ogcserve_polygons(geoms: np.ndarray) -> Callable[[], np.ndarray]:
    renderer = Renderer()
    style = {"fill": "#a6cee3", "stroke": "#1f78b4", "stroke_width": 1}
    layer = VectorLayerData("p", "P", style, "EPSG:3857", geoms, {}, "POLYGON")
    return lambda: renderer.render(VIEW, [layer])


def ogcserve_lines(geoms: np.ndarray, width: float) -> Callable[[], np.ndarray]:
    renderer = Renderer()
    style = {"stroke": "#1f78b4", "stroke_width": width}
    layer = VectorLayerData("l", "L", style, "EPSG:3857", geoms, {}, "LINESTRING")
    return lambda: renderer.render(VIEW, [layer])


def _unpremultiply(buffer: bytes) -> np.ndarray:
    return np.asarray(Image.frombuffer("RGBa", (W, H), buffer, "raw", "RGBa", 0, 1).convert("RGBA"))


def aggdraw_polygons(geoms: np.ndarray) -> Callable[[], np.ndarray]:
    import aggdraw

    def run() -> np.ndarray:
        coords, offsets = pixels(geoms)
        flat = coords.ravel()
        canvas = aggdraw.Draw("RGBA", (W, H), (0, 0, 0, 0))
        brush, pen = aggdraw.Brush(FILL[:3]), aggdraw.Pen(STROKE[:3], 1)
        for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True):
            canvas.polygon(flat[2 * a : 2 * b], pen, brush)
        canvas.flush()
        return _unpremultiply(canvas.tobytes())

    return run


def aggdraw_lines(geoms: np.ndarray, width: float) -> Callable[[], np.ndarray]:
    import aggdraw

    def run() -> np.ndarray:
        coords, offsets = pixels(geoms)
        flat = coords.ravel()
        canvas = aggdraw.Draw("RGBA", (W, H), (0, 0, 0, 0))
        pen = aggdraw.Pen(STROKE[:3], width)
        for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True):
            canvas.line(flat[2 * a : 2 * b], pen)
        canvas.flush()
        return _unpremultiply(canvas.tobytes())

    return run


def mapnik_map(geoms: np.ndarray, symbolizer: str) -> Callable[[], np.ndarray]:
    """mapnik render only: its datasource is built once, outside the timing (as render_bench)."""
    import mapnik

    features = ",".join(
        f'{{"type":"Feature","properties":{{}},"geometry":{g}}}' for g in shapely.to_geojson(geoms)
    )
    inline = f'{{"type":"FeatureCollection","features":[{features}]}}'
    xml = f"""<Map srs="epsg:3857" background-color="transparent">
      <Style name="s"><Rule>{symbolizer}</Rule></Style>
      <Layer name="l" srs="epsg:3857"><StyleName>s</StyleName>
        <Datasource><Parameter name="type">geojson</Parameter>
        <Parameter name="inline"><![CDATA[{inline}]]></Parameter></Datasource>
      </Layer></Map>"""
    m = mapnik.Map(W, H)
    mapnik.load_map_from_string(m, xml)
    m.zoom_to_box(mapnik.Box2d(*VIEW.bbox))

    def run() -> np.ndarray:
        image = mapnik.Image(W, H)
        mapnik.render(m, image)
        image.demultiply()
        return np.frombuffer(image.to_string(), np.uint8).reshape(H, W, 4)

    return run


# --- harness ------------------------------------------------------------------------------


def measure(candidates: dict[str, Callable[[], Any]], rounds: int) -> list[dict[str, Any]]:
    names = list(candidates)
    for name in names:  # warm up (imports, caches, first-call costs)
        candidates[name]()
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            gc.collect()
            w0, c0 = time.perf_counter(), time.process_time()
            candidates[name]()
            wall[name].append((time.perf_counter() - w0) * 1e3)
            cpu[name].append((time.process_time() - c0) * 1e3)
    rows = [
        {"name": n, "wall_ms": statistics.median(wall[n]), "cpu_ms": statistics.median(cpu[n])}
        for n in names
    ]
    best = min(r["wall_ms"] for r in rows)
    for row in sorted(rows, key=lambda r: r["wall_ms"]):
        row["x_fastest"] = row["wall_ms"] / best
    return sorted(rows, key=lambda r: r["wall_ms"])


def table(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n### {title}\n\n| candidate | wall ms | x fastest | CPU ms |\n|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['name']} | {r['wall_ms']:.1f} | {r['x_fastest']:.2f} | {r['cpu_ms']:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--save", type=Path, help="write each candidate's image here")
    parser.add_argument("--json", type=Path, help="write the results as JSON")
    args = parser.parse_args()

    polys = polygons(10_000, 5.0)
    wide = lines(10_000)
    suites = {
        "10,000 polygons, fill + 1 px outline": {
            "ogcserve Renderer (skia)": ogcserve_polygons(polys),
            "aggdraw per feature": aggdraw_polygons(polys),
            "mapnik render (inline GeoJSON datasource)": mapnik_map(
                polys,
                '<PolygonSymbolizer fill="#a6cee3"/>'
                '<LineSymbolizer stroke="#1f78b4" stroke-width="1"/>',
            ),
        },
        "10,000 lines, 10 vertices, 1.5 px": {
            "ogcserve Renderer (skia, round join/cap)": ogcserve_lines(wide, 1.5),
            "aggdraw per feature (no join/cap/dash control)": aggdraw_lines(wide, 1.5),
            "mapnik render (round join/cap)": mapnik_map(
                wide,
                '<LineSymbolizer stroke="#1f78b4" stroke-width="1.5" '
                'stroke-linejoin="round" stroke-linecap="round"/>',
            ),
        },
    }
    results: dict[str, Any] = {}
    for title, candidates in suites.items():
        rows = measure(candidates, args.rounds)
        table(title, rows)
        results[title] = rows
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            for name, run in candidates.items():
                slug = "".join(c if c.isalnum() else "_" for c in f"{title[:12]}_{name}")[:60]
                (args.save / f"{slug}.png").write_bytes(
                    encode(run(), "image/png", transparent=True, bgcolor=(255, 255, 255))
                )

    image = suites["10,000 polygons, fill + 1 px outline"]["ogcserve Renderer (skia)"]()
    encoders = {
        mime: (lambda m=mime: encode(image, m, transparent=True, bgcolor=(255, 255, 255)))
        for mime in ("image/png", "image/png; mode=8bit", "image/jpeg", "image/webp")
    }
    rows = measure(encoders, args.rounds)
    table("encode the 10,000-polygon map", rows)
    results["encode"] = rows
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
