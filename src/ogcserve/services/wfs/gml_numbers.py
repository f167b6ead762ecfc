"""A batch's coordinates as GML posList text, formatted by orjson for all geometries at once,
with the bytes GEOS's WKT writer (`shapely.to_wkt`, `trim=True`) gives them.

GEOS's writer formats one geometry at a time, ~100 ns a number; orjson writes a flat array of
numbers several times faster. At full precision GEOS writes the shortest round-trip text, as
orjson does, wherever both are plain decimals: 1 <= |x| < 1e15 (and 0). With a rounding
precision GEOS rounds that shortest text again, half to even (not the exact binary value:
`17222410.150399498…` at 6 decimals is `…1504`); `geos_rounded` makes the same rounding on the
doubles. Both checked against GEOS on random coordinates of every magnitude in the tests.
Anything else (|x| < 1, where GEOS caps the decimals at 16 or writes exponents, NaN, negative
zero, numbers too large, cases too close to call) is left to GEOS: `None`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import orjson

_SPLIT = 134217729.0  # 2**27 + 1: Dekker's split of a double into halves of 26 bits
_SEPARATOR = " null "  # the NaN put between two sequences, as orjson writes it, spaced


def geos_rounded(
    magnitude: npt.NDArray[np.float64], precision: int
) -> npt.NDArray[np.float64] | None:
    """Positive numbers (1 <= x < 2**51 / 10**precision) rounded to `precision` decimals as
    GEOS rounds them: their shortest round-trip text rounded half to even (None: a case too
    close to call, to be left to GEOS).

    x * 10**precision = whole + fraction, exactly (Dekker's product). The shortest text of x
    lies on the same side of the midpoint whole + 0.5 as x itself unless the midpoint reads
    back as x; then (no text of `precision` decimals reading back as x, the doubles being
    closer together than 10**-precision / 2) it has one decimal more: the one nearest x,
    the midpoint itself (then rounded to even) when 0.45 <= fraction < 0.55.
    """
    # In place where it can be: every new array of a batch's ~25,000 numbers is a fresh
    # mapping of memory (over malloc's threshold), which costs more than the arithmetic.
    scale = 10.0**precision
    scale_high = _SPLIT * scale - (_SPLIT * scale - scale)
    scale_low = scale - scale_high
    product = magnitude * scale
    high = magnitude * _SPLIT
    low = high - magnitude
    np.subtract(high, low, out=high)
    np.subtract(magnitude, high, out=low)
    error = high * scale_high
    error -= product
    np.multiply(high, scale_low, out=high)
    error += high
    np.multiply(low, scale_high, out=high)
    error += high
    low *= scale_low
    error += low
    whole = np.floor(product)
    fraction = np.subtract(product, whole, out=product)
    fraction += error
    below, above = fraction < 0, fraction >= 1
    if below.any() or above.any():
        whole += above.astype(np.float64) - below
        fraction += below.astype(np.float64) - above
    # Too close to call: on a midpoint but not exactly, or on a second decimal's midpoint.
    if ((fraction == 0.5) & (error != 0)).any():
        return None
    distance = np.subtract(fraction, 0.5, out=low)
    np.abs(distance, out=distance)
    distance -= 0.05
    np.abs(distance, out=distance)
    if (distance < 1e-9).any():
        return None
    # (x exactly on the midpoint reads back as itself.)
    midpoint = np.add(whole, 0.5, out=high)
    midpoint /= scale
    midpoint_reads_back = midpoint == magnitude
    half = np.multiply(whole, 0.5, out=midpoint)
    odd = np.floor(half, out=error) != half  # (np.fmod is ~100 times slower)
    up = np.where(
        midpoint_reads_back,
        (fraction >= 0.55) | ((fraction >= 0.45) & odd),
        fraction > 0.5,
    )
    whole += up
    whole /= scale
    return whole


def sequences_text(
    coords: npt.NDArray[np.float64], bounds: npt.NDArray[np.int64], precision: int | None
) -> list[str] | None:
    """The coordinates of each sequence `coords[bounds[i]:bounds[i + 1]]` ((n, 2)) as GEOS's
    WKT writer writes them (`trim=True`, `precision` decimals or full precision), `x y x y
    ...` (a GML posList); None where GEOS's text could differ."""
    count = len(bounds) - 1
    if count == 0:
        return []
    magnitude = np.abs(coords)
    limit = 1e15 if precision is None else 2.0**51 / 10.0**precision
    if not ((magnitude < limit) & ((magnitude >= 1) | (coords == 0))).all():
        return None  # also NaN
    if np.signbit(coords[coords == 0]).any():
        return None  # negative zero
    if precision is not None:
        rounded = geos_rounded(magnitude, precision)
        if rounded is None:
            return None
        coords = np.copysign(rounded, coords)
    # One flat array: the sequences' numbers with a NaN between two sequences.
    flat = np.empty(coords.size + count - 1)
    starts = np.arange(coords.size) + np.repeat(np.arange(count), np.diff(bounds) * 2)
    flat[starts] = coords.ravel()
    flat[bounds[1:-1] * 2 + np.arange(count - 1)] = np.nan
    text = orjson.dumps(flat, option=orjson.OPT_SERIALIZE_NUMPY).decode()[1:-1]
    if (coords == np.floor(coords)).any():
        # Integral values come out as `5.0` from orjson, `5` from GEOS.
        text = f"{text},".replace(".0,", ",")[:-1]
    return text.replace(",", " ").split(_SEPARATOR)
