"""Every edit the leak property tries as one role: only what the role may not see is aimed at."""

from __future__ import annotations

import json
from collections.abc import Iterator

from leak_probes import (
    HOLE,
    HOLE_ID,
    SQUARE,
    Probe,
    by_rid,
    equal_to,
    insert,
    set_value,
    transaction,
    transaction_1x,
    twin,
)
from leak_world import CENTRE, LayerSpec, Visible, World


def edits(world: World, seen: Visible) -> Iterator[Probe]:
    """Transactions that reach only what the role may not see: each must change nothing and
    answer as if it named something that never existed."""
    for spec in world.layers:
        if spec.name in seen.layers:
            yield from _layer_edits(spec, seen)
            yield from _ogcapi_edits(spec, seen)


GEOJSON = "application/geo+json"
MERGE_PATCH = "application/merge-patch+json"


def _feature(properties: dict[str, object]) -> str:
    ring = [[CENTRE[0] + dx, CENTRE[1] + dy] for dx, dy in SQUARE]
    polygon = {"type": "Polygon", "coordinates": [ring]}
    return json.dumps({"type": "Feature", "geometry": polygon, "properties": properties})


def _ogcapi_edits(spec: LayerSpec, seen: Visible) -> Iterator[Probe]:
    """OGC API - Features Part 4: the same reach as the WFS-T edits, by item id and property."""
    name, attributes = spec.name, seen.attributes[spec.name]
    items = f"/ogcapi/leak/collections/{name}/items"
    visible = seen.rows[name]
    visible_ids = {row["fid"] for row in visible}
    target = next((a for a in spec.texts if a in attributes), None)
    patch = json.dumps({"properties": {target: "changed"}} if target else {"properties": {}})
    for row in (r for r in spec.rows if r["fid"] not in visible_ids):
        rid = f"{name}.{row['fid']}"
        for method, body, kind in (
            ("PUT", _feature({target: "changed"} if target else {}), GEOJSON),
            ("PATCH", patch, MERGE_PATCH),
            ("DELETE", None, GEOJSON),
        ):
            yield twin(
                f"OGC API {method} hidden row {rid}",
                f"{items}/{HOLE_ID}",
                rid,
                "row",
                body,
                method=method,
                content_type=kind,
            )
    for attr in (a for a in spec.attributes if a not in attributes and a != "fid"):
        if visible:
            yield twin(
                f"OGC API PATCH hidden attribute {attr}",
                f"{items}/{visible[0]['fid']}",
                attr,
                "a",
                json.dumps({"properties": {HOLE: "changed"}}),
                method="PATCH",
                content_type=MERGE_PATCH,
            )
        yield twin(
            f"OGC API POST hidden attribute {attr}",
            items,
            attr,
            "a",
            _feature({HOLE: "changed"}),
            method="POST",
            content_type=GEOJSON,
        )
    # A replace by a role that cannot see an attribute, with the row's visible values as they
    # are: the hidden values must stay (checked on disk by the caller), not become NULL.
    for row in visible[:1]:
        same = {a: row[a] for a in spec.attributes if a in attributes and a != "fid"}
        yield Probe(
            f"OGC API PUT visible row {name}.{row['fid']} as it is",
            f"{items}/{row['fid']}",
            _feature(same).encode(),
            method="PUT",
            content_type=GEOJSON,
        )


