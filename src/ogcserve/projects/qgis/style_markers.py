"""QGIS simple marker shapes as the style model's five shapes (circle, square, triangle, star,
cross), with the size and rotation that draw them alike, or the nearest one (named in a warning).
"""

from __future__ import annotations

import math
from typing import Protocol

# QGIS shape name: (shape, size factor, rotation, filled, exact). QGIS draws its shapes inside a
# square of the marker's size; sizes here are the style model's (a square's side, a circle's or
# star's diameter, an equilateral triangle's circumscribed diameter).
_SHAPES: dict[str, tuple[str, float, float, bool, bool]] = {
    "circle": ("circle", 1.0, 0.0, True, True),
    "square": ("square", 1.0, 0.0, True, True),
    "diamond": ("square", 1 / math.sqrt(2), 45.0, True, True),
    "star": ("star", 1.0, 0.0, True, True),
    "equilateral_triangle": ("triangle", 1.0, 0.0, True, True),
    # QGIS' triangle is as high as wide; the equilateral one of the same area stands for it.
    "triangle": ("triangle", math.sqrt(0.5 / (3 * math.sqrt(3) / 16)), 0.0, True, False),
    "cross_fill": ("cross", 1.0, 0.0, True, False),
    # Shapes made of lines only are drawn filled in the outline colour.
    "cross": ("cross", 1.0, 0.0, False, False),
    "cross2": ("cross", 1.0, 45.0, False, False),
    "x": ("cross", 1.0, 45.0, False, False),
    "pentagon": ("circle", 0.95, 0.0, True, False),
    "hexagon": ("circle", 0.95, 0.0, True, False),
    "octagon": ("circle", 1.0, 0.0, True, False),
    "decagon": ("circle", 1.0, 0.0, True, False),
    "rounded_square": ("square", 1.0, 0.0, True, False),
    "square_with_corners": ("square", 1.0, 0.0, True, False),
}


class Warner(Protocol):
    """Where a warning goes."""

    def warn(self, where: str, text: str) -> None: ...


def marker_shape(
    name: str, size: float, warner: Warner, where: str
) -> tuple[str, float, float, bool]:
    """(shape, size in pixels, extra rotation in degrees, filled) for a QGIS marker shape."""
    shape, factor, rotation, filled, exact = _SHAPES.get(name, ("circle", 1.0, 0.0, True, False))
    if not exact:
        how = "" if filled else ", filled in its outline colour"
        warner.warn(where, f"marker shape {name!r} is drawn as a {shape}{how}")
    return shape, size * factor, rotation, filled
