"""Image encoders for map output: PNG (RGBA/RGB), 8-bit palette PNG, JPEG and WebP.

PNG is written here, around ISA-L's deflate (python-isal): on a dense 1024x768 map libvips at
compression 1 (zlib level 1, the fastest of render_bench §4) took 11.7 ms for 1.24 MB, ISA-L
level 1 takes 4.4 ms for 1.04 MB. No PNG library lets us choose its deflate, and the format
around the deflate stream is three chunks (PNG spec §5, §11.2): that is all this writes. 8-bit
PNG: Pillow FASTOCTREE quantising; JPEG and WebP: Pillow (libjpeg-turbo, libwebp).
"""

from __future__ import annotations

import io
import struct

import numpy as np
import numpy.typing as npt
from isal import isal_zlib
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
        # An opaque map (the usual TRANSPARENT=FALSE case): the alpha band is dropped while the
        # scanlines are laid out, with no separate RGB copy first.
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


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_COLOUR_TYPE = {3: 2, 4: 6}  # bands -> truecolour / truecolour with alpha
_PNG_LEVEL = 1  # ISA-L levels 0-3; 1 is as fast as 0 and 20 % smaller on maps


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = isal_zlib.crc32(data, isal_zlib.crc32(kind))
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _png(pixels: npt.NDArray[np.uint8], drop_alpha: bool = False) -> bytes:
    """8-bit RGB(A) PNG, no interlace; every scanline unfiltered (filter type 0): on maps the
    predictors cost more time than they save bytes at this deflate level."""
    height, width, bands = pixels.shape
    if drop_alpha:
        bands = 3
    scanlines = np.empty((height, 1 + width * bands), dtype=np.uint8)
    scanlines[:, 0] = 0
    rows = scanlines[:, 1:].reshape(height, width, bands)
    for band in range(bands):  # band by band: 4x faster than one strided 3-of-4 copy
        rows[..., band] = pixels[..., band]
    header = struct.pack(">IIBBBBB", width, height, 8, _PNG_COLOUR_TYPE[bands], 0, 0, 0)
    return b"".join(
        (
            _PNG_SIGNATURE,
            _png_chunk(b"IHDR", header),
            _png_chunk(b"IDAT", isal_zlib.compress(scanlines, _PNG_LEVEL)),
            _png_chunk(b"IEND", b""),
        )
    )


def _png8(pixels: npt.NDArray[np.uint8]) -> bytes:
    mode = "RGBA" if pixels.shape[2] == 4 else "RGB"
    picture = Image.fromarray(pixels, mode).quantize(256, method=Image.Quantize.FASTOCTREE)
    buffer = io.BytesIO()
    picture.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()
