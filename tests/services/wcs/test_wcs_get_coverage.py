"""GetCoverage 2.0.1 and 1.0.0: the native grid exactly, subsets, reprojection, scaling, bands,
GeoTIFF and PNG, each compared with the source file read by rasterio."""

from __future__ import annotations

import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window
from wcs_support import ELEVATION, RGB_NODATA, RGB_TRANSFORM, get, open_tiff

from ogcserve.server import Server


def _source(name: str, server: Server) -> rasterio.io.DatasetReader:
    project = server.settings.projects[0]
    return rasterio.open(Path(project).parent / name)


@pytest.mark.parametrize(
    "query",
    [
        "VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=elevation",
        "VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=elevation&FORMAT=image/tiff",
        "VERSION=1.0.0&REQUEST=GetCoverage&COVERAGE=elevation&CRS=EPSG:4326&FORMAT=GeoTIFF"
        "&BBOX=5.741666666666667,49.44166666666667,6.533333333333333,50.19166666666667",
        "VERSION=1.0.0&REQUEST=GetCoverage&COVERAGE=elevation&CRS=EPSG:4326&FORMAT=GeoTIFF"
        "&BBOX=5.741666666666667,49.44166666666667,6.533333333333333,50.19166666666667"
        "&WIDTH=95&HEIGHT=90",
    ],
)
def test_native_grid_is_the_source(server: Server, query: str) -> None:
    result = get(server, query)
    assert result.status == 200, result.body[:500]
    assert result.headers["Content-Type"] == "image/tiff"
    with rasterio.open(ELEVATION) as src, open_tiff(result.body) as out:
        assert out.shape == src.shape
        assert out.crs == src.crs
        assert out.transform.almost_equals(src.transform, precision=1e-12)
        assert out.nodata == src.nodata
        assert out.dtypes == src.dtypes
        assert np.array_equal(out.read(), src.read())


def test_subset_is_the_source_window(server: Server) -> None:
    # Long 6.0..6.3, Lat 49.6..49.9: snapped outwards to the pixels they touch.
    result = get(
        server,
        "VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=elevation"
        "&SUBSET=Long(6.0,6.3)&SUBSET=Lat(49.6,49.9)",
    )
    assert result.status == 200
    with rasterio.open(ELEVATION) as src, open_tiff(result.body) as out:
        window = rasterio.windows.from_bounds(6.0, 49.6, 6.3, 49.9, src.transform)
        window = window.round_offsets(op="floor").round_lengths(op="ceil")
        col0, row0 = int(window.col_off), int(window.row_off)
        assert out.transform.c == pytest.approx(src.transform.c + col0 * src.transform.a)
        assert out.transform.f == pytest.approx(src.transform.f + row0 * src.transform.e)
        expected = src.read(window=Window(col0, row0, out.width, out.height))
        assert np.array_equal(out.read(), expected)
        assert 6.3 - 6.0 <= out.width * src.res[0] < 6.3 - 6.0 + 2 * src.res[0]


def test_multiband_nodata_band_names(server: Server) -> None:
    result = get(server, "VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=rgb")
    assert result.status == 200
    with _source("rgb.tif", server) as src, open_tiff(result.body) as out:
        assert out.count == 3
        assert out.descriptions == ("red", "green", "blue")
        assert out.nodata == RGB_NODATA
        assert out.transform == RGB_TRANSFORM
        assert np.array_equal(out.read(), src.read())


def test_range_subset_by_name_and_interval(server: Server) -> None:
    base = "VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=rgb&RANGESUBSET="
    with _source("rgb.tif", server) as src:
        one = open_tiff(get(server, base + "blue").body)
        assert one.count == 1 and one.descriptions == ("blue",)
        assert np.array_equal(one.read(1), src.read(3))
        two = open_tiff(get(server, base + "green:blue").body)
        assert np.array_equal(two.read(), src.read([2, 3]))
        old = get(
            server,
            "VERSION=1.0.0&REQUEST=GetCoverage&COVERAGE=rgb&CRS=EPSG:32631&BAND=2"
            "&BBOX=500000,5497600,503600,5500000&WIDTH=120&HEIGHT=80&FORMAT=GeoTIFF",
        )
        assert np.array_equal(open_tiff(old.body).read(1), src.read(2))


def test_subset_in_utm_metres(server: Server) -> None:
    result = get(
        server,
        "VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=rgb&SUBSET=E(500300,500900)"
        "&SUBSET=N(5499100,5499700)",
    )
    with _source("rgb.tif", server) as src, open_tiff(result.body) as out:
        assert (out.width, out.height) == (20, 20)
        assert out.transform.c == 500300 and out.transform.f == 5499700
        assert np.array_equal(out.read(), src.read(window=Window(10, 10, 20, 20)))


