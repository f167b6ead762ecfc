"""The pictures of docs/styles.md: one map per style kind, from the demo data.

    python tests/rendering/style_gallery.py     # rewrites docs/images/styles/*.png

Each example's style is the YAML block shown in docs/styles.md; test_style_gallery.py checks
that every example validates and renders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import yaml

from ogcserve.rendering import MapView, RasterLayerData, Renderer, VectorLayerData, encode

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "src" / "ogcserve" / "demo"
OUT = ROOT / "docs" / "images" / "styles"
SEA = (214, 230, 242)

EUROPE = MapView((-1_300_000, 4_200_000, 3_700_000, 7_700_000), "EPSG:3857", 500, 350)
WORLD = MapView((-17_000_000, -7_000_000, 19_000_000, 12_000_000), "EPSG:3857", 600, 316)
LUXEMBOURG = MapView((5.7, 49.42, 6.56, 50.2), "EPSG:4326", 300, 272)
BOX = MapView((0, 0, 500, 160), "EPSG:3857", 500, 160)


@dataclass(frozen=True)
class Example:
    """A style from the docs, the data it is shown on and the view."""

    name: str
    style_yaml: str
    data: str  # countries, cities, markers, lines, elevation
    view: MapView
    under: tuple[str, ...] = field(default=())  # countries drawn plain beneath

    @property
    def style(self) -> dict[str, Any]:
        loaded: dict[str, Any] = yaml.safe_load(self.style_yaml)
        return loaded


EXAMPLES = [
    Example(
        "single",
        """
fill: "#cfe3c4"
stroke: "#5b7f52"
stroke_width: 0.6
""",
        "countries",
        EUROPE,
    ),
    Example(
        "categorized",
        """
categorized:
  field: continent
  categories:
    - {value: Africa, fill: "#fdb462", label: Africa}
    - {value: Asia, fill: "#fb8072"}
    - {value: Europe, fill: "#80b1d3"}
    - {value: North America, fill: "#b3de69"}
    - {value: South America, fill: "#bebada"}
    - {value: Oceania, fill: "#ffffb3"}
  default: {fill: "#d9d9d9"}
stroke: "#ffffff"
""",
        "countries",
        WORLD,
    ),
    Example(
        "graduated",
        """
graduated:
  field: pop_est
  classes:
    - {min: 0, max: 5000000, fill: "#fee5d9", label: "< 5 M"}
    - {min: 5000000, max: 20000000, fill: "#fcae91", label: "5 - 20 M"}
    - {min: 20000000, max: 100000000, fill: "#fb6a4a", label: "20 - 100 M"}
    - {min: 100000000, max: 2000000000, fill: "#cb181d", label: "> 100 M"}
""",
        "countries",
        WORLD,
    ),
    Example(
        "rules",
        """
rules:
  - filter: "gdp_md_est > 1000000"
    fill: "#238b45"
    stroke: "#00441b"
    stroke_width: 1.5
    label: Economies over 1 trillion USD
  - filter: "continent = 'Africa'"
    fill: "#fdae6b"
    max_scale: 500000000
  - else: true
    fill: "#e5e5e5"
    stroke: "#969696"
    stroke_width: 0.5
""",
        "countries",
        WORLD,
    ),
    Example(
        "markers",
        """
rules:
  - {filter: "shape = 'circle'", marker: {shape: circle, size: 18}, fill: "#e41a1c", stroke: "#ffffff", stroke_width: 1.5}
  - {filter: "shape = 'square'", marker: {shape: square, size: 16}, fill: "#377eb8", stroke: "#000000"}
  - {filter: "shape = 'triangle'", marker: {shape: triangle, size: 20}, fill: "#4daf4a", stroke: "#000000"}
  - {filter: "shape = 'star'", marker: {shape: star, size: 22}, fill: "#ffd92f", stroke: "#b15928"}
  - {filter: "shape = 'cross'", marker: {shape: cross, size: 18, rotation_field: angle}, fill: "#984ea3"}
label: {field: shape, size: 12, placement: point}
""",
        "markers",
        BOX,
    ),
    Example(
        "lines",
        """
categorized:
  field: kind
  categories:
    - {value: road, stroke: "#e31a1c", stroke_width: 6, line_join: round, line_cap: round}
    - {value: path, stroke: "#6a3d9a", stroke_width: 2, dash: [3, 2], line_cap: butt}
    - {value: border, stroke: "#1f78b4", stroke_width: 3, line_join: miter, line_cap: square}
    - {value: hairline, stroke: "#000000", stroke_width: 0.5}
label: {field: kind, size: 12, placement: line, halo: {color: "#ffffff", width: 2}}
""",
        "lines",
        BOX,
    ),
    Example(
        "labels",
        """
marker: circle
size: 6
fill: "#e8553e"
stroke: "#ffffff"
stroke_width: 1
label:
  field: name
  size: 11
  color: "#222222"
  halo: {color: "#ffffff", width: 1.5}
""",
        "cities",
        EUROPE,
        under=("countries",),
    ),
    Example(
        "ramp",
        """
