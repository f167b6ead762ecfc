"""WCS 1.1.1: capabilities, descriptions (grid by pixel centres, CRS84 for geographic
coverages) and GetCoverage by centres, compared with the source file."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window
from wcs_support import ELEVATION, NS, exception_code, get, open_tiff, xml

from ogcserve.server import Server

V = "VERSION=1.1.1&REQUEST=GetCoverage&FORMAT=image/tiff"


def test_capabilities(server: Server) -> None:
    root = xml(get(server, "REQUEST=GetCapabilities&VERSION=1.1.1"))
    assert root.tag == "{http://www.opengis.net/wcs/1.1}Capabilities"
    ids = root.xpath(
        "//wcs11:CoverageSummary/wcs11:Identifier/text()",
        namespaces=NS,
    )
    assert ids == ["elevation", "rgb"]  # secret is forbidden, hidden is not published


def test_describe_grid(server: Server) -> None:
    ns = NS
    root = xml(get(server, "REQUEST=DescribeCoverage&VERSION=1.1.1&IDENTIFIERS=rgb,elevation"))
    grids = root.xpath("//wcs11:GridCRS", namespaces=ns)
    assert grids[0].findtext("wcs11:GridBaseCRS", namespaces=ns) == "urn:ogc:def:crs:EPSG::32631"
    assert grids[0].findtext("wcs11:GridOrigin", namespaces=ns) == "500015.0 5499985.0"
    assert grids[0].findtext("wcs11:GridOffsets", namespaces=ns) == "30.0 0.0 0.0 -30.0"
    assert grids[1].findtext("wcs11:GridBaseCRS", namespaces=ns) == "urn:ogc:def:crs:OGC:1.3:CRS84"
    keys = root.xpath("//wcs11:Axis[@identifier='Bands']//wcs11:Key/text()", namespaces=ns)
    assert keys == ["1", "2", "3", "1"]


def test_native_grid_by_centres(server: Server) -> None:
    with rasterio.open(ELEVATION) as src:
        left, _, _, top = src.bounds
        rx, ry = src.res
        centres = (
            left + rx / 2,
            top - (src.height - 0.5) * ry,
            left + (src.width - 0.5) * rx,
            top - ry / 2,
        )
        result = get(
            server,
            f"{V}&IDENTIFIER=elevation&BOUNDINGBOX={','.join(map(repr, centres))},"
            "urn:ogc:def:crs:OGC:1.3:CRS84",
        )
        assert result.status == 200, result.body[:400]
        out = open_tiff(result.body)
        assert out.shape == src.shape
        assert out.transform.almost_equals(src.transform, precision=1e-12)
        assert np.array_equal(out.read(), src.read())
        # The same in EPSG:4326's own order: latitude first.
        lat_lon = (centres[1], centres[0], centres[3], centres[2])
        swapped = get(
            server,
            f"{V}&IDENTIFIER=elevation&BOUNDINGBOX={','.join(map(repr, lat_lon))},"
            "urn:ogc:def:crs:EPSG::4326",
        )
        assert np.array_equal(open_tiff(swapped.body).read(), src.read())


def test_window_and_bands_in_utm(server: Server) -> None:
    result = get(
        server,
        f"{V}&IDENTIFIER=rgb&BOUNDINGBOX=500315,5499115,500885,5499685,urn:ogc:def:crs:EPSG::32631"
        "&GRIDBASECRS=urn:ogc:def:crs:EPSG::32631&GRIDOFFSETS=30,0,0,-30"
        "&RANGESUBSET=contents:nearest[Bands[2,3]]",
    )
    assert result.status == 200, result.body[:400]
    out = open_tiff(result.body)
    project = server.settings.projects[0]
    with rasterio.open(project.parent / "rgb.tif") as src:
        assert (out.width, out.height, out.count) == (20, 20, 2)
        assert np.array_equal(out.read(), src.read([2, 3], window=Window(10, 10, 20, 20)))


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("IDENTIFIER=nope&BOUNDINGBOX=6,49.5,6.2,49.7", "InvalidParameterValue"),
        ("IDENTIFIER=elevation", "MissingParameterValue"),
        (
            "IDENTIFIER=elevation&BOUNDINGBOX=6,49.5,6.2,49.7,urn:ogc:def:crs:EPSG::999999",
            "InvalidCRS",
        ),
        ("IDENTIFIER=elevation&BOUNDINGBOX=6.2,49.5,6,49.7", "InvalidParameterValue"),
        ("IDENTIFIER=elevation&BOUNDINGBOX=100,10,101,11", "InvalidParameterValue"),
        (
            "IDENTIFIER=elevation&BOUNDINGBOX=6,49.5,6.2,49.7&GRIDOFFSETS=0.0000001,0.0000001",
            "InvalidParameterValue",
        ),
        (
            "IDENTIFIER=elevation&BOUNDINGBOX=6,49.5,6.2,49.7&RANGESUBSET=contents:magic",
            "InvalidParameterValue",
        ),
        (
            "IDENTIFIER=elevation&BOUNDINGBOX=6,49.5,6.2,49.7&FORMAT=image/x-nothing",
            "InvalidFormat",
        ),
    ],
)
def test_refused(server: Server, query: str, code: str) -> None:
    result = get(server, "VERSION=1.1.1&REQUEST=GetCoverage&" + query)
    assert result.status in (400, 404)
    assert exception_code(result) == code, result.body[:500]


def test_forbidden(server: Server) -> None:
    result = get(server, "VERSION=1.1.1&REQUEST=DescribeCoverage&IDENTIFIERS=secret")
    assert (result.status, exception_code(result)) == (403, "Security")