@pytest.mark.parametrize(
    ("interpolation", "expected"),
    [
        ("", "nearest"),
        ("http://www.opengis.net/def/interpolation/OGC/1/nearest-neighbor", "nearest"),
        ("http://www.opengis.net/def/interpolation/OGC/1/linear", "bilinear"),
        ("http://www.opengis.net/def/interpolation/OGC/1/cubic", "cubic"),
    ],
)
def test_reprojected_to_web_mercator(server: Server, interpolation: str, expected: str) -> None:
    query = (
        "VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=elevation"
        "&OUTPUTCRS=http://www.opengis.net/def/crs/EPSG/0/3857"
    )
    if interpolation:
        query += "&INTERPOLATION=" + interpolation
    result = get(server, query)
    assert result.status == 200, result.body[:400]
    out = open_tiff(result.body)
    assert out.crs.to_epsg() == 3857
    data = np.ma.masked_equal(out.read(1), out.nodata)
    with rasterio.open(ELEVATION) as src:
        dst = np.empty((out.height, out.width), dtype="int16")
        rasterio.warp.reproject(
            rasterio.band(src, 1),
            dst,
            dst_transform=out.transform,
            dst_crs=out.crs,
            dst_nodata=src.nodata,
            resampling=rasterio.enums.Resampling[expected],
        )
    valid = ~data.mask & (dst != out.nodata)
    assert valid.sum() > 0.9 * data.count()
    if expected == "nearest":
        # Our own nearest sampler (sources/raster_nearest.py): the pixel under each exact
        # centre, as GDAL's warper picks it.
        assert np.array_equal(data.data[valid], dst[valid])
    else:
        assert np.abs(data.data[valid].astype(int) - dst[valid]).max() <= 1


@pytest.mark.parametrize("version", ["1.0.0", "2.0.1"])
def test_reprojected_is_gdalwarp_with_exact_transformations(
    server: Server, tmp_path: Path, version: str
) -> None:
    """Nearest neighbour from UTM to Web Mercator on a grid finer than the raster: every pixel
    as `gdalwarp -r near -et 0` (exact transformations) picks it on the same grid."""
    if shutil.which("gdalwarp") is None:
        pytest.skip("gdalwarp is not installed")
    bounds = "335000,6383300,338400,6385600"  # EPSG:3857, inside the UTM raster
    if version == "2.0.1":
        query = (
            "VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=rgb&FORMAT=image/tiff"
            "&OUTPUTCRS=http://www.opengis.net/def/crs/EPSG/0/3857"
            "&SUBSETTINGCRS=http://www.opengis.net/def/crs/EPSG/0/3857"
            "&SUBSET=E(335000,338400)&SUBSET=N(6383300,6385600)&SCALESIZE=E(340),N(230)"
        )
    else:
        query = (
            "VERSION=1.0.0&REQUEST=GetCoverage&COVERAGE=rgb&FORMAT=GeoTIFF&CRS=EPSG:3857"
            f"&BBOX={bounds}&WIDTH=340&HEIGHT=230"
        )
    result = get(server, query)
    assert result.status == 200, result.body[:400]
    out = open_tiff(result.body)
    assert (out.width, out.height) == (340, 230) and out.crs.to_epsg() == 3857
    warped = tmp_path / "warped.tif"
    with _source("rgb.tif", server) as src:
        source_path = src.name
    warp = ["gdalwarp", "-q", "-r", "near", "-et", "0", "-t_srs", "EPSG:3857", "-ts", "340", "230"]
    extent = [repr(v) for v in out.bounds]
    subprocess.run(
        [*warp, "-te", *extent, source_path, str(warped)], check=True, capture_output=True
    )
    with rasterio.open(warped) as want:
        expected = want.read()
    got = out.read()
    both = (expected != RGB_NODATA).all(axis=0) & (got != RGB_NODATA).all(axis=0)
    assert both.mean() > 0.9
    assert np.array_equal(got[:, both], expected[:, both])


def test_size_and_scaling(server: Server) -> None:
    base = "VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=elevation"
    sized = open_tiff(get(server, base + "&SCALESIZE=Long(40),Lat(30)").body)
    assert (sized.width, sized.height) == (40, 30)
    assert sized.bounds == pytest.approx(rasterio.open(ELEVATION).bounds)
    halved = open_tiff(get(server, base + "&SCALEFACTOR=2").body)
    assert (halved.width, halved.height) == (48, 45)
    axes = open_tiff(get(server, base + "&SCALEAXES=Long(0.5),Lat(1)").body)
    assert (axes.width, axes.height) == (190, 90)
    # ScaleToExtent: grid coordinates low to high, both included; "," or ":" between.
    for extent in ("Long(0,39),Lat(0,29)", "Long(10:49),Lat(100:129)"):
        extended = open_tiff(get(server, base + "&SCALEEXTENT=" + extent).body)
        assert (extended.width, extended.height) == (40, 30)
        assert np.array_equal(extended.read(), sized.read())
    old = get(
        server,
        "VERSION=1.0.0&REQUEST=GetCoverage&COVERAGE=elevation&CRS=EPSG:4326&FORMAT=GeoTIFF"
        "&BBOX=6,49.5,6.4,49.9&RESX=0.02&RESY=0.01",
    )
    assert (open_tiff(old.body).width, open_tiff(old.body).height) == (20, 40)


