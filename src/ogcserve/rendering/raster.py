"""Colouring a raster: a ramp for one band, or the bands as RGB(A); masked pixels transparent."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .styles import Style


def colorize(array: npt.NDArray[Any], style: Style) -> npt.NDArray[np.uint8]:
    """(height, width, 4) straight RGBA from a (bands, height, width) masked array.

    One band with a ramp: colours interpolated linearly between the stops, clamped to the end
    colours. One band without a ramp: grey from its minimum to its maximum. Three or four bands:
    RGB(A) bytes. Masked (nodata) and NaN pixels are transparent; `opacity` scales alpha.
    """
    data = np.ma.asarray(array)
    if data.ndim == 2:
        data = data[np.newaxis]
    if data.ndim != 3 or data.shape[0] < 1:
        raise ValueError(f"a raster must be (bands, height, width), got shape {data.shape}")
    bands, height, width = data.shape
    mask = np.ma.getmaskarray(data).any(axis=0)
    out = np.zeros((height, width, 4), dtype=np.uint8)

    if bands >= 3 and style.ramp is None:
        rgb = np.ma.filled(data[:3], 0)
        out[..., :3] = np.clip(np.moveaxis(rgb, 0, -1), 0, 255).astype(np.uint8)
        out[..., 3] = np.clip(np.ma.filled(data[3], 0), 0, 255) if bands >= 4 else 255
    else:
        values = np.ma.filled(data[0].astype(np.float64), np.nan)
        mask |= ~np.isfinite(values)
        if style.ramp is not None:
            stops = np.array([v for v, _ in style.ramp], dtype=np.float64)
            colors = np.array([c for _, c in style.ramp], dtype=np.float64)
        else:
            valid = values[~mask]
            lo, hi = (float(valid.min()), float(valid.max())) if valid.size else (0.0, 1.0)
            stops = np.array([lo, hi if hi > lo else lo + 1])
            colors = np.array([[0, 0, 0, 255], [255, 255, 255, 255]], dtype=np.float64)
        flat = np.where(mask, stops[0], values).ravel()
        for channel in range(4):
            out[..., channel] = np.rint(
                np.interp(flat, stops, colors[:, channel]).reshape(height, width)
            ).astype(np.uint8)
    if style.opacity < 1:
        out[..., 3] = np.rint(out[..., 3] * style.opacity).astype(np.uint8)
    out[mask] = 0
    return out
