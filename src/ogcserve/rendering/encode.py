"""Image encoders for map output: PNG (RGBA/RGB), 8-bit palette PNG, JPEG and WebP.

Choices measured in render_bench §4: libvips PNG at compression 1 (8-10x faster than Pillow's
default, and smaller than Pillow at level 1); Pillow FASTOCTREE quantising for 8-bit PNG;
Pillow (libjpeg-turbo, libwebp) for JPEG and WebP.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

PNG = "image/png"
PNG8 = "image/png; mode=8bit"
JPEG = "image/jpeg"
WEBP = "image/webp"

MIME_TYPES: tuple[str, ...] = (PNG, PNG8, JPEG, WEBP)
"""The output formats offered, as advertised in capabilities (WMS GetMap FORMAT)."""

_ALIASES = {
    "image/png8": PNG8,
    "png": PNG,
    "png8": PNG8,
    "jpeg": JPEG,
    "jpg": JPEG,
    "image/jpg": JPEG,
    "webp": WEBP,
}

JPEG_QUALITY = 85
WEBP_QUALITY = 85


def normalize_mime(mime: str) -> str:
    """The canonical form of a format name ("image/png;mode=8bit" -> "image/png; mode=8bit").

    Raises `ValueError` for a format that is not offered.
    """
    text = mime.strip().lower()
    parts = [p.strip() for p in text.split(";") if p.strip()]
    canonical = "; ".join(parts)
    canonical = _ALIASES.get(canonical, canonical)
    if canonical not in MIME_TYPES:
        raise ValueError(f"unsupported image format {mime!r} (offered: {', '.join(MIME_TYPES)})")
    return canonical


def encode(
    image: npt.NDArray[np.uint8],
    mime: str,
    *,
    transparent: bool,
    bgcolor: tuple[int, int, int] = (255, 255, 255),
) -> bytes:
    """Encode straight (not premultiplied) RGBA pixels of shape (height, width, 4).

    With `transparent` false the image is composited on `bgcolor` and written without alpha;
    JPEG never has alpha (composited on `bgcolor` whatever `transparent` says).
    """
    fmt = normalize_mime(mime)
    if image.ndim != 3 or image.shape[2] != 4 or image.dtype != np.uint8:
        raise ValueError(f"expected a (height, width, 4) uint8 image, got {image.shape}")
    keep_alpha = transparent and fmt != JPEG
    if fmt == PNG and not keep_alpha and int(image[..., 3].min()) == 255:
        # An opaque map (the usual TRANSPARENT=FALSE case): let libvips drop the alpha band
        # while it encodes, instead of copying 3 bytes of every 4 in numpy first.
        return _png(np.ascontiguousarray(image), drop_alpha=True)
    pixels = np.ascontiguousarray(image if keep_alpha else flatten(image, bgcolor))
    if fmt == PNG:
        return _png(pixels)
    if fmt == PNG8:
        return _png8(pixels)
    mode = "RGBA" if keep_alpha else "RGB"
    buffer = io.BytesIO()
    picture = Image.fromarray(pixels, mode)
    if fmt == JPEG:
        picture.save(buffer, "JPEG", quality=JPEG_QUALITY)
    else:
        picture.save(buffer, "WEBP", quality=WEBP_QUALITY, method=0)  # fastest effort
    return buffer.getvalue()


def flatten(image: npt.NDArray[np.uint8], bgcolor: tuple[int, int, int]) -> npt.NDArray[np.uint8]:
    """RGB pixels: straight RGBA composited "over" an opaque background colour."""
    if int(image[..., 3].min()) == 255:
        return np.ascontiguousarray(image[..., :3])
    alpha = image[..., 3:4].astype(np.uint16)
    background = np.array(bgcolor, dtype=np.uint16)
    rgb = (image[..., :3].astype(np.uint16) * alpha + background * (255 - alpha) + 127) // 255
    return rgb.astype(np.uint8)


def _png(pixels: npt.NDArray[np.uint8], drop_alpha: bool = False) -> bytes:
    import pyvips  # type: ignore[import-untyped,unused-ignore]  # loads libvips: first PNG only

    height, width, bands = pixels.shape
    vips_image: Any = pyvips.Image.new_from_memory(pixels.data, width, height, bands, "uchar")
    if drop_alpha:
        vips_image = vips_image.extract_band(0, n=3)
    return bytes(vips_image.pngsave_buffer(compression=1))


def _png8(pixels: npt.NDArray[np.uint8]) -> bytes:
    mode = "RGBA" if pixels.shape[2] == 4 else "RGB"
    picture = Image.fromarray(pixels, mode).quantize(256, method=Image.Quantize.FASTOCTREE)
    buffer = io.BytesIO()
    picture.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()