def test_png(server: Server) -> None:
    result = get(server, "VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=elevation&FORMAT=image/png")
    assert result.status == 200
    assert result.headers["Content-Type"] == "image/png"
    assert result.body[:8] == b"\x89PNG\r\n\x1a\n"
    png = open_tiff(result.body)
    assert (png.width, png.height) == (95, 90)


@pytest.mark.parametrize(
    "query",
    [
        "VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=elevation&FORMAT=image/png",
        "VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=rgb&FORMAT=image/png",
        "VERSION=1.0.0&REQUEST=GetCoverage&COVERAGE=rgb&CRS=EPSG:32631&FORMAT=PNG"
        "&BBOX=500000,5497600,503600,5500000&WIDTH=120&HEIGHT=80",
        "VERSION=1.1.1&REQUEST=GetCoverage&IDENTIFIER=rgb&FORMAT=image/png"
        "&BOUNDINGBOX=500015,5497615,503585,5499985,urn:ogc:def:crs:EPSG::32631",
    ],
)
def test_png_writes_no_warning(server: Server, query: str) -> None:
    """rasterio warned NotGeoreferencedWarning (to the server's stderr) on every PNG answer:
    the stretched int16 grey + alpha one and the uint16 RGB + alpha ones, in each version.
    Warnings from any thread are recorded here (the test alone changes the filters)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = get(server, query)
    assert result.status == 200 and result.headers["Content-Type"] == "image/png"
    assert result.body[:4] == b"\x89PNG"
    assert [str(w.message) for w in caught] == []


def test_xml_post(server: Server) -> None:
    body = b"""<wcs:GetCoverage xmlns:wcs="http://www.opengis.net/wcs/2.0"
        xmlns:scal="http://www.opengis.net/wcs/scaling/1.0"
        xmlns:rsub="http://www.opengis.net/wcs/range-subsetting/1.0"
        service="WCS" version="2.0.1">
      <wcs:CoverageId>rgb</wcs:CoverageId>
      <wcs:DimensionTrim><wcs:Dimension>E</wcs:Dimension>
        <wcs:TrimLow>500300</wcs:TrimLow><wcs:TrimHigh>500900</wcs:TrimHigh></wcs:DimensionTrim>
      <wcs:DimensionTrim><wcs:Dimension>N</wcs:Dimension>
        <wcs:TrimLow>5499100</wcs:TrimLow><wcs:TrimHigh>5499700</wcs:TrimHigh></wcs:DimensionTrim>
      <wcs:format>image/tiff</wcs:format>
      <wcs:Extension><rsub:RangeSubset><rsub:RangeItem>
        <rsub:RangeComponent>green</rsub:RangeComponent></rsub:RangeItem></rsub:RangeSubset>
      </wcs:Extension>
    </wcs:GetCoverage>"""
    from ogcserve.testing import call

    result = call(server, "/ows", method="POST", headers={"Content-Type": "text/xml"}, body=body)
    assert result.status == 200, result.body[:400]
    with _source("rgb.tif", server) as src, open_tiff(result.body) as out:
        assert out.count == 1 and (out.width, out.height) == (20, 20)
        assert np.array_equal(out.read(1), src.read(2, window=Window(10, 10, 20, 20)))


def test_xml_post_describe_and_scaled_reprojected_coverage(server: Server) -> None:
    from ogcserve.testing import call

    describe = b"""<wcs:DescribeCoverage xmlns:wcs="http://www.opengis.net/wcs/2.0"
        service="WCS" version="2.0.1"><wcs:CoverageId>rgb</wcs:CoverageId></wcs:DescribeCoverage>"""
    result = call(
        server, "/ows", method="POST", headers={"Content-Type": "text/xml"}, body=describe
    )
    assert result.status == 200 and b'gml:id="rgb"' in result.body
    body = b"""<wcs:GetCoverage xmlns:wcs="http://www.opengis.net/wcs/2.0"
        xmlns:scal="http://www.opengis.net/wcs/scaling/1.0"
        xmlns:crs="http://www.opengis.net/wcs/crs/1.0"
        xmlns:int="http://www.opengis.net/wcs/interpolation/1.0"
        service="WCS" version="2.0.1">
      <wcs:CoverageId>elevation</wcs:CoverageId>
      <wcs:Extension>
        <scal:ScaleToSize>
          <scal:TargetAxisSize><scal:axis>Long</scal:axis><scal:targetSize>64</scal:targetSize></scal:TargetAxisSize>
          <scal:TargetAxisSize><scal:axis>Lat</scal:axis><scal:targetSize>48</scal:targetSize></scal:TargetAxisSize>
        </scal:ScaleToSize>
        <crs:outputCrs>http://www.opengis.net/def/crs/EPSG/0/3857</crs:outputCrs>
        <int:Interpolation><int:globalInterpolation>http://www.opengis.net/def/interpolation/OGC/1/linear</int:globalInterpolation></int:Interpolation>
      </wcs:Extension>
    </wcs:GetCoverage>"""
    result = call(server, "/ows", method="POST", headers={"Content-Type": "text/xml"}, body=body)
    assert result.status == 200, result.body[:400]
    out = open_tiff(result.body)
    assert (out.width, out.height) == (64, 48)
    assert out.crs.to_epsg() == 3857
    extent = (
        b"<scal:ScaleToExtent><scal:TargetAxisExtent><scal:axis>Long</scal:axis>"
        b"<scal:low>0</scal:low><scal:high>63</scal:high></scal:TargetAxisExtent>"
        b"<scal:TargetAxisExtent><scal:axis>Lat</scal:axis><scal:low>0</scal:low>"
        b"<scal:high>47</scal:high></scal:TargetAxisExtent></scal:ScaleToExtent>"
    )
    start, end = body.index(b"<scal:ScaleToSize>"), body.index(b"</scal:ScaleToSize>")
    by_extent = body[:start] + extent + body[end + len(b"</scal:ScaleToSize>") :]
    result = call(
        server, "/ows", method="POST", headers={"Content-Type": "text/xml"}, body=by_extent
    )
    assert result.status == 200, result.body[:400]
    assert np.array_equal(open_tiff(result.body).read(), out.read())


@pytest.mark.parametrize(
    ("v201", "v100", "v111"),
    [
        ("nearest-neighbor", "nearest neighbor", "nearest"),
        ("linear", "bilinear", "linear"),
        ("cubic", "bicubic", "cubic"),
    ],
)
def test_interpolation_names_of_each_version(
    server: Server, v201: str, v100: str, v111: str
) -> None:
    """Each version's name for a method (2.0: OGC 12-049's URIs; 1.0.0: "nearest neighbor",
    "bilinear", "bicubic"; 1.1.1: "nearest", "linear", "cubic") resamples alike: UTM to Web
    Mercator on one 10 m grid (the 2.0 answers are checked against rasterio above)."""
    mercator = "urn:ogc:def:crs:EPSG::3857"
    answers = [
        get(
            server,
            "VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=rgb&FORMAT=image/tiff"
            "&OUTPUTCRS=http://www.opengis.net/def/crs/EPSG/0/3857"
            "&SUBSETTINGCRS=http://www.opengis.net/def/crs/EPSG/0/3857"
            "&SUBSET=E(335000,338400)&SUBSET=N(6383300,6385600)&SCALESIZE=E(340),N(230)"
            "&INTERPOLATION=http://www.opengis.net/def/interpolation/OGC/1/" + v201,
        ),
        get(
            server,
            "VERSION=1.0.0&REQUEST=GetCoverage&COVERAGE=rgb&FORMAT=GeoTIFF&CRS=EPSG:3857"
            "&BBOX=335000,6383300,338400,6385600&WIDTH=340&HEIGHT=230&INTERPOLATION=" + v100,
        ),
        get(
            server,
            "VERSION=1.1.1&REQUEST=GetCoverage&IDENTIFIER=rgb&FORMAT=image/tiff"
            f"&BOUNDINGBOX=335005,6383305,338395,6385595,{mercator}&GRIDBASECRS={mercator}"
            f"&GRIDOFFSETS=10,0,0,-10&RANGESUBSET=contents:{v111}",
        ),
    ]
    assert [a.status for a in answers] == [200, 200, 200], [a.body[:300] for a in answers]
    files = [open_tiff(a.body) for a in answers]
    for out in files:
        assert (out.width, out.height) == (340, 230) and out.crs.to_epsg() == 3857
        assert out.transform.almost_equals(files[0].transform, precision=1e-6)
    first = files[0].read()
    assert all(np.array_equal(out.read(), first) for out in files[1:])
    nearest = open_tiff(
        get(
            server,
            "VERSION=1.0.0&REQUEST=GetCoverage&COVERAGE=rgb&FORMAT=GeoTIFF&CRS=EPSG:3857"
            "&BBOX=335000,6383300,338400,6385600&WIDTH=340&HEIGHT=230",
        ).body
    ).read()
    assert np.array_equal(first, nearest) == (v100 == "nearest neighbor")
