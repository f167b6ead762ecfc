"""Axis order, every way a client writes a CRS, in every WFS version and GML 2 / 3.1.1 / 3.2, for
Insert, Update, KVP BBOX and filter geometries, each read back: the stored point checked in the
GeoPackage, and the feature read through GetFeature in a stated CRS and axis order.

The expected order is written out here, not computed by the code under test: WFS 1.0.0 is
always x/y; from 1.1.0 on the URN and http URI forms of EPSG:4326 are latitude/longitude and
the short `EPSG:4326`, `epsg.xml#4326` and CRS84 forms longitude/latitude (GeoServer's rule).
The Transaction bodies QGIS desktop 3.22 posts (captured by test_wfs_qgis.py) are among them.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from urllib.parse import quote

import pytest
import shapely
from client_transactions import GDAL_INSERTS, QGIS_INSERTS, QGIS_UPDATES
from wfs_support import DEMO, EDIT_YAML, NS, build, exception_code, get, make_parcels, post

from ogcserve.server import Server
from ogcserve.services.wfs.crs import parse_srs
from ogcserve.sources.gpkg_binary import strip_gpkg_headers

PARIS = (2.3522, 48.8566)  # longitude, latitude
E = "https://ogcserve.org/edit"
WFS_NS = {"2.0.0": NS["wfs"], "1.1.0": NS["wfs1"], "1.0.0": NS["wfs1"]}
GML_NS = {"2": NS["gml3"], "3.1.1": NS["gml3"], "3.2": NS["gml"]}

# Every spelling of WGS 84 clients send, and whether it is latitude-first from WFS 1.1.0 on.
LAT_FIRST = {
    "EPSG:4326": False,
    "urn:ogc:def:crs:EPSG::4326": True,
    "urn:x-ogc:def:crs:EPSG:4326": True,
    "http://www.opengis.net/def/crs/EPSG/0/4326": True,
    "http://www.opengis.net/gml/srs/epsg.xml#4326": False,
    "urn:ogc:def:crs:OGC:1.3:CRS84": False,
    "CRS:84": False,
    "http://www.opengis.net/def/crs/OGC/1.3/CRS84": False,
}
VERSIONS = ("2.0.0", "1.1.0", "1.0.0")
GMLS = ("2", "3.1.1", "3.2")
_names = count()


def lat_first(srs: str, version: str) -> bool:
    return version != "1.0.0" and LAT_FIRST[srs]


def written(point: tuple[float, float], srs: str, version: str) -> tuple[float, float]:
    x, y = point
    return (y, x) if lat_first(srs, version) else (x, y)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("axis")
    for name in ("data.gpkg", "other.gpkg"):
        shutil.copyfile(DEMO / "natural_earth.gpkg", folder / name)
        (folder / name).chmod(0o644)
    make_parcels(folder / "data.gpkg")
    (folder / "edit.yaml").write_text(EDIT_YAML)
    return folder / "edit.yaml"


@pytest.fixture(scope="module")
def srv(project: Path) -> Iterator[Server]:
    server = build([project])
    yield server
    server.close()


def stored(project: Path, name: str) -> tuple[float, float]:
    """The point of the parcel called `name`, as it is in the GeoPackage (x, y)."""
    with sqlite3.connect(project.parent / "data.gpkg") as conn:
        rows = conn.execute("SELECT geom FROM parcels WHERE name = ?", (name,)).fetchall()
    assert len(rows) == 1, rows
    point = shapely.from_wkb(strip_gpkg_headers([rows[0][0]])[0])
    return point.x, point.y


def point(gml: str, srs: str | None, xy: tuple[float, float]) -> str:
    """A gml:Point in GML `gml` (2: gml:coordinates, 3.x: gml:pos) with the numbers as given."""
    attr = f' srsName="{srs}"' if srs else ""
    if gml == "2":
        return (
            f'<gml:Point{attr}><gml:coordinates cs="," ts=" ">{xy[0]},{xy[1]}'
            "</gml:coordinates></gml:Point>"
        )
    gid = ' gml:id="p1"' if gml == "3.2" else ""
    return f"<gml:Point{gid}{attr}><gml:pos>{xy[0]} {xy[1]}</gml:pos></gml:Point>"


def envelope(gml: str, srs: str, low: tuple[float, float], high: tuple[float, float]) -> str:
    if gml == "2":
        return (
            f'<gml:Box srsName="{srs}"><gml:coordinates>{low[0]},{low[1]} '
            f"{high[0]},{high[1]}</gml:coordinates></gml:Box>"
        )
    return (
        f'<gml:Envelope srsName="{srs}"><gml:lowerCorner>{low[0]} {low[1]}</gml:lowerCorner>'
        f"<gml:upperCorner>{high[0]} {high[1]}</gml:upperCorner></gml:Envelope>"
    )


def transaction(version: str, gml: str, actions: str) -> str:
    filter_ns = NS["fes"] if version == "2.0.0" else NS["ogc"]
    return (
        f'<wfs:Transaction service="WFS" version="{version}" xmlns:wfs="{WFS_NS[version]}" '
        f'xmlns:gml="{GML_NS[gml]}" xmlns:f="{filter_ns}" xmlns:e="{E}">{actions}'
        "</wfs:Transaction>"
    )


def insert(name: str, geometry: str) -> str:
    return (
        f"<wfs:Insert><e:parcels><e:geom>{geometry}</e:geom><e:role>a</e:role>"
        f"<e:name>{name}</e:name></e:parcels></wfs:Insert>"
    )


def by_name(version: str, name: str) -> str:
    ref = "ValueReference" if version == "2.0.0" else "PropertyName"
    return (
        f"<f:Filter><f:PropertyIsEqualTo><f:{ref}>name</f:{ref}><f:Literal>{name}"
        "</f:Literal></f:PropertyIsEqualTo></f:Filter>"
    )


def update(version: str, name: str, geometry: str) -> str:
    ref = "ValueReference" if version == "2.0.0" else "Name"
    return (
        f'<wfs:Update typeName="e:parcels"><wfs:Property><wfs:{ref}>geom</wfs:{ref}>'
        f"<wfs:Value>{geometry}</wfs:Value></wfs:Property>{by_name(version, name)}"
        "</wfs:Update>"
    )


def read_back(srv: Server, version: str, name: str, srs: str, fmt: str = "") -> tuple[float, float]:
    """The parcel's point as GetFeature writes it in `version` with SRSNAME=`srs` (in GML `fmt`,
    else the version's default)."""
    names = "TYPENAMES" if version == "2.0.0" else "TYPENAME"
    value = "ValueReference" if version == "2.0.0" else "PropertyName"
    ns = NS["fes"] if version == "2.0.0" else NS["ogc"]
    flt = (
        f'<Filter xmlns="{ns}"><PropertyIsEqualTo><{value}>name</{value}>'
        f"<Literal>{name}</Literal></PropertyIsEqualTo></Filter>"
    )
    r = get(
        srv,
        f"SERVICE=WFS&REQUEST=GetFeature&VERSION={version}&{names}=parcels"
        f"&SRSNAME={quote(srs)}&FILTER={quote(flt)}&OUTPUTFORMAT={quote(fmt)}",
    )
    assert r.status == 200, r.body[:500]
    found = re.findall(rb"<gml:(?:pos|coordinates)[^>]*>([^<]+)<", r.body)
    assert len(found) == 1, r.body[:800]
    a, b = (float(v) for v in re.split(r"[ ,]", found[0].decode().strip()))
    return a, b


