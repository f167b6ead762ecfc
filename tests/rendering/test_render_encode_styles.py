"""Encoders and style validation."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ogcserve.rendering import MIME_TYPES, encode, validate_style
from ogcserve.rendering.encode import normalize_mime


def sample() -> np.ndarray:
    image = np.zeros((30, 40, 4), dtype=np.uint8)
    image[:, :20] = (255, 0, 0, 255)
    image[:, 20:30] = (0, 0, 255, 128)
    return image


def decode(data: bytes) -> Image.Image:
    picture = Image.open(io.BytesIO(data))
    picture.load()
    return picture


@pytest.mark.parametrize("transparent, mode", [(True, "RGBA"), (False, "RGB")])
def test_png_keeps_alpha_only_when_transparent(transparent: bool, mode: str) -> None:
    picture = decode(encode(sample(), "image/png", transparent=transparent, bgcolor=(0, 255, 0)))
    assert picture.format == "PNG" and picture.mode == mode and picture.size == (40, 30)
    pixels = np.asarray(picture)
    if transparent:
        assert (pixels == sample()).all()
    else:
        assert tuple(pixels[0, 0]) == (255, 0, 0)
        assert tuple(pixels[0, 25]) == (0, 127, 128)  # half blue over green
        assert tuple(pixels[0, 35]) == (0, 255, 0)


def test_png_8bit_is_a_palette_image_with_transparency() -> None:
    picture = decode(encode(sample(), "image/png; mode=8bit", transparent=True, bgcolor=(0, 0, 0)))
    assert picture.mode == "P" and picture.size == (40, 30)
    rgba = np.asarray(picture.convert("RGBA"))
    assert tuple(rgba[0, 0]) == (255, 0, 0, 255)
    assert rgba[0, 35, 3] == 0


def test_jpeg_never_has_alpha() -> None:
    picture = decode(encode(sample(), "image/jpeg", transparent=True, bgcolor=(255, 255, 255)))
    assert picture.format == "JPEG" and picture.mode == "RGB" and picture.size == (40, 30)
    assert np.abs(np.asarray(picture)[5, 35].astype(int) - 255).max() < 8


@pytest.mark.parametrize("transparent, mode", [(True, "RGBA"), (False, "RGB")])
def test_webp_decodes(transparent: bool, mode: str) -> None:
    picture = decode(encode(sample(), "image/webp", transparent=transparent, bgcolor=(0, 0, 0)))
    assert picture.format == "WEBP" and picture.mode == mode and picture.size == (40, 30)


def test_formats_offered_and_their_spellings() -> None:
    assert set(MIME_TYPES) == {"image/png", "image/png; mode=8bit", "image/jpeg", "image/webp"}
    assert normalize_mime("image/png;mode=8bit") == "image/png; mode=8bit"
    assert normalize_mime("IMAGE/JPEG") == "image/jpeg"
    with pytest.raises(ValueError, match="unsupported image format"):
        encode(sample(), "image/gif", transparent=True, bgcolor=(0, 0, 0))


@pytest.mark.parametrize(
    "style, gtype",
    [
        ({"fill": "#cfe3c4", "stroke": "#5b7f52", "stroke_width": 0.6}, "MULTIPOLYGON"),
        (
            {
                "marker": "circle",
                "size": 6,
                "fill": "#e8553e",
                "stroke": "#ffffff",
                "stroke_width": 1,
            },
            "POINT",
        ),
        ({"fill": "#fdd49e", "stroke": "#d7301f", "stroke_width": 1.2, "opacity": 0.8}, "POLYGON"),
        ({"ramp": [[141, "#1a9850"], [547, "#ffffff"]]}, "RASTER"),
        (
            {
                "stroke": "#333",
                "dash": [4, 2],
                "line_cap": "butt",
                "line_join": "miter",
                "label": {"field": "name", "placement": "line"},
            },
            "LINESTRING",
        ),
        (
            {
                "rules": [
                    {
                        "filter": "pop > 5",
                        "min_scale": 1000,
                        "max_scale": 50000,
                        "fill": "red",
                        "label": "Big",
                    },
                    {"else": True, "fill": "blue"},
                ]
            },
            None,
        ),
    ],
)
def test_valid_styles_pass(style: dict[str, Any], gtype: str | None) -> None:
    validate_style(style, gtype)


@pytest.mark.parametrize(
    "style, gtype, message",
    [
        ({"fill": "#zzzzzz"}, "POLYGON", "style.fill: '#zzzzzz' is not a colour"),
        ({"fil": "#fff"}, "POLYGON", "fil"),
        ({"fill": "red", "ramp": [[1, "#000"]]}, "RASTER", "a ramp style has no symbol keys"),
        ({"categorized": {"field": "a", "categories": []}}, "POLYGON", "categories"),
        (
            {"graduated": {"field": "a", "classes": [{"min": 5, "max": 1, "fill": "red"}]}},
            "POLYGON",
            "must be below max",
        ),
        ({"rules": [{"filter": "pop >>> 3", "fill": "red"}]}, "POLYGON", "rule filter"),
        ({"rules": [{"min_scale": 10, "max_scale": 5, "fill": "red"}]}, "POLYGON", "min_scale"),
        ({"ramp": [[10, "#000"], [5, "#fff"]]}, "RASTER", "ramp values must increase"),
        ({"ramp": [[10, "#000"]]}, "POLYGON", "for raster layers"),
        ({"fill": "red"}, "RASTER", "raster layer takes a 'ramp'"),
        ({"marker": "hexagon"}, "POINT", "marker.shape"),
        ({"marker": "circle"}, "POLYGON", "'marker' is for point layers"),
        ({"fill": "red"}, "POINT", "needs 'marker'"),
        ({"label": {"size": 10}}, "POINT", "exactly one of 'field' or 'expression'"),
        ({"label": {"expression": "{a.b}"}}, "POINT", "plain {field} placeholders"),
        ({"stroke": "red", "dash": [1]}, "LINESTRING", "dash"),
        ({"ramp": [[1, "#000"]], "rules": []}, None, "one kind"),
    ],
)
def test_invalid_styles_say_what_is_wrong(
    style: dict[str, Any], gtype: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("{", r"\{")):
        validate_style(style, gtype)
