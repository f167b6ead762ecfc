"""`pixel_size`: the smallest length a map's pixel spans in another CRS."""

from __future__ import annotations

import math

import pytest
from pyproj import Transformer

from ogcserve.geo import pixel_size


def test_in_its_own_crs_a_pixel_is_its_smaller_side() -> None:
    assert pixel_size((0, 0, 100, 50), "EPSG:3857", 100, 100, "EPSG:3857") == 0.5
    assert pixel_size((0, 0, 100, 100), "EPSG:3857", 50, 100, "EPSG:3857") == 1.0


@pytest.mark.parametrize(
    ("bbox", "crs", "target"),
    [
        ((-20037508, -20037508, 20037508, 20037508), "EPSG:3857", "EPSG:4326"),
        ((-180.0, -80.0, 180.0, 80.0), "EPSG:4326", "EPSG:3857"),
        ((1000000.0, 6000000.0, 1010000.0, 6010000.0), "EPSG:3857", "EPSG:25832"),
    ],
)
def test_across_crss_no_pixel_anywhere_is_shorter(
    bbox: tuple[float, float, float, float], crs: str, target: str
) -> None:
    size = pixel_size(bbox, crs, 256, 256, target)
    assert size > 0
    # One pixel's steps at many places of the view, in every direction, all span more.
    move = Transformer.from_crs(crs, target, always_xy=True).transform
    pw, ph = (bbox[2] - bbox[0]) / 256, (bbox[3] - bbox[1]) / 256
    for i in range(0, 256, 7):
        for j in range(0, 256, 7):
            x, y = bbox[0] + (i + 0.5) * pw, bbox[1] + (j + 0.5) * ph
            x0, y0 = move(x, y)
            for k in range(8):
                a = k * math.pi / 8
                x1, y1 = move(x + math.cos(a) * pw, y + math.sin(a) * ph)
                assert math.hypot(x1 - x0, y1 - y0) >= size


def test_unknown_when_no_transformation_is_known() -> None:
    assert pixel_size((0, 0, 10, 10), "EPSG:3857", 10, 10, "EPSG:999999") == 0.0
