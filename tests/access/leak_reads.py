"""Every read the leak property makes as one role: WMS and WFS, every request and format (and,
through leak_ogcapi and leak_services, OGC API - Features, WCS, the tiles and the viewer)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

from leak_ogcapi import ogcapi_probes
from leak_probes import (
    BBOX_13,
    COUNTERS,
    FES,
    GETFEATURE_FORMATS,
    HOLE,
    INFO_FORMATS,
    MAP,
    NAMESPACE,
    WFS2,
    Probe,
    by_rid,
    csv_rows,
    expression,
    fes_equal,
    first_id,
    geojson_features,
    geojson_matched,
    geojson_next,
    gml_members,
    gml_next,
    matched,
    number_of_features,
    transaction,
    twin,
    wfs,
    wms,
)
from leak_services import service_probes
from leak_world import Condition, LayerSpec, Visible, World


def probes(world: World, seen: Visible) -> Iterator[Probe]:
    """Every request the property makes as one role (reads only; see `edits`)."""
    yield from _documents(world, seen)
    yield from ogcapi_probes(world, seen)
    yield from service_probes(world, seen)
    for spec in world.layers:
        if spec.name in seen.layers:
            yield from _readable(spec, seen)
        else:
            yield from _hidden_layer(spec.name, "l")
    if world.group is not None and world.group[0] not in seen.tokens:
        yield from _hidden_layer(world.group[0], "g", wfs_too=False)
    if world.raster is not None:
        name = world.raster[0]
        if name in seen.tokens:
            yield from _readable_raster(name)
        else:
            yield from _hidden_layer(name, "l", wfs_too=False)


def _readable_raster(name: str) -> Iterator[Probe]:
    on = f"LAYERS={name}&STYLES=&{MAP}"
    yield Probe(f"WMS GetMap {name}", wms("GetMap", f"{on}&FORMAT=image/png"), ok=True)
    for fmt in INFO_FORMATS:
        yield Probe(
            f"WMS GetFeatureInfo {fmt} {name}",
            wms("GetFeatureInfo", f"{on}&QUERY_LAYERS={name}&I=32&J=32&INFO_FORMAT={quote(fmt)}"),
            ok=True,
        )
    yield Probe(
        f"WMS GetLegendGraphic {name}",
        wms("GetLegendGraphic", f"LAYER={name}&FORMAT=image/png"),
        ok=True,
    )
    for request in ("GetStyles", "DescribeLayer"):
        yield Probe(f"WMS {request} {name}", wms(request, f"LAYERS={name}", "1.1.1"), ok=True)


def _documents(world: World, seen: Visible) -> Iterator[Probe]:
    for version in ("1.3.0", "1.1.1"):
        yield Probe(
            f"WMS {version} GetCapabilities", wms("GetCapabilities", version=version), ok=True
        )
    for version in ("2.0.0", "1.1.0", "1.0.0"):
        yield Probe(
            f"WFS {version} GetCapabilities", wfs("GetCapabilities", version=version), ok=True
        )
        yield Probe(
            f"WFS {version} DescribeFeatureType (all)",
            wfs("DescribeFeatureType", version=version),
            ok=bool(seen.layers),
        )
    yield Probe(
        "WFS DescribeFeatureType JSON (all)",
        wfs("DescribeFeatureType", "OUTPUTFORMAT=application/json"),
        ok=bool(seen.layers),
    )
    yield Probe("WFS ListStoredQueries", wfs("ListStoredQueries"), ok=True)
    yield Probe("WFS DescribeStoredQueries", wfs("DescribeStoredQueries"), ok=True)
    # The project as one layer: drawing, querying and describing it skips what is hidden.
    yield Probe(
        "WMS GetMap (project)", wms("GetMap", f"LAYERS=leak&STYLES=&{MAP}&FORMAT=image/png")
    )
    everything = sum(seen.count(name) for name in seen.layers)
    if world.raster is not None and world.raster[0] in seen.tokens:
        everything += 1  # the raster answers with its pixel
    for fmt in ("application/json", "text/xml"):
        yield Probe(
            f"WMS GetFeatureInfo {fmt} (project)",
            wms(
                "GetFeatureInfo",
                f"LAYERS=leak&QUERY_LAYERS=leak&STYLES=&{MAP}&I=32&J=32"
                f"&INFO_FORMAT={quote(fmt)}&FEATURE_COUNT=50",
            ),
            ok=bool(seen.layers),
            count=(geojson_features, everything) if fmt == "application/json" else None,
        )
    if world.group is not None and world.group[0] in seen.tokens:
        group = world.group[0]
        members = sum(seen.count(s.name) for s in world.layers[1:] if s.name in seen.layers)
        yield Probe(
            f"WMS GetFeatureInfo (group {group})",
            wms(
                "GetFeatureInfo",
                f"LAYERS={group}&QUERY_LAYERS={group}&STYLES=&{MAP}&I=32&J=32"
                "&INFO_FORMAT=application/json&FEATURE_COUNT=50",
            ),
            ok=True,
            count=(geojson_features, members),
        )
        for request in ("GetMap", "GetStyles", "DescribeLayer"):
            yield Probe(
                f"WMS {request} (group {group})",
                wms(request, f"LAYERS={group}&STYLES=&{MAP}&FORMAT=image/png", "1.1.1"),
                ok=True,
            )
    yield Probe(
        "WMS GetLegendGraphic (project)", wms("GetLegendGraphic", "LAYER=leak&FORMAT=image/png")
    )
    yield Probe("WMS GetStyles (project)", wms("GetStyles", "LAYERS=leak", "1.1.1"))
    yield Probe("WMS DescribeLayer (project)", wms("DescribeLayer", "LAYERS=leak", "1.1.1"))
    all_layers = ",".join(s.name for s in world.layers)
    yield Probe(
        "WFS GetFeature hits (every type)",
        wfs("GetFeature", f"TYPENAMES={all_layers}&RESULTTYPE=hits"),
    )


def _readable(spec: LayerSpec, seen: Visible) -> Iterator[Probe]:
    yield from _wms_layer(spec, seen)
    yield from _wfs_layer(spec, seen)
    yield from _filters(spec, seen)
    yield from _rows(spec, seen)


def _wms_layer(spec: LayerSpec, seen: Visible) -> Iterator[Probe]:
    name, count = spec.name, seen.count(spec.name)
    on = f"LAYERS={name}&QUERY_LAYERS={name}&STYLES=&{MAP}&I=32&J=32&FEATURE_COUNT=50"
    yield Probe(
        f"WMS GetMap {name}",
        wms("GetMap", f"LAYERS={name}&STYLES=&{MAP}&FORMAT=image/png"),
        ok=True,
    )
    for fmt in INFO_FORMATS:
        yield Probe(
            f"WMS GetFeatureInfo {fmt} {name}",
            wms("GetFeatureInfo", f"{on}&INFO_FORMAT={quote(fmt)}"),
            ok=True,
            count=(geojson_features, count) if fmt == "application/json" else None,
        )
    yield Probe(
        f"WMS 1.1.1 GetFeatureInfo {name}",
        wms(
            "GetFeatureInfo",
            on.replace("CRS=", "SRS=")
            .replace(BBOX_13, "5,5,15,15")
            .replace("I=32&J=32", "X=32&Y=32")
            + "&INFO_FORMAT=application/json",
            "1.1.1",
        ),
        ok=True,
        count=(geojson_features, count),
    )
    yield Probe(
        f"WMS GetLegendGraphic {name}",
        wms("GetLegendGraphic", f"LAYER={name}&FORMAT=image/png"),
        ok=True,
    )
    yield Probe(f"WMS GetStyles {name}", wms("GetStyles", f"LAYERS={name}", "1.1.1"), ok=True)
    yield Probe(
        f"WMS DescribeLayer {name}", wms("DescribeLayer", f"LAYERS={name}", "1.1.1"), ok=True
    )


def _wfs_layer(spec: LayerSpec, seen: Visible) -> Iterator[Probe]:
    name, count = spec.name, seen.count(spec.name)
    for version in ("2.0.0", "1.1.0", "1.0.0"):
        yield Probe(
            f"WFS {version} DescribeFeatureType {name}",
            wfs("DescribeFeatureType", f"TYPENAMES={name}&TYPENAME={name}", version),
            ok=True,
        )
    yield Probe(
        f"WFS DescribeFeatureType JSON {name}",
        wfs("DescribeFeatureType", f"TYPENAMES={name}&OUTPUTFORMAT=application/json"),
        ok=True,
    )
    for fmt in GETFEATURE_FORMATS:
        yield Probe(
            f"WFS GetFeature {fmt} {name}",
            wfs("GetFeature", f"TYPENAMES={name}&OUTPUTFORMAT={quote(fmt)}"),
            ok=True,
            count=(COUNTERS[fmt], count),
        )
    for version in ("1.1.0", "1.0.0"):
        yield Probe(
            f"WFS {version} GetFeature {name}",
            wfs("GetFeature", f"TYPENAME={name}", version),
            ok=True,
            count=(gml_members, count),
        )
    yield Probe(
        f"WFS hits {name}",
        wfs("GetFeature", f"TYPENAMES={name}&RESULTTYPE=hits"),
        ok=True,
        count=(matched, count),
    )
    yield Probe(
        f"WFS GeoJSON page 2 {name}",
        wfs(
            "GetFeature",
            f"TYPENAMES={name}&OUTPUTFORMAT=application/geo%2Bjson&COUNT=1&STARTINDEX=1",
        ),
        ok=True,
        count=(geojson_matched, count),
    )
    yield Probe(
        f"WFS GML page 2 {name}",
        wfs("GetFeature", f"TYPENAMES={name}&COUNT=1&STARTINDEX=1"),
        ok=True,
        count=(matched, count),
    )
    # A `next` link says that more rows follow page 2 (one row a page): only visible rows may
    # decide it. Without an exact count a full page may get one anyway.
    if spec.number_matched == "exact" or count != 2:
        for fmt, next_link in (("application/geo%2Bjson", geojson_next), ("", gml_next)):
            yield Probe(
                f"WFS next link {fmt or 'GML'} {name}",
                wfs("GetFeature", f"TYPENAMES={name}&OUTPUTFORMAT={fmt}&COUNT=1&STARTINDEX=1"),
                ok=True,
                count=(next_link, int(count > 2)),
            )
    yield Probe(
        f"WFS 1.1.0 hits {name}",
        wfs("GetFeature", f"TYPENAME={name}&RESULTTYPE=hits", "1.1.0"),
        ok=True,
        count=(number_of_features, count),
    )
    for attr in seen.attributes[name]:
        yield Probe(
            f"WFS GetPropertyValue {name}/{attr}",
            wfs("GetPropertyValue", f"TYPENAMES={name}&VALUEREFERENCE={attr}"),
            ok=True,
            count=(matched, count),
        )


def _filters(spec: LayerSpec, seen: Visible) -> Iterator[Probe]:
    """Filters on what the role sees, with values of every row: counts of visible rows only."""
    name, attributes = spec.name, seen.attributes[spec.name]
    on = f"LAYERS={name}&QUERY_LAYERS={name}&STYLES=&{MAP}&I=32&J=32&FEATURE_COUNT=50"
    for attr in (a for a in spec.texts if a in attributes):
        for row in spec.rows:
            value = row[attr]
            expected = seen.count(name, Condition(attr, "IN", (value,)))
            yield Probe(
                f"WFS hits FILTER {attr}={value}",
                wfs(
                    "GetFeature",
                    f"TYPENAMES={name}&RESULTTYPE=hits&FILTER={fes_equal(attr, value)}",
                ),
                ok=True,
                count=(matched, expected),
            )
            yield Probe(
                f"WFS GeoJSON EXP_FILTER {attr}={value}",
                wfs(
                    "GetFeature",
                    f"TYPENAMES={name}&OUTPUTFORMAT=application/geo%2Bjson"
                    f"&EXP_FILTER={expression(attr, '=', repr(value))}",
                ),
                ok=True,
                count=(geojson_features, expected),
            )
            yield Probe(
                f"WFS CSV FILTER {attr}={value}",
                wfs(
                    "GetFeature",
                    f"TYPENAMES={name}&OUTPUTFORMAT=text/csv&FILTER={fes_equal(attr, value)}",
                ),
                ok=True,
                count=(csv_rows, expected),
            )
    number = spec.number
    if number in attributes:
        for k in (1, 5):
            expected = seen.count(name, Condition(number, ">=", k))
            yield Probe(
                f"WMS GetFeatureInfo FILTER {number}>={k}",
                wms(
                    "GetFeatureInfo",
                    f"{on}&INFO_FORMAT=application/json"
                    f"&FILTER={name}:{expression(number, '>=', k)}",
                ),
                ok=True,
                count=(geojson_features, expected),
            )


def _rows(spec: LayerSpec, seen: Visible) -> Iterator[Probe]:
    name, count, attributes = spec.name, seen.count(spec.name), seen.attributes[spec.name]
    # Attributes the role may not see: named anywhere, they are as unknown as a phantom.
    for attr in (a for a in spec.attributes if a not in attributes):
        yield from _hidden_attribute(name, attr)
    # Rows the role may not see: by id they are as absent as a row that never existed.
    visible_ids = {row["fid"] for row in seen.rows[name]}
    for row in spec.rows:
        if row["fid"] not in visible_ids:
            rid = f"{name}.{row['fid']}"
            yield twin(f"WFS RESOURCEID {rid}", wfs("GetFeature", f"RESOURCEID={HOLE}"), rid, "row")
            yield twin(
                f"WFS GetFeatureById {rid}",
                wfs(
                    "GetFeature",
                    f"STOREDQUERY_ID=urn:ogc:def:query:OGC-WFS::GetFeatureById&ID={HOLE}",
                ),
                rid,
                "row",
            )
            yield twin(
                f"WFS 1.1.0 FEATUREID {rid}",
                wfs("GetFeature", f"FEATUREID={HOLE}", "1.1.0"),
                rid,
                "row",
            )
    # Page k (one row a page, in key order) is the k-th visible row: hidden rows take no place,
    # even where a rule is evaluated after the database (upper() on a GeoPackage).
    ordered = sorted(visible_ids)
    for k in range(len(ordered) + 1):
        yield Probe(
            f"WFS page {k} by $id {name}",
            wfs(
                "GetFeature",
                f"TYPENAMES={name}&OUTPUTFORMAT=application/geo%2Bjson&SORTBY=%24id"
                f"&COUNT=1&STARTINDEX={k}",
            ),
            ok=True,
            count=(first_id, ordered[k] if k < len(ordered) else 0),
        )
    # Rows by key: a hidden one matches nothing.
    for row in spec.rows:
        yield Probe(
            f"WFS EXP_FILTER $id = {row['fid']} {name}",
            wfs(
                "GetFeature",
                f"TYPENAMES={name}&RESULTTYPE=hits&EXP_FILTER=%24id%20%3D%20{row['fid']}",
            ),
            ok=True,
            count=(matched, int(row["fid"] in visible_ids)),
        )
    every_id = ",".join(f"{name}.{row['fid']}" for row in spec.rows)
    yield Probe(
        f"WFS RESOURCEID of every row {name}",
        wfs("GetFeature", f"RESOURCEID={every_id}&OUTPUTFORMAT=application/geo%2Bjson"),
        ok=True,
        count=(geojson_features, count),
    )
    yield Probe(
        f"WFS BBOX hits {name}",
        wfs("GetFeature", f"TYPENAMES={name}&RESULTTYPE=hits&BBOX=0,0,20,20,EPSG:4326"),
        ok=True,
        count=(matched, count),
    )


def _hidden_attribute(name: str, attr: str) -> Iterator[Probe]:
    def probe(label: str, query: str, body: str | None = None) -> Probe:
        return twin(f"{label} {attr}", query, attr, "a", body)

    yield probe(
        "WFS FILTER on hidden", wfs("GetFeature", f"TYPENAMES={name}&FILTER={fes_equal(HOLE, 'x')}")
    )
    yield probe(
        "WFS CSV FILTER on hidden",
        wfs(
            "GetFeature",
            f"TYPENAMES={name}&OUTPUTFORMAT=text/csv&FILTER={fes_equal(HOLE, 'x')}",
        ),
    )
    yield probe(
        "WFS EXP_FILTER on hidden",
        wfs("GetFeature", f"TYPENAMES={name}&EXP_FILTER={expression(HOLE, 'IS NOT', 'NULL')}"),
    )
    yield probe(
        "WFS PROPERTYNAME hidden", wfs("GetFeature", f"TYPENAMES={name}&PROPERTYNAME={HOLE}")
    )
    yield probe(
        "WFS POST GetFeature Filter on hidden",
        "SERVICE=WFS",
        (
            f'<wfs:GetFeature service="WFS" version="2.0.0" xmlns:wfs="{WFS2}" '
            f'xmlns:fes="{FES}" xmlns:o="{NAMESPACE}"><wfs:Query typeNames="o:{name}">'
            "<fes:Filter><fes:PropertyIsLike wildCard='*' singleChar='.' escapeChar='!'>"
            f"<fes:ValueReference>{HOLE}</fes:ValueReference><fes:Literal>zz*</fes:Literal>"
            "</fes:PropertyIsLike></fes:Filter></wfs:Query></wfs:GetFeature>"
        ),
    )
    yield probe("WFS SORTBY hidden", wfs("GetFeature", f"TYPENAMES={name}&SORTBY={HOLE}"))
    yield probe(
        "WFS FILTER on prefixed hidden",
        wfs("GetFeature", f"TYPENAMES={name}&FILTER={fes_equal(f'o:{HOLE}', 'x', prefix=True)}"),
    )
    yield probe(
        "WFS GetPropertyValue path to hidden",
        wfs("GetPropertyValue", f"TYPENAMES={name}&VALUEREFERENCE={name}/{HOLE}"),
    )
    yield probe(
        "WFS GetPropertyValue hidden",
        wfs("GetPropertyValue", f"TYPENAMES={name}&VALUEREFERENCE={HOLE}"),
    )
    yield probe(
        "WMS GetMap FILTER hidden",
        wms(
            "GetMap",
            f"LAYERS={name}&STYLES=&{MAP}&FORMAT=image/png"
            f"&FILTER={name}:{expression(HOLE, 'IS', 'NULL')}",
        ),
    )
    yield probe(
        "WMS GetFeatureInfo FILTER hidden",
        wms(
            "GetFeatureInfo",
            f"LAYERS={name}&QUERY_LAYERS={name}&STYLES=&{MAP}&I=32&J=32"
            f"&INFO_FORMAT=application/json&FILTER={name}:{expression(HOLE, 'IS', 'NULL')}",
        ),
    )


def _hidden_layer(name: str, kind: str, wfs_too: bool = True) -> Iterator[Probe]:
    def probe(label: str, query: str, body: str | None = None) -> Probe:
        return twin(f"{label} hidden {name}", query, name, kind, body)

    on = f"STYLES=&{MAP}&I=32&J=32&FEATURE_COUNT=50"
    yield probe("WMS GetMap", wms("GetMap", f"LAYERS={HOLE}&STYLES=&{MAP}&FORMAT=image/png"))
    for fmt in INFO_FORMATS:
        yield probe(
            f"WMS GetFeatureInfo {fmt}",
            wms(
                "GetFeatureInfo", f"LAYERS={HOLE}&QUERY_LAYERS={HOLE}&{on}&INFO_FORMAT={quote(fmt)}"
            ),
        )
    yield probe("WMS GetLegendGraphic", wms("GetLegendGraphic", f"LAYER={HOLE}&FORMAT=image/png"))
    yield probe("WMS GetStyles", wms("GetStyles", f"LAYERS={HOLE}", "1.1.1"))
    yield probe("WMS DescribeLayer", wms("DescribeLayer", f"LAYERS={HOLE}", "1.1.1"))
    if not wfs_too:
        return
    for version in ("2.0.0", "1.1.0", "1.0.0"):
        yield probe(
            f"WFS {version} DescribeFeatureType",
            wfs("DescribeFeatureType", f"TYPENAMES={HOLE}&TYPENAME={HOLE}", version),
        )
        yield probe(
            f"WFS {version} GetFeature",
            wfs("GetFeature", f"TYPENAMES={HOLE}&TYPENAME={HOLE}", version),
        )
    yield probe("WFS hits", wfs("GetFeature", f"TYPENAMES={HOLE}&RESULTTYPE=hits"))
    yield probe(
        "WFS GetPropertyValue", wfs("GetPropertyValue", f"TYPENAMES={HOLE}&VALUEREFERENCE=fid")
    )
    yield probe("WFS RESOURCEID", wfs("GetFeature", f"RESOURCEID={HOLE}.1"))
    yield probe(
        "WFS Transaction Delete",
        "SERVICE=WFS",
        transaction(f'<wfs:Delete typeName="o:{HOLE}">{by_rid(f"{HOLE}.1")}</wfs:Delete>'),
    )
