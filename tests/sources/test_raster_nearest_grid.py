"""The nearest sampler's control grid covers every output pixel, whatever the size."""

from __future__ import annotations

import numpy as np
import pytest

from ogcserve.sources.raster_nearest import _bilinear, _controls

SIZES = [1, 2, 15, 16, 17, 32, 33, 752, 753, 754]


@pytest.mark.parametrize("height", SIZES)
@pytest.mark.parametrize("width", [1, 17, 795])
def test_the_interpolated_grid_has_a_value_for_every_pixel(height: int, width: int) -> None:
    cols, rows = _controls(width), _controls(height)
    # A plane: interpolation is exact, so every pixel's value is its own position.
    values = rows[:, None] * 1000.0 + cols[None, :]
    full = _bilinear(values, range(height), width)
    assert full.shape == (height, width)
    expected = np.arange(height)[:, None] * 1000.0 + np.arange(width)[None, :]
    assert np.allclose(full, expected, rtol=1e-6, atol=0.05)


@pytest.mark.parametrize("rows", [range(0, 16), range(16, 48), range(40, 753), range(752, 754)])
def test_rows_are_interpolated_alike_in_any_strip(rows: range) -> None:
    """A strip of rows gets bit for bit the values the whole grid has there."""
    cols, controls = _controls(795), _controls(754)
    values = np.sin(controls[:, None] / 97.0) * 1e4 + np.cos(cols[None, :] / 61.0) * 3e3
    whole = _bilinear(values, range(754), 795)
    assert np.array_equal(_bilinear(values, rows, 795), whole[rows.start : rows.stop])