def _layer_edits(spec: LayerSpec, seen: Visible) -> Iterator[Probe]:
    name = spec.name
    attributes = seen.attributes[name]
    visible_ids = {row["fid"] for row in seen.rows[name]}
    hidden_rows = [row for row in spec.rows if row["fid"] not in visible_ids]
    target = next((a for a in spec.texts if a in attributes), None)
    for row in hidden_rows if target is not None else ():
        where = f"<fes:Filter>{equal_to(target, HOLE)}</fes:Filter>"
        yield twin(
            f"WFS Update where {target}={row[target]}",
            "SERVICE=WFS",
            row[target],
            "v",
            transaction(f'<wfs:Update typeName="o:{name}">{set_value(target)}{where}</wfs:Update>'),
        )
        yield twin(
            f"WFS Delete where {target}={row[target]}",
            "SERVICE=WFS",
            row[target],
            "v",
            transaction(f'<wfs:Delete typeName="o:{name}">{where}</wfs:Delete>'),
        )
    for row in hidden_rows if target is not None else ():
        rid = f"{name}.{row['fid']}"
        yield twin(
            f"WFS Update hidden row {rid}",
            "SERVICE=WFS",
            rid,
            "row",
            transaction(
                f'<wfs:Update typeName="o:{name}">{set_value(target)}{by_rid(HOLE)}</wfs:Update>'
            ),
        )
        yield twin(
            f"WFS Delete hidden row {rid}",
            "SERVICE=WFS",
            rid,
            "row",
            transaction(f'<wfs:Delete typeName="o:{name}">{by_rid(HOLE)}</wfs:Delete>'),
        )
        yield twin(
            f"WFS Replace hidden row {rid}",
            "SERVICE=WFS",
            rid,
            "row",
            transaction(
                insert(name, target, "changed")
                .replace("wfs:Insert", "wfs:Replace")
                .replace("</o:" + name + ">", f"</o:{name}>{by_rid(HOLE)}")
            ),
        )
        for version in ("1.1.0", "1.0.0"):
            yield twin(
                f"WFS {version} Update and Delete hidden row {rid}",
                "SERVICE=WFS",
                rid,
                "row",
                transaction_1x(
                    version,
                    f'<wfs:Update typeName="o:{name}"><wfs:Property><wfs:Name>{target}'
                    "</wfs:Name><wfs:Value>changed</wfs:Value></wfs:Property>"
                    f'<ogc:Filter><ogc:FeatureId fid="{HOLE}"/></ogc:Filter></wfs:Update>'
                    f'<wfs:Delete typeName="o:{name}"><ogc:Filter><ogc:FeatureId fid="{HOLE}"/>'
                    "</ogc:Filter></wfs:Delete>",
                ),
            )
    # A new feature like a visible one (so the role's rules let it in) but with the key of a
    # hidden row: it must fare as with a key no row has, or keys can be tried one by one.
    for row in hidden_rows if seen.rows[name] else ():
        model = seen.rows[name][0]
        values = "".join(
            f"<o:{a}>{model[a]}</o:{a}>"
            for a in spec.attributes
            if a in attributes and a != "fid" and model[a] is not None
        )
        yield twin(
            f"WFS Insert with the key of hidden row {name}.{row['fid']}",
            "SERVICE=WFS",
            f"{name}.{row['fid']}",
            "row",
            transaction(insert(name, "fid", HOLE_ID, values)),
        )
    first = seen.rows[name][0]["fid"] if seen.rows[name] else None
    for attr in (a for a in spec.attributes if a not in attributes and a != "fid"):
        if first is not None:
            yield twin(
                f"WFS Update hidden attribute {attr}",
                "SERVICE=WFS",
                attr,
                "a",
                transaction(
                    f'<wfs:Update typeName="o:{name}">{set_value(HOLE)}'
                    f"{by_rid(f'{name}.{first}')}</wfs:Update>"
                ),
            )
        yield twin(
            f"WFS Insert hidden attribute {attr}",
            "SERVICE=WFS",
            attr,
            "a",
            transaction(insert(name, HOLE, "changed")),
        )


def delete_all(layer: str) -> bytes:
    """A Delete of whatever lies in a box around every row of the worlds."""
    return transaction(
        f'<wfs:Delete typeName="o:{layer}"><fes:Filter><fes:BBOX>'
        "<fes:ValueReference>geom</fes:ValueReference><gml:Envelope srsName='EPSG:4326'>"
        "<gml:lowerCorner>0 0</gml:lowerCorner><gml:upperCorner>20 20</gml:upperCorner>"
        "</gml:Envelope></fes:BBOX></fes:Filter></wfs:Delete>"
    ).encode()
