"""Bboxes between CRSs: what PROJ cannot do is a ValueError (a client's 400), never PROJ's own."""

from __future__ import annotations

import pytest

from ogcserve.geo.bbox import read_window, transform_bbox
from ogcserve.testing import client, make_server


def test_a_transformation_proj_cannot_run_is_a_value_error() -> None:
    # EPSG:9006 (IGS00) to CRS:84: PROJ answers inf for the first box, then raises "NULL
    # transformation not allowed" for every later one (found by the kvp fuzzer, via WCS).
    for bbox in [(49.5, 6.0, 50.0, 6.5), (6.0, 49.5, 6.5, 50.0), (5.7, 49.4, 6.6, 50.2)]:
        with pytest.raises(ValueError, match="cannot be expressed"):
            read_window(bbox, "EPSG:9006", "EPSG:4326")
        with pytest.raises(ValueError, match="cannot be expressed"):
            transform_bbox(bbox, "EPSG:9006", "EPSG:3857")


def test_wcs_in_that_crs_answers_400_each_time() -> None:
    http = client(make_server())
    for bbox in ("6,49.5,6.5,50", "49.5,6,50,6.5", "5.7,49.4,6.6,50.2"):
        got = http.get(
            "/ows?SERVICE=WCS&VERSION=1.0.0&REQUEST=GetCoverage&COVERAGE=elevation"
            f"&CRS=EPSG:9006&BBOX={bbox}&WIDTH=20&HEIGHT=20&FORMAT=GeoTIFF"
        )
        assert got.status_code == 400, got.text[:300]
        assert "ServiceException" in got.text
