"""Colouring a raster: a ramp for one band, or the bands as RGB(A); masked pixels transparent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from .styles import Style

# Pixels coloured between two calls of `check`: a 4096 x 4096 map takes seconds on a busy
# machine, a block of a million pixels a few tens of milliseconds.
_BLOCK_PIXELS = 1 << 20


def colorize(
    array: npt.NDArray[Any], style: Style, check: Callable[[], None] = lambda: None
) -> npt.NDArray[np.uint8]:
    """(height, width, 4) straight RGBA from a (bands, height, width) masked array.

    One band with a ramp: colours interpolated linearly between the stops, clamped to the end
    colours. One band without a ramp: grey from its minimum to its maximum. Three or four bands:
    RGB(A) bytes. Masked (nodata) and NaN pixels are transparent; `opacity` scales alpha.
    `check` is called before each block of rows (it raises to stop: the request's deadline).
    """
    data = np.ma.asarray(array)
    if data.ndim == 2:
        data = data[np.newaxis]
    if data.ndim != 3 or data.shape[0] < 1:
        raise ValueError(f"a raster must be (bands, height, width), got shape {data.shape}")
    _, height, width = data.shape
    out = np.zeros((height, width, 4), dtype=np.uint8)
    ramp = _ramp(data, style)
    rows = max(1, _BLOCK_PIXELS // max(width, 1))
    for top in range(0, height, rows):
        check()
        out[top : top + rows] = _colorize_block(data[:, top : top + rows], style, ramp)
    return out


Ramp = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None


def _ramp(data: np.ma.MaskedArray[Any, Any], style: Style) -> Ramp:
    """The stops and colours one band is coloured with (None: the bands are RGB(A))."""
    if data.shape[0] >= 3 and style.ramp is None:
        return None
    if style.ramp is not None:
        stops = np.array([v for v, _ in style.ramp], dtype=np.float64)
        return stops, np.array([c for _, c in style.ramp], dtype=np.float64)
    band = data[0].astype(np.float64)
    valid = band.compressed()
    valid = valid[np.isfinite(valid)]
    lo, hi = (float(valid.min()), float(valid.max())) if valid.size else (0.0, 1.0)
    stops = np.array([lo, hi if hi > lo else lo + 1])
    return stops, np.array([[0, 0, 0, 255], [255, 255, 255, 255]], dtype=np.float64)


def _colorize_block(
    data: np.ma.MaskedArray[Any, Any], style: Style, ramp: Ramp
) -> npt.NDArray[np.uint8]:
    bands, height, width = data.shape
    mask = np.ma.getmaskarray(data).any(axis=0)
    out = np.zeros((height, width, 4), dtype=np.uint8)
    if ramp is None:
        rgb = np.ma.filled(data[:3], 0)
        out[..., :3] = np.clip(np.moveaxis(rgb, 0, -1), 0, 255).astype(np.uint8)
        out[..., 3] = np.clip(np.ma.filled(data[3], 0), 0, 255) if bands >= 4 else 255
    else:
        stops, colors = ramp
        values = np.ma.filled(data[0].astype(np.float64), np.nan)
        mask |= ~np.isfinite(values)
        flat = np.where(mask, stops[0], values).ravel()
        for channel in range(4):
            out[..., channel] = np.rint(
                np.interp(flat, stops, colors[:, channel]).reshape(height, width)
            ).astype(np.uint8)
    if style.opacity < 1:
        out[..., 3] = np.rint(out[..., 3] * style.opacity).astype(np.uint8)
    out[mask] = 0
    return out