ramp:
  - [141, "#1a9850"]
  - [250, "#a6d96a"]
  - [350, "#fee08b"]
  - [450, "#d9a066"]
  - [547, "#ffffff"]
opacity: 1
""",
        "elevation",
        LUXEMBOURG,
    ),
]


def _gpkg(table: str) -> tuple[np.ndarray, dict[str, list[Any]]]:
    """All features of a demo GeoPackage table (EPSG:4326), read with pyogrio."""
    import pyogrio

    meta, _, wkb, fields = pyogrio.raw.read(DEMO / "natural_earth.gpkg", layer=table)
    columns = {n: list(values) for n, values in zip(meta["fields"], fields, strict=True)}
    return shapely.from_wkb(wkb), columns


def layers_for(example: Example) -> list[Any]:
    """The layers an example draws, bottom first."""
    out: list[Any] = []
    for below in example.under:
        geoms, columns = _gpkg(below)
        style = {"fill": "#f2efe9", "stroke": "#b9b4a8", "stroke_width": 0.6}
        out.append(VectorLayerData(below, below, style, "EPSG:4326", geoms, columns, "POLYGON"))
    style = example.style
    if example.data in ("countries", "cities"):
        geoms, columns = _gpkg(example.data)
        gtype = "POINT" if example.data == "cities" else "MULTIPOLYGON"
        out.append(
            VectorLayerData(example.name, example.name, style, "EPSG:4326", geoms, columns, gtype)
        )
    elif example.data == "markers":
        shapes = ["circle", "square", "triangle", "star", "cross"]
        geoms = np.array([shapely.Point(60 + 95 * i, 95) for i in range(5)], dtype=object)
        out.append(
            VectorLayerData(
                "markers",
                "Markers",
                style,
                "EPSG:3857",
                geoms,
                {"shape": shapes, "angle": [0, 0, 0, 0, 45]},
                "POINT",
            )
        )
    elif example.data == "lines":
        xs = np.linspace(20, 480, 40)
        geoms = np.array(
            [
                shapely.LineString(np.column_stack([xs, 135 + 10 * np.sin(xs / 40)])),
                shapely.LineString(np.column_stack([xs, 95 + 10 * np.sin(xs / 40 + 1)])),
                shapely.LineString(
                    [(20, 25), (120, 60), (220, 25), (320, 60), (420, 25), (480, 45)]
                ),
                shapely.LineString(np.column_stack([xs, 55 + 6 * np.cos(xs / 25)])),
            ],
            dtype=object,
        )
        out.append(
            VectorLayerData(
                "lines",
                "Lines",
                style,
                "EPSG:3857",
                geoms,
                {"kind": ["road", "path", "border", "hairline"]},
                "LINESTRING",
            )
        )
    elif example.data == "elevation":
        import rasterio

        with rasterio.open(DEMO / "elevation.tif") as src:
            # The demo raster is already in EPSG:4326; resample it onto the view grid.
            from rasterio.warp import Resampling, reproject

            view = example.view
            grid = np.full((1, view.height, view.width), src.nodata, dtype=np.float64)
            reproject(
                src.read(1).astype(np.float64),
                grid[0],
                src_transform=src.transform,
                src_crs=src.crs,
                src_nodata=src.nodata,
                dst_transform=_grid_transform(view),
                dst_crs=view.crs,
                dst_nodata=src.nodata,
                resampling=Resampling.bilinear,
            )
        array = np.ma.masked_equal(grid, src.nodata)
        out.append(RasterLayerData("elevation", "Elevation", style, array))
    return out


def _grid_transform(view: MapView) -> Any:
    from affine import Affine

    minx, miny, maxx, maxy = view.bbox
    return Affine((maxx - minx) / view.width, 0, minx, 0, -(maxy - miny) / view.height, maxy)


def render(example: Example, renderer: Renderer) -> np.ndarray:
    """The example's map (straight RGBA)."""
    return renderer.render(example.view, layers_for(example))


def legend_of(example: Example, renderer: Renderer) -> np.ndarray:
    """The example's legend (straight RGBA)."""
    gtype = {
        "cities": "POINT",
        "markers": "POINT",
        "lines": "LINESTRING",
        "elevation": "RASTER",
    }.get(example.data, "MULTIPOLYGON")
    return renderer.legend(example.name.capitalize(), example.style, gtype)


def main() -> None:
    """Write docs/images/styles/<name>.png and <name>_legend.png."""
    OUT.mkdir(parents=True, exist_ok=True)
    renderer = Renderer()
    for example in EXAMPLES:
        image = render(example, renderer)
        sea = SEA if example.data in ("countries", "cities") else (255, 255, 255)
        (OUT / f"{example.name}.png").write_bytes(
            encode(image, "image/png", transparent=False, bgcolor=sea)
        )
        (OUT / f"{example.name}_legend.png").write_bytes(
            encode(
                legend_of(example, renderer),
                "image/png",
                transparent=False,
                bgcolor=(255, 255, 255),
            )
        )
        print(f"wrote {example.name}.png, {example.name}_legend.png")


if __name__ == "__main__":
    main()
