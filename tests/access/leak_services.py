"""The leak property's reads of the services beyond WMS, WFS and OGC API - Features: WCS,
the tiles (WMTS KVP and RESTful, OGC API - Tiles, XYZ) and the viewer's pages, as one role.

What a role may not read is answered as each protocol answers it elsewhere: a data layer named
in an OWS request (WCS, WMTS) is refused as forbidden (403 Security, as WMS does); a collection
of OGC API - Tiles or an XYZ layer is answered as one that never existed (404, as OGC API -
Features does); a group of which nothing is readable is an unknown name everywhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

from leak_probes import HOLE, INFO_FORMATS, Probe, geojson_features, twin
from leak_world import CENTRE, Visible, World, phantom

# The tile holding CENTRE (lon 10, lat 10) and the pixel on it, in both matrix sets.
CRS84 = "TILEMATRIXSET=WorldCRS84Quad&TILEMATRIX=5&TILEROW=14&TILECOL=33"
CRS84_PIXEL = "I=199&J=56"
MERCATOR = ("WebMercatorQuad", 3, 3, 4)  # set, level, row, column
MERCATOR_PIXEL = "199/56"  # j/i
RASTER = "WIDTH=4&HEIGHT=4"  # the world's raster is 4 x 4 pixels of 2 degrees
BOX = f"{CENTRE[0] - 4},{CENTRE[1] - 4},{CENTRE[0] + 4},{CENTRE[1] + 4}"


def service_probes(world: World, seen: Visible) -> Iterator[Probe]:
    """Every WCS, tile and viewer read the property makes as one role."""
    yield from _documents(world, seen)
    names = [spec.name for spec in world.layers]
    if world.group is not None:
        names.append(world.group[0])
    for name in names:
        if name in seen.tokens:
            # A click on CENTRE finds every row of a layer (not counted for a group).
            count = seen.count(name) if name in seen.layers else None
            yield from _readable_tiles(name, count)
        else:
            yield from _hidden_tiles(name, "g" if world.group and name == world.group[0] else "l")
        yield from _not_a_coverage(name)
    if world.raster is not None:
        name = world.raster[0]
        if name in seen.tokens:
            yield from _readable_tiles(name, 1)  # the raster's pixel
            yield from _readable_coverage(name)
        else:
            yield from _hidden_tiles(name, "l")
            yield from _hidden_coverage(name)


def _wcs(request: str, version: str, rest: str = "") -> str:
    return f"SERVICE=WCS&VERSION={version}&REQUEST={request}&{rest}"


def _documents(world: World, seen: Visible) -> Iterator[Probe]:
    for version in ("2.0.1", "1.1.1", "1.0.0"):
        yield Probe(f"WCS {version} GetCapabilities", _wcs("GetCapabilities", version), ok=True)
    yield Probe("WMTS GetCapabilities", "SERVICE=WMTS&REQUEST=GetCapabilities", ok=True)
    for path in ("/wmts/leak/1.0.0/WMTSCapabilities.xml", "/ogcapi/leak/tileMatrixSets", "/"):
        yield Probe(f"tiles/viewer {path}", path, ok=True)
    # A project of which the caller may read nothing is as absent from the project's tiles and
    # the viewer as from the landing page (404).
    readable = bool(seen.layers) or (world.raster is not None and world.raster[0] in seen.tokens)
    for path in (
        "/ogcapi/leak/map/tiles",
        "/ogcapi/leak/map/tiles/WebMercatorQuad",
        "/ogcapi/leak/map/tiles/WebMercatorQuad/3/3/4?f=png",
        "/viewer/leak",
    ):
        yield Probe(f"tiles/viewer {path}", path, ok=readable)


def _tile_paths(name: str) -> Iterator[tuple[str, str]]:
    tms, level, row, col = MERCATOR
    collection = f"/ogcapi/leak/collections/{name}/map/tiles"
    yield "OGC API tilesets", collection
    yield "OGC API tileset", f"{collection}/{tms}"
    yield "OGC API tile", f"{collection}/{tms}/{level}/{row}/{col}?f=png"
    yield "XYZ tile", f"/tiles/leak/{name}/{level}/{col}/{row}.png"


def _wmts(name: str) -> Iterator[tuple[str, str]]:
    tile = f"LAYER={name}&STYLE=default&FORMAT=image/png&{CRS84}"
    yield "WMTS GetTile", f"SERVICE=WMTS&VERSION=1.0.0&REQUEST=GetTile&{tile}"
    for fmt in INFO_FORMATS[:4]:  # text, HTML, XML and GML
        yield (
            f"WMTS GetFeatureInfo {fmt}",
            f"SERVICE=WMTS&VERSION=1.0.0&REQUEST=GetFeatureInfo&{tile}&{CRS84_PIXEL}"
            f"&INFOFORMAT={quote(fmt)}",
        )
    yield (
        "WMTS GetFeatureInfo application/json",
        f"SERVICE=WMTS&VERSION=1.0.0&REQUEST=GetFeatureInfo&{tile}&{CRS84_PIXEL}"
        "&INFOFORMAT=application/json",
    )
    tms, level, row, col = MERCATOR
    yield "WMTS RESTful tile", f"/wmts/leak/{name}/default/{tms}/{level}/{row}/{col}.png"
    yield (
        "WMTS RESTful GetFeatureInfo",
        f"/wmts/leak/{name}/default/{tms}/{level}/{row}/{col}/{MERCATOR_PIXEL}.json",
    )


def _readable_tiles(name: str, count: int | None) -> Iterator[Probe]:
    for label, target in (*_wmts(name), *_tile_paths(name)):
        counted = count is not None and target.endswith(("=application/json", ".json"))
        yield Probe(
            f"{label} {name}",
            target,
            ok=True,
            count=(geojson_features, count) if counted and count is not None else None,
        )


def _hidden_tiles(name: str, kind: str) -> Iterator[Probe]:
    """WMTS refuses a hidden data layer as forbidden (kind "l") and a hidden group as an
    unknown name; OGC API - Tiles and XYZ answer both as a collection that never existed."""
    for label, target in _wmts(HOLE):
        yield twin(f"{label} hidden {name}", target, name, kind)
    other = phantom("l")
    for label, target in _tile_paths(HOLE):
        yield Probe(
            f"{label} hidden {name}",
            target.replace(HOLE, name),
            twin=Probe(f"{label} hidden {name} (phantom)", target.replace(HOLE, other)),
            swap=(name, other),
        )


def _coverage_requests(name: str) -> Iterator[tuple[str, str]]:
    yield "WCS 2.0.1 DescribeCoverage", _wcs("DescribeCoverage", "2.0.1", f"COVERAGEID={name}")
    yield (
        "WCS 2.0.1 GetCoverage",
        _wcs("GetCoverage", "2.0.1", f"COVERAGEID={name}&FORMAT=image/tiff"),
    )
    yield "WCS 1.1.1 DescribeCoverage", _wcs("DescribeCoverage", "1.1.1", f"IDENTIFIERS={name}")
    yield (
        "WCS 1.1.1 GetCoverage",
        _wcs(
            "GetCoverage",
            "1.1.1",
            f"IDENTIFIER={name}&FORMAT=image/tiff"
            f"&BOUNDINGBOX={CENTRE[1] - 4},{CENTRE[0] - 4},{CENTRE[1] + 4},{CENTRE[0] + 4},"
            "urn:ogc:def:crs:EPSG::4326",
        ),
    )
    yield "WCS 1.0.0 DescribeCoverage", _wcs("DescribeCoverage", "1.0.0", f"COVERAGE={name}")
    yield (
        "WCS 1.0.0 GetCoverage",
        _wcs(
            "GetCoverage",
            "1.0.0",
            f"COVERAGE={name}&CRS=EPSG:4326&BBOX={BOX}&{RASTER}&FORMAT=GeoTIFF",
        ),
    )


def _readable_coverage(name: str) -> Iterator[Probe]:
    for label, query in _coverage_requests(name):
        yield Probe(f"{label} {name}", query, ok=True)


def _hidden_coverage(name: str) -> Iterator[Probe]:
    for label, query in _coverage_requests(HOLE):
        yield twin(f"{label} hidden {name}", query, name, "l")


def _not_a_coverage(name: str) -> Iterator[Probe]:
    """A vector layer or group is no coverage, readable or not: answered as a coverage that
    does not exist, whatever the caller may read."""
    other = phantom("l")
    for label, query in _coverage_requests(HOLE):
        yield Probe(
            f"{label} (not a coverage) {name}",
            query.replace(HOLE, name),
            twin=Probe(f"{label} (not a coverage) {name} (phantom)", query.replace(HOLE, other)),
            swap=(name, other),
        )
