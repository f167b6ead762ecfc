"""Stroking lines with AGG (matplotlib's `RendererAgg`) instead of Skia, where it draws the
same strokes: Skia's fill of its stroke outlines is most of a map of many lines, and AGG's
scanline rasteriser strokes the same lines in ~half the CPU (docs/decisions/0009-agg-strokes.md).

Lines are drawn into a straight-RGBA buffer the size of the view, 1,000 lines a compound path;
each run of consecutive AGG-drawn strokes is composited onto the Skia canvas once, before
anything Skia draws next (painter's order stays exact; a layer's opacity applies to the image
as to any draw). Within a path AGG fills the union of its lines' strokes, where Skia, drawing
each line apart, adds up the anti-aliased edges of two lines that meet: hence only opaque
strokes (a translucent one darkens where lines cross, as in QGIS), and no dashes, miter joins
(their spikes differ at sharp joins: twice the pixels off by > 64 levels as bevel joins) or
widths up to 1 px (Skia's hairlines) here: those stay Skia's.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt
import skia  # type: ignore[import-not-found,unused-ignore]  # no stubs; see ADR 0003

from .styles import LineCap, LineJoin, Symbol

if TYPE_CHECKING:
    from matplotlib.backends.backend_agg import RendererAgg

# Lines per compound path: 100, 1,000 and 10,000 cost alike (the whole line layer, 0.79 M
# vertices); one path per line costs 3x more in Python.
_CHUNK = 1000
_CAPS: dict[LineCap, Literal["butt", "projecting", "round"]] = {
    LineCap.BUTT: "butt",
    LineCap.ROUND: "round",
    LineCap.SQUARE: "projecting",
}
_JOINS: dict[LineJoin, Literal["bevel", "round"]] = {
    LineJoin.ROUND: "round",
    LineJoin.BEVEL: "bevel",
}
_MOVETO, _LINETO = 1, 2  # matplotlib.path.Path's codes


def strokes_with_agg(symbol: Symbol) -> bool:
    """Whether AGG strokes this symbol's lines: an opaque stroke wider than 1 px, undashed,
    with bevel or round joins."""
    return (
        symbol.stroke is not None
        and symbol.stroke_width > 1
        and symbol.dash is None
        and symbol.line_join in _JOINS
        and round(symbol.stroke[3] * symbol.opacity) == 255
    )


class AggStrokes:
    """An AGG buffer over the view that collects strokes until `flush` draws them on a canvas."""

    def __init__(self, width: int, height: int) -> None:
        self._width, self._height = width, height
        self._renderer: RendererAgg | None = None
        self._box = [np.inf, np.inf, -np.inf, -np.inf]

    def stroke(
        self, points: npt.NDArray[np.float32], starts: npt.NDArray[np.intp], symbol: Symbol
    ) -> None:
        """Stroke the lines of `points` (pixels), each starting at one of `starts`."""
        if len(points) == 0:
            return
        # Imported on first use, not with the renderer: matplotlib's backends load its font
        # list (and write its cache under MPLCONFIGDIR) when imported, ~0.6 s once a process.
        from matplotlib.backend_bases import GraphicsContextBase
        from matplotlib.backends.backend_agg import RendererAgg
        from matplotlib.path import Path
        from matplotlib.transforms import Affine2D

        # matplotlib's AGG has y up: this transform undoes its flip (pixels stay y down).
        transform = Affine2D.from_values(1, 0, 0, -1, 0, self._height)
        if self._renderer is None:
            # 72 dpi: 1 pt = 1 px
            self._renderer = RendererAgg(self._width, self._height, 72)  # type: ignore[no-untyped-call]
        assert symbol.stroke is not None
        gc = GraphicsContextBase()
        gc.set_linewidth(symbol.stroke_width)
        gc.set_joinstyle(_JOINS[symbol.line_join])
        gc.set_capstyle(_CAPS[symbol.line_cap])
        r, g, b = (v / 255 for v in symbol.stroke[:3])
        gc.set_foreground((r, g, b))
        gc.set_antialiased(True)
        gc.set_snap(False)  # no half-pixel shift of axis-aligned paths
        codes = np.full(len(points), _LINETO, dtype=np.uint8)
        codes[starts] = _MOVETO
        cuts = [*starts[::_CHUNK].tolist(), len(points)]
        vertices = points.astype(np.float64)
        for start, end in itertools.pairwise(cuts):
            path = Path(vertices[start:end], codes[start:end])
            path.should_simplify = False  # thinned already (thinning.py)
            self._renderer.draw_path(gc, path, transform)  # type: ignore[no-untyped-call]
        reach = symbol.stroke_width  # a square cap or a bevel reaches < w from a vertex
        # Column by column: numpy reduces an (n, 2) array along axis 0 ~30x slower (34 against
        # 0.9 ms for 0.79 M points).
        x, y = points[:, 0], points[:, 1]
        box = self._box
        box[:2] = [min(box[0], float(x.min()) - reach), min(box[1], float(y.min()) - reach)]
        box[2:] = [max(box[2], float(x.max()) + reach), max(box[3], float(y.max()) + reach)]
        gc.restore()

    def flush(self, canvas: skia.Canvas) -> None:
        """Draw what was stroked since the last flush onto `canvas` (source over), and start
        afresh."""
        if self._renderer is None:
            return
        left, top = max(0, int(self._box[0])), max(0, int(self._box[1]))
        right = min(self._width, int(np.ceil(self._box[2])) + 1)
        bottom = min(self._height, int(np.ceil(self._box[3])) + 1)
        if left < right and top < bottom:
            # AGG's buffer holds straight (not premultiplied) RGBA.
            buffer = self._renderer.buffer_rgba()  # type: ignore[no-untyped-call]
            pixels = np.asarray(buffer)[top:bottom, left:right]
            image = skia.Image.fromarray(
                np.ascontiguousarray(pixels),
                colorType=skia.kRGBA_8888_ColorType,
                alphaType=skia.kUnpremul_AlphaType,
            )
            canvas.drawImage(image, left, top)
        self._renderer = None
        self._box = [np.inf, np.inf, -np.inf, -np.inf]
