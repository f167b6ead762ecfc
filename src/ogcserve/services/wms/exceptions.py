"""WMS exception codes (WMS 1.3.0 Annex A.4 / 1.1.1 Annex A.3) and the EXCEPTIONS=INIMAGE/BLANK
images.

The XML reports themselves are the shared ServiceExceptionReport
(`ogcserve/exception_reports.py`).
"""

from __future__ import annotations

import textwrap

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from ogcserve.errors import InvalidParameterValueError, ServiceError


class StyleNotDefinedError(ServiceError):
    """STYLES names a style the layer does not have."""

    code = "StyleNotDefined"


class LayerNotQueryableError(ServiceError):
    """QUERY_LAYERS names a layer that is not queryable."""

    code = "LayerNotQueryable"


class InvalidPointError(ServiceError):
    """I/J (X/Y in 1.1.1) lie outside the map."""

    code = "InvalidPoint"


class InvalidDimensionValueError(InvalidParameterValueError):
    """WIDTH or HEIGHT out of range (reported as InvalidParameterValue, as MapServer does)."""


class ImageReportedError(ServiceError):
    """An error the client asked to receive as an image (EXCEPTIONS=INIMAGE or BLANK).

    WMS 1.3.0 §7.3.3.11 and 1.1.1 §7.2.3 (EXCEPTIONS) say only that the error is "returned as an
    image"; a client that asks for that (a tiled map, an <img> tag, a tile cache seeding) wants
    something it can display, so the image goes out with 200, as MapServer and GeoServer send
    it. The original error is kept for the image text and the logs.
    """

    status = 200

    def __init__(self, original: ServiceError) -> None:
        super().__init__(original.message, locator=original.locator)
        self.original = original
        self.code = original.code  # type: ignore[misc]


def error_image(
    error: ServiceError,
    width: int,
    height: int,
    background: tuple[int, int, int, int],
    *,
    with_text: bool,
) -> npt.NDArray[np.uint8]:
    """An RGBA image of the map's size: blank, or with the error drawn in it (INIMAGE)."""
    image = Image.new("RGBA", (width, height), background)
    if with_text:
        draw = ImageDraw.Draw(image)
        font = ImageFont.load_default()
        columns = max(8, width // 7)
        lines = textwrap.wrap(f"{error.code}: {error.message}", columns)[: max(1, height // 14)]
        draw.multiline_text((4, 4), "\n".join(lines), fill=(200, 0, 0, 255), font=font)
    return np.asarray(image)
