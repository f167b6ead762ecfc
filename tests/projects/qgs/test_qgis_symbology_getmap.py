"""The acceptance comparison of issue 19's symbology: the same `.qgs` (written by PyQGIS over a
copy of the demo data) drawn by QGIS Server 3.22 (Debian's qgis_mapserv.fcgi, run as a CGI) and
by ogcserve serving the `.qgs` itself, one GetMap per case.

The metric is in qgis_style_compare.py: the share of pixels that differ by more than a small
tolerance once both maps are blurred by 3x3 and a pixel may match its neighbours. Cases read
exactly must stay under 0.5 %; cases drawn approximately (and named in warnings: dash phases,
marker shapes) under 3 %. Labels are placed by different algorithms (QGIS's PAL and ogcserve's
greedy placer), so a labelled map is compared by the amount of text drawn, not pixel by pixel.
When a case is over its limit the three-panel diff image is saved and its path given.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from qgis_style_compare import (
    QGIS_SERVER,
    compare,
    over_white,
    qgis_available,
    qgis_getmap,
    save_diff,
    write_project,
)

from ogcserve.testing import client, make_server

DIFFS = Path(tempfile.gettempdir()) / "ogcserve-qgis-symbology"
WORLD = "-20,-40,70,80"  # EPSG:4326, lat/lon as WMS 1.3.0 orders it: 640 x 480, square pixels
LUXEMBOURG = "49.4,5.6,50.2,6.666666666666667"
EXACT = 0.005
APPROXIMATE = 0.03

CASES = {
    "poly_single": EXACT,
    "poly_units": EXACT,
    "poly_layers": EXACT,
    "poly_categorized": EXACT,
    "poly_graduated": EXACT,
    "poly_graduated_expression": EXACT,
    "poly_expressions": EXACT,
    "poly_rules": EXACT,
    "line_single": EXACT,
    "line_casing": EXACT,
    "line_casing_categorized": EXACT,
    "point_single": EXACT,
    "label_opacity": EXACT,
    "raster_gray": EXACT,
    "raster_pseudo": EXACT,
    "raster_discrete": EXACT,
    "point_categorized": EXACT,
    "point_graduated": EXACT,
    "line_rules": EXACT,
    "group_order": EXACT,  # a group: its top layer drawn last, as in QGIS's layer tree
    "line_dashes": APPROXIMATE,
    "point_shapes": APPROXIMATE,
    "point_data_defined": APPROXIMATE,
}
LABELLED = {"label_field": (20, 20, 120), "label_expression": (20, 20, 120)}


def getmap(name: str) -> str:
    bbox = LUXEMBOURG if name.startswith("raster") else WORLD
    return (
        f"SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS={name}&STYLES=&CRS=EPSG:4326"
        f"&BBOX={bbox}&WIDTH=640&HEIGHT=480&FORMAT=image/png&TRANSPARENT=true"
    )


@dataclass
class Maps:
    """Each case's map from QGIS Server and from ogcserve."""

    qgis: dict[str, bytes]
    ours: dict[str, bytes]


@pytest.fixture(scope="module")
def maps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Maps]:
    if not qgis_available() or not QGIS_SERVER.exists():
        pytest.skip("needs Debian's python3-qgis and qgis-server")
    folder = tmp_path_factory.mktemp("qgis-symbology-getmap")
    qgs = write_project(folder)
    names = [*CASES, *LABELLED]
    with ThreadPoolExecutor(2) as pool:  # one QGIS Server process per request, two at a time
        images = pool.map(lambda n: qgis_getmap(qgs, getmap(n), folder / "home"), names)
        theirs = dict(zip(names, images, strict=True))
    http = client(make_server([qgs]))
    ours = {}
    for name in names:
        response = http.get(f"/ows?{getmap(name)}")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/png"
        ours[name] = response.content
    yield Maps(theirs, ours)


def _diff_note(name: str, maps: Maps, share: float) -> str:
    DIFFS.mkdir(exist_ok=True)
    result = compare(maps.ours[name], maps.qgis[name])
    path = save_diff(name, maps.ours[name], maps.qgis[name], result, DIFFS)
    print(f"{name}: {share:.3%} of pixels differ; diff image (QGIS | ogcserve | diff): {path}")
    return str(path)


@pytest.mark.parametrize("name", list(CASES))
def test_getmap_matches_qgis_server(maps: Maps, name: str) -> None:
    result = compare(maps.ours[name], maps.qgis[name])
    drawn = (over_white(maps.qgis[name]) != 255).any(axis=2).mean()
    assert drawn > 0.001, f"QGIS Server drew nothing for {name}"
    if result.share > CASES[name]:
        path = _diff_note(name, maps, result.share)
        pytest.fail(
            f"{name}: {result.share:.3%} of pixels differ (limit {CASES[name]:.1%}); "
            f"diff image: {path}"
        )


@pytest.mark.parametrize("name", list(LABELLED))
def test_labels_draw_as_much_text_as_qgis_server(maps: Maps, name: str) -> None:
    """Same text colour, size and buffer: the amount of text-coloured ink is alike."""
    text = np.array(LABELLED[name], dtype=np.int16)

    def ink(png: bytes) -> int:
        return int((np.abs(over_white(png) - text).max(axis=2) < 40).sum())

    ours, theirs = ink(maps.ours[name]), ink(maps.qgis[name])
    assert theirs > 500, f"QGIS Server drew almost no label text for {name}"
    if not 0.5 < ours / theirs < 2.0:
        path = _diff_note(name, maps, compare(maps.ours[name], maps.qgis[name]).share)
        pytest.fail(f"{name}: {ours} text pixels, QGIS Server {theirs}; diff image: {path}")
