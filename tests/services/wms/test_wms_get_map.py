"""GetMap: pixels checked one by one, every format, both axis orders, access rules, filters."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from wms_helpers import get, image, validate_exception

from ogcserve.server import Server

FILL = (207, 227, 196)  # the demo's countries fill, #cfe3c4
WORLD_130 = "CRS=EPSG:4326&BBOX=-90,-180,90,180"
WORLD_111 = "SRS=EPSG:4326&BBOX=-180,-90,180,90"
FRANCE, BRAZIL, GERMANY, ATLANTIC = (182, 44), (128, 100), (190, 38), (150, 60)  # lon+180, 90-lat


def _map(
    layers: str = "countries", extra: str = "", version: str = "1.3.0", where: str = WORLD_130
) -> str:
    return (
        f"SERVICE=WMS&VERSION={version}&REQUEST=GetMap&LAYERS={layers}&STYLES=&{where}"
        f"&WIDTH=360&HEIGHT=180&FORMAT=image/png{extra}"
    )


def _close(pixel: tuple[int, ...], rgb: tuple[int, int, int], tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], rgb, strict=False))


@pytest.mark.parametrize("fmt", ["image/png", "image/png; mode=8bit", "image/jpeg", "image/webp"])
def test_formats_draw_the_feature_over_the_background(wms: Server, fmt: str) -> None:
    query = _map(extra="&BGCOLOR=0x0000FF").replace("image/png", quote(fmt))
    result = get(wms, query)
    assert result.headers["Content-Type"] == fmt
    picture = image(result).convert("RGB")
    assert picture.size == (360, 180)
    assert _close(picture.getpixel(FRANCE), FILL, 20)
    assert _close(picture.getpixel(ATLANTIC), (0, 0, 255), 20)


def test_transparent_png_has_alpha_outside_features(wms: Server) -> None:
    picture = image(get(wms, _map(extra="&TRANSPARENT=TRUE"))).convert("RGBA")
    assert picture.getpixel(ATLANTIC)[3] == 0
    assert picture.getpixel(FRANCE)[3] == 255


def test_1_1_1_x_y_and_1_3_0_lat_lon_draw_the_same_map(wms: Server) -> None:
    new = image(get(wms, _map()))
    old = image(get(wms, _map(version="1.1.1", where=WORLD_111)))
    assert new.tobytes() == old.tobytes()
    crs84 = image(get(wms, _map(where="CRS=CRS:84&BBOX=-180,-90,180,90")))
    assert crs84.tobytes() == new.tobytes()


def test_web_mercator(wms: Server) -> None:
    # France around (260000, 5800000) in EPSG:3857
    where = "CRS=EPSG:3857&BBOX=-1000000,5000000,1500000,6500000"
    picture = image(get(wms, _map(where=where) + "&TRANSPARENT=TRUE"))
    assert _close(
        picture.getpixel((int(1260000 / 2500000 * 360), int(700000 / 1500000 * 180))), FILL
    )


@pytest.mark.parametrize(
    "where",
    [
        "CRS=EPSG:4267&BBOX=33.5,-84.5,36.7,-75.3",
        "CRS=EPSG:4326&BBOX=33.5,-84.5,36.7,-75.3",
        "CRS=CRS:84&BBOX=-84.5,33.5,-75.3,36.7",
        "CRS=EPSG:3857&BBOX=-9400000,3960000,-8380000,4400000",
    ],
)
def test_a_layer_in_nad27_is_drawn_in_every_crs(wms: Server, where: str) -> None:
    # EPSG:4267's area of use crosses the antimeridian: the read window must not vanish.
    picture = image(get(wms, _map("nc_counties", where=where) + "&TRANSPARENT=TRUE"))
    alpha = picture.convert("RGBA").getchannel("A")
    covered = sum(1 for value in alpha.getdata() if value > 0) / (360 * 180)
    assert 0.3 < covered < 0.7


def test_role_user_sees_only_africa_and_europe(role_wms: Server) -> None:
    user = image(get(role_wms, _map(extra="&TRANSPARENT=TRUE"), "user"))
    assert _close(user.getpixel(FRANCE), FILL)
    assert user.getpixel(BRAZIL)[3] == 0
    admin = image(get(role_wms, _map(extra="&TRANSPARENT=TRUE"), "admin"))
    assert _close(admin.getpixel(BRAZIL), FILL)


def test_layer_the_caller_may_not_read_is_403(role_wms: Server) -> None:
    result = get(role_wms, _map("nc_counties"), "user")
    assert result.status == 403
    assert b'code="Security"' in validate_exception_report(result.body)


def validate_exception_report(body: bytes, version: str = "1.3.0") -> bytes:
    validate_exception(body, version)
    return body


def test_filter_keeps_only_matching_features(wms: Server) -> None:
    flt = quote("countries:\"name\" = 'France'")
    picture = image(get(wms, _map(extra=f"&TRANSPARENT=TRUE&FILTER={flt}")))
    assert _close(picture.getpixel(FRANCE), FILL)
    assert picture.getpixel(GERMANY)[3] == 0


def test_filter_is_combined_with_the_access_rules(role_wms: Server) -> None:
    flt = quote("countries:name IN ('France', 'Brazil')")
    picture = image(get(role_wms, _map(extra=f"&TRANSPARENT=TRUE&FILTER={flt}"), "user"))
    assert _close(picture.getpixel(FRANCE), FILL)
    assert picture.getpixel(BRAZIL)[3] == 0


@pytest.mark.parametrize(
    "payload",
    [
        "countries:name = 'x' OR 1=1 --",
        "countries:name = 'x'' OR ''1''=''1'",
        "countries:name = 'x'); DROP TABLE countries; --",
        "countries:name = 'x\"; SELECT * FROM sqlite_master'",
    ],
)
def test_filter_injection_payloads_are_harmless(wms: Server, payload: str) -> None:
    result = get(wms, _map(extra=f"&TRANSPARENT=TRUE&FILTER={quote(payload)}"))
    if result.status == 200:
        assert image(result).getpixel(FRANCE)[3] == 0  # nothing matched
    else:
        assert result.status == 400 and b"InvalidParameterValue" in result.body
    assert image(get(wms, _map())).getpixel(FRANCE)[:3] == FILL  # the table is still there


@pytest.mark.parametrize(
    "flt", ["countries:name ===", "countries:", "name = 'France'", "countries:nosuchfield = 1"]
)
def test_filter_errors_are_invalid_parameter_value(wms: Server, flt: str) -> None:
    result = get(wms, _map(extra=f"&FILTER={quote(flt)}"))
    assert result.status == 400
    assert b'code="InvalidParameterValue"' in validate_exception_report(result.body)


def test_filter_on_a_hidden_attribute_is_refused(role_wms: Server) -> None:
    result = get(role_wms, _map(extra=f"&FILTER={quote('countries:pop_est > 0')}"), "user")
    assert result.status == 400


def test_group_draws_its_readable_members(wms: Server) -> None:
    picture = image(get(wms, _map("places", "&TRANSPARENT=TRUE")))
    assert picture.getextrema()[3][1] == 255  # some city drawn
    assert picture.getpixel(FRANCE)[3] == 0 or picture.getpixel(FRANCE)[:3] != FILL


def test_raster_layer(wms: Server) -> None:
    where = "CRS=EPSG:4326&BBOX=49.45,5.75,50.15,6.5"
    picture = image(get(wms, _map("elevation", "&TRANSPARENT=TRUE", where=where)))
    assert picture.getpixel((180, 90))[3] == 255


def test_scale_dependent_layer(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from wms_projects import scaled_project

    from ogcserve.testing import make_server

    server = make_server([scaled_project(tmp_path)])
    world = image(get(server, _map(extra="&TRANSPARENT=TRUE")))  # about 1:400,000,000
    assert world.getextrema()[3] == (0, 0)
    where = "CRS=EPSG:4326&BBOX=44,0,49,5"  # France, about 1:5,500,000
    zoomed = image(get(server, _map(extra="&TRANSPARENT=TRUE", where=where)))
    assert zoomed.getpixel((180, 90))[3] == 255


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (("&BBOX=-90,-180,90,180", ""), "MissingParameterValue"),
        (("BBOX=-90,-180,90,180", "BBOX=90,-180,-90,180"), "InvalidParameterValue"),
        (("BBOX=-90,-180,90,180", "BBOX=a,b,c,d"), "InvalidParameterValue"),
        (("BBOX=-90,-180,90,180", "BBOX=1,2,3"), "InvalidParameterValue"),
        (("WIDTH=360", "WIDTH=0"), "InvalidParameterValue"),
        (("WIDTH=360", "WIDTH=100000"), "InvalidParameterValue"),
        (("HEIGHT=180", "HEIGHT=4097"), "InvalidParameterValue"),
        (("WIDTH=360", "WIDTH=-3"), "InvalidParameterValue"),
        (("CRS=EPSG:4326", "CRS=EPSG:999999"), "InvalidCRS"),
        (("CRS=EPSG:4326", "CRS=FOO:1"), "InvalidCRS"),
        (("LAYERS=countries", "LAYERS=nope"), "LayerNotDefined"),
        (("STYLES=", "STYLES=fancy"), "StyleNotDefined"),
        (("STYLES=", "STYLES=a,b"), "StyleNotDefined"),
        (("FORMAT=image/png", "FORMAT=image/gif"), "InvalidFormat"),
        (("LAYERS=countries", "LAYERS="), "MissingParameterValue"),
    ],
)
def test_bad_input_is_a_400_with_its_ogc_code(
    wms: Server, change: tuple[str, str], code: str
) -> None:
    result = get(wms, _map().replace(*change))
    assert result.status == 400, result.body
    doc = validate_exception_report(result.body)
    assert f'code="{code}"'.encode() in doc


def test_1_1_1_errors_are_the_1_1_1_report(wms: Server) -> None:
    result = get(wms, _map("nope", version="1.1.1", where=WORLD_111))
    assert result.status == 400
    assert result.headers["Content-Type"].startswith("application/vnd.ogc.se_xml")
    validate_exception(result.body, "1.1.1")


def test_default_style_by_name(wms: Server) -> None:
    assert get(wms, _map().replace("STYLES=", "STYLES=default")).status == 200


@pytest.mark.parametrize(
    ("version", "value"), [("1.3.0", "INIMAGE"), ("1.1.1", "application/vnd.ogc.se_inimage")]
)
def test_exceptions_inimage(wms: Server, version: str, value: str) -> None:
    where = WORLD_130 if version == "1.3.0" else WORLD_111
    result = get(wms, _map("nope", f"&EXCEPTIONS={value}", version, where))
    assert result.status == 200 and result.headers["Content-Type"] == "image/png"
    picture = image(result).convert("RGB")
    assert picture.size == (360, 180)
    assert len(picture.getcolors(10000) or []) > 1  # the message is drawn


def test_exceptions_blank_is_transparent(wms: Server) -> None:
    result = get(wms, _map("nope", "&EXCEPTIONS=BLANK&TRANSPARENT=TRUE"))
    assert result.status == 200
    assert image(result).convert("RGBA").getextrema()[3] == (0, 0)


def test_exceptions_blank_with_bgcolor_and_jpeg(wms: Server) -> None:
    query = _map("nope", "&EXCEPTIONS=BLANK&BGCOLOR=0xFF0000").replace("image/png", "image/jpeg")
    result = get(wms, query)
    assert result.headers["Content-Type"] == "image/jpeg"
    assert _close(image(result).convert("RGB").getpixel((10, 10)), (255, 0, 0), 8)


def test_inimage_with_an_impossible_size_falls_back_to_xml(wms: Server) -> None:
    result = get(wms, _map(extra="&EXCEPTIONS=INIMAGE").replace("WIDTH=360", "WIDTH=100000"))
    assert result.status == 400 and b"ServiceExceptionReport" in result.body


def test_nothing_kills_a_worker(wms: Server) -> None:
    for query in [
        _map().replace("BBOX=-90,-180,90,180", "BBOX=nan,0,1,1"),
        _map().replace("WIDTH=360", "WIDTH=1e400"),
        _map(extra="&FILTER=" + quote("countries:" + "(" * 500 + "1=1" + ")" * 500)),
    ]:
        assert get(wms, query).status == 400
    assert get(wms, _map()).status == 200


def test_a_marker_just_outside_the_view_still_shows_its_edge(wms: Server) -> None:
    # Tiles must meet without seams: Paris lies 2 px beyond the right edge of this 100 px tile
    # (0.01 degree pixels), and its 6 px marker reaches into the last column.
    lon, lat = 2.3529924615392135, 48.85809231626911
    east = lon - 0.02
    where = f"CRS=EPSG:4326&BBOX={lat - 0.5},{east - 1},{lat + 0.5},{east}"
    query = (
        f"SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=cities&STYLES=&{where}"
        "&WIDTH=100&HEIGHT=100&FORMAT=image/png&TRANSPARENT=TRUE"
    )
    picture = image(get(wms, query)).convert("RGBA")
    assert picture.getpixel((99, 50))[3] > 0
    assert picture.getpixel((99, 40))[3] == 0 and picture.getpixel((90, 50))[3] == 0