def close(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return abs(a[0] - b[0]) < 1e-9 and abs(a[1] - b[1]) < 1e-9


# --- the rule, on its own -------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("srs", LAT_FIRST)
def test_each_notation_has_its_axis_order_in_each_version(srs: str, version: str) -> None:
    parsed = parse_srs(srs, version)
    assert parsed.swap is lat_first(srs, version)
    assert parsed.code == ("OGC:CRS84" if "84" in srs else "EPSG:4326")


@pytest.mark.parametrize("srs", LAT_FIRST)
def test_wfs_1_0_answers_name_the_crs_as_x_y(srv: Server, srs: str) -> None:
    # In 1.0.0 a URN would tell GML readers (GDAL's, QGIS's) to read latitude first: the
    # answer names the CRS in a form read x/y everywhere.
    r = get(
        srv,
        f"SERVICE=WFS&REQUEST=GetFeature&VERSION=1.0.0&TYPENAME=parcels"
        f"&MAXFEATURES=1&SRSNAME={quote(srs)}",
    )
    found = set(re.findall(rb'srsName="([^"]+)"', r.body))
    assert found and all(parse_srs(n.decode(), "2.0.0").swap is False for n in found), found


@pytest.mark.parametrize(
    ("srs", "swap"),
    [
        ("urn:ogc:def:crs:EPSG::3857", False),
        ("urn:ogc:def:crs:EPSG::3035", True),
        ("EPSG:3035", False),
    ],
)
def test_projected_crs_follow_their_epsg_axes(srs: str, swap: bool) -> None:
    # EPSG:3035 (ETRS89-LAEA) is northing, easting in the EPSG registry; 3857 easting first.
    assert parse_srs(srs, "2.0.0").swap is swap
    assert parse_srs(srs, "1.0.0").swap is False


# --- Insert and Update, read back -------------------------------------------------------------


@pytest.mark.parametrize("gml", GMLS)
@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("srs", LAT_FIRST)
def test_insert_round_trip(srv: Server, project: Path, srs: str, version: str, gml: str) -> None:
    name = f"ins{next(_names)}"
    body = transaction(version, gml, insert(name, point(gml, srs, written(PARIS, srs, version))))
    r = post(srv, body)
    assert r.status == 200, r.body[:600]
    assert close(stored(project, name), PARIS)
    # Read back in the same notation and version, and as QGIS reads it (2.0.0, URN).
    assert close(read_back(srv, version, name, srs), written(PARIS, srs, version))
    urn = "urn:ogc:def:crs:EPSG::4326"
    assert close(read_back(srv, "2.0.0", name, urn), (PARIS[1], PARIS[0]))
    assert close(read_back(srv, "1.0.0", name, urn), PARIS)


@pytest.mark.parametrize(
    "fmt",
    [
        "application/gml+xml; version=3.2",
        "text/xml; subtype=gml/3.1.1",
        "text/xml; subtype=gml/2.1.2",
    ],
)
@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("srs", LAT_FIRST)
def test_every_gml_output_follows_the_rule(srv: Server, srs: str, version: str, fmt: str) -> None:
    # Parcel 1 is stored at x=1, y=0.5; the GML version of the answer does not change its order.
    assert close(read_back(srv, version, "parcel 1", srs, fmt), written((1.0, 0.5), srs, version))


@pytest.mark.parametrize("gml", GMLS)
@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("srs", LAT_FIRST)
def test_update_round_trip(srv: Server, project: Path, srs: str, version: str, gml: str) -> None:
    name = f"upd{next(_names)}"
    start = transaction("2.0.0", "3.2", insert(name, point("3.2", "EPSG:4326", (0.5, 0.5))))
    assert post(srv, start).status == 200
    moved = update(version, name, point(gml, srs, written(PARIS, srs, version)))
    r = post(srv, transaction(version, gml, moved))
    assert r.status == 200, r.body[:600]
    assert close(stored(project, name), PARIS)
    assert close(read_back(srv, version, name, srs), written(PARIS, srs, version))


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("srs", LAT_FIRST)
def test_insert_without_srsname_uses_the_transaction_or_type_default(
    srv: Server, project: Path, srs: str, version: str
) -> None:
    # The srsName of the Insert element stands for the geometries that carry none.
    name = f"def{next(_names)}"
    body = transaction(
        version, "3.1.1", insert(name, point("3.1.1", None, written(PARIS, srs, version)))
    )
    body = body.replace("<wfs:Insert>", f'<wfs:Insert srsName="{srs}">')
    assert post(srv, body).status == 200
    assert close(stored(project, name), PARIS)


@pytest.mark.parametrize("version", VERSIONS)
def test_insert_without_any_srsname_is_in_the_types_default_crs(
    srv: Server, project: Path, version: str
) -> None:
    # The default CRS is advertised as the URN from 1.1.0 on (latitude first), EPSG:4326 in
    # 1.0.0 (x/y).
    name = f"none{next(_names)}"
    xy = PARIS if version == "1.0.0" else (PARIS[1], PARIS[0])
    assert (
        post(srv, transaction(version, "3.1.1", insert(name, point("3.1.1", None, xy)))).status
        == 200
    )
    assert close(stored(project, name), PARIS)


def test_projected_insert_in_a_north_first_crs(srv: Server, project: Path) -> None:
    # EPSG:3035 as a URN in WFS 2.0 is northing, easting; as EPSG:3035 easting, northing.
    from pyproj import Transformer

    east, north = Transformer.from_crs("EPSG:4326", "EPSG:3035", always_xy=True).transform(*PARIS)
    for srs, xy in (("urn:ogc:def:crs:EPSG::3035", (north, east)), ("EPSG:3035", (east, north))):
        name = f"laea{next(_names)}"
        r = post(srv, transaction("2.0.0", "3.2", insert(name, point("3.2", srs, xy))))
        assert r.status == 200, r.body[:500]
        x, y = stored(project, name)
        assert abs(x - PARIS[0]) < 1e-6 and abs(y - PARIS[1]) < 1e-6


# --- what QGIS desktop and GDAL post -----------------------------------------------------------


CAPTURED = {
    **{f"qgis-{v}": b for v, b in QGIS_INSERTS.items()},
    **{f"gdal-{v}": b for v, b in GDAL_INSERTS.items()},
}


@pytest.mark.parametrize("client", CAPTURED)
def test_what_qgis_and_gdal_post_lands_in_paris(srv: Server, project: Path, client: str) -> None:
    # QGIS, layer in 2.0.0: a 1.0.0 Transaction, GML 2 x,y under the URN; in 1.1.0: GML 3
    # latitude, longitude under the URN; in 1.0.0: GML 2 x,y under EPSG:4326. GDAL in 2.0.0:
    # GML 3 latitude, longitude under the URN.
    name = f"client{next(_names)}"
    r = post(srv, CAPTURED[client].replace("NAME", name))
    assert r.status == 200, r.body
    assert b"<wfs:SUCCESS/>" in r.body or b"<wfs:totalInserted>1<" in r.body, r.body
    if client == "gdal-2.0.0":
        # GDAL reads the answer to its version="2.0.0" in the 1.x namespace as 1.1.0.
        assert b'<ogc:FeatureId fid="parcels.' in r.body, r.body
    x, y = stored(project, name)
    assert abs(x - PARIS[0]) < 1e-9 and abs(y - PARIS[1]) < 1e-9


@pytest.mark.parametrize("layer_version", QGIS_UPDATES)
def test_qgis_geometry_updates_land_where_they_were_drawn(
    srv: Server, project: Path, layer_version: str
) -> None:
    # 2.0.0 and 1.0.0 layers: GML 2 x,y (URN / EPSG:4326); 1.1.0: GML 3 lat,lon under the URN.
    with sqlite3.connect(project.parent / "data.gpkg") as conn:
        conn.execute("UPDATE parcels SET geom = NULL WHERE fid = 2")
    r = post(srv, QGIS_UPDATES[layer_version])
    assert r.status == 200, r.body
    assert b"<wfs:SUCCESS/>" in r.body or b"<wfs:totalUpdated>1<" in r.body, r.body
    x, y = stored(project, "parcel 2")
    assert abs(x - 2.3522) < 1e-9 and abs(y - 48.8666) < 1e-9


# --- BBOX (KVP and filter) and filter geometries ------------------------------------------------


def _paris_parcel(srv: Server, project: Path) -> str:
    name = f"bbox{next(_names)}"
    assert (
        post(srv, transaction("1.0.0", "2", insert(name, point("2", "EPSG:4326", PARIS)))).status
        == 200
    )
    return name


def _hits(srv: Server, version: str, query: str, name: str) -> bool:
    names = "TYPENAMES" if version == "2.0.0" else "TYPENAME"
    r = get(srv, f"SERVICE=WFS&REQUEST=GetFeature&VERSION={version}&{names}=parcels&{query}")
    assert r.status == 200, r.body[:500]
    return f">{name}<".encode() in r.body


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("srs", LAT_FIRST)
def test_kvp_bbox(srv: Server, project: Path, srs: str, version: str) -> None:
    name = _paris_parcel(srv, project)
    (a, b), (c, d) = written((2.3, 48.8), srs, version), written((2.4, 48.9), srs, version)
    assert _hits(srv, version, f"BBOX={a},{b},{c},{d},{quote(srs)}", name)
    # The same numbers in the other order select nothing near Paris.
    assert not _hits(srv, version, f"BBOX={b},{a},{d},{c},{quote(srs)}", name)


@pytest.mark.parametrize("gml", GMLS)
@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("srs", LAT_FIRST)
def test_filter_bbox_and_intersects(
    srv: Server, project: Path, srs: str, version: str, gml: str
) -> None:
    name = _paris_parcel(srv, project)
    ns = NS["fes"] if version == "2.0.0" else NS["ogc"]
    prop = "ValueReference" if version == "2.0.0" else "PropertyName"
    low, high = written((2.3, 48.8), srs, version), written((2.4, 48.9), srs, version)
    box = (
        f'<Filter xmlns="{ns}" xmlns:gml="{GML_NS[gml]}"><BBOX><{prop}>geom</{prop}>'
        f"{envelope(gml, srs, low, high)}</BBOX></Filter>"
    )
    assert _hits(srv, version, f"FILTER={quote(box)}", name)
    swapped = (
        f'<Filter xmlns="{ns}" xmlns:gml="{GML_NS[gml]}"><BBOX><{prop}>geom</{prop}>'
        f"{envelope(gml, srs, low[::-1], high[::-1])}</BBOX></Filter>"
    )
    assert not _hits(srv, version, f"FILTER={quote(swapped)}", name)
    dwithin = (
        f'<Filter xmlns="{ns}" xmlns:gml="{GML_NS[gml]}"><DWithin><{prop}>geom</{prop}>'
        f"{point(gml, srs, written(PARIS, srs, version))}"
        f'<Distance uom="m" units="m">1000</Distance></DWithin></Filter>'
    )
    assert _hits(srv, version, f"FILTER={quote(dwithin)}", name)


def test_unknown_crs_is_invalid(srv: Server) -> None:
    r = get(
        srv,
        "SERVICE=WFS&REQUEST=GetFeature&VERSION=2.0.0&TYPENAMES=parcels"
        "&SRSNAME=urn:ogc:def:crs:EPSG::999999",
    )
    assert r.status == 400 and exception_code(r) in ("InvalidParameterValue", "InvalidCRS")
