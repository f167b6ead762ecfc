"""OGC API - Features Part 4 on a GeoPackage: create, replace, update, delete under the
layer's flags and the caller's rights, If-Match, and nothing written when anything fails
(checked by reading the file)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from transactions_support import build, context, edit_folder, layer, parcels

from ogcserve.errors import ServiceError
from ogcserve.server import Server
from ogcserve.services.ogcapi.transactions import (
    create_item,
    current_etag,
    delete_item,
    replace_item,
    update_item,
)

EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    edit_folder(tmp_path)
    return tmp_path


@pytest.fixture
def server(folder: Path) -> Iterator[Server]:
    srv = build(folder / "edit.yaml")
    yield srv
    srv.close()


def table(folder: Path) -> dict[int, tuple[Any, ...]]:
    return parcels(folder / "data.gpkg")


def feature(props: dict[str, Any], coordinates: list[float] | None = None, **extra: Any) -> bytes:
    geometry = None if coordinates is None else {"type": "Point", "coordinates": coordinates}
    return json.dumps(
        {"type": "Feature", "geometry": geometry, "properties": props, **extra}
    ).encode()


def etag(server: Server, item: str, role: str = "admin") -> str:
    with context(server, role) as ctx:
        return current_etag(ctx, layer(ctx), item)


def refused(status: int, call: Any, *args: Any) -> ServiceError:
    with pytest.raises(ServiceError) as raised:
        call(*args)
    assert raised.value.status == status, raised.value
    return raised.value


# --- create ------------------------------------------------------------------------------------


def test_create_inserts_a_feature_in_crs84(server: Server, folder: Path) -> None:
    with context(server) as ctx:
        fid = create_item(ctx, layer(ctx), feature({"role": "a", "name": "new"}, [10, 20]), None)
    assert fid == 7
    assert table(folder)[7] == ("a", "new", None, 10.0, 20.0)


def test_create_reads_epsg_4326_as_latitude_first(server: Server, folder: Path) -> None:
    with context(server) as ctx:
        body = feature({"role": "a", "name": "new"}, [20, 10])
        fid = create_item(ctx, layer(ctx), body, f"<{EPSG4326}>")
    assert table(folder)[fid][3:] == (10.0, 20.0)


def test_create_reprojects_to_the_layers_crs(server: Server, folder: Path) -> None:
    with context(server) as ctx:
        body = feature({"role": "a", "name": "new"}, [1113194.9079327357, 0])
        fid = create_item(ctx, layer(ctx), body, "http://www.opengis.net/def/crs/EPSG/0/3857")
    assert table(folder)[fid][3:] == (10.0, 0.0)


def test_create_ignores_the_body_id_and_takes_the_key_from_properties(
    server: Server, folder: Path
) -> None:
    with context(server) as ctx:
        first = create_item(
            ctx, layer(ctx), feature({"role": "a", "name": "x"}, [1, 1], id=3), None
        )
        chosen = create_item(ctx, layer(ctx), feature({"fid": 40, "role": "a", "name": "y"}), None)
    assert (first, chosen) == (7, 40)
    assert table(folder)[3] == ("a", "parcel 3", 30, 3.0, 1.5)  # untouched
    assert table(folder)[40] == ("a", "y", None, None, None)


def test_create_needs_the_not_null_attributes(server: Server, folder: Path) -> None:
    before = table(folder)
    with context(server) as ctx:
        error = refused(400, create_item, ctx, layer(ctx), feature({"role": "a"}, [1, 1]), None)
    assert "name" in error.message
    assert table(folder) == before


# --- replace -----------------------------------------------------------------------------------


def test_replace_nulls_what_it_leaves_out_and_returns_the_new_etag(
    server: Server, folder: Path
) -> None:
    old = etag(server, "3")
    with context(server) as ctx:
        new = replace_item(
            ctx, layer(ctx), "3", feature({"role": "a", "name": "r"}, [7, 8]), old, None
        )
    assert table(folder)[3] == ("a", "r", None, 7.0, 8.0)
    assert new != old
    assert new == etag(server, "3")


def test_replace_may_not_change_the_id(server: Server, folder: Path) -> None:
    before = table(folder)
    with context(server) as ctx:
        body = feature({"role": "a", "name": "r"}, [7, 8], id=4)
        refused(400, replace_item, ctx, layer(ctx), "3", body, None, None)
        body = feature({"fid": 4, "role": "a", "name": "r"}, [7, 8])
        refused(400, replace_item, ctx, layer(ctx), "3", body, None, None)
        same = feature({"fid": 3, "role": "a", "name": "r"}, [7, 8], id="3")
        replace_item(ctx, layer(ctx), "3", same, None, None)
    assert table(folder) == {**before, 3: ("a", "r", None, 7.0, 8.0)}


def test_replace_without_a_geometry_is_refused(server: Server, folder: Path) -> None:
    before = table(folder)
    with context(server) as ctx:
        refused(
            400, replace_item, ctx, layer(ctx), "3", feature({"role": "a", "name": "r"}), None, None
        )
    assert table(folder) == before


# --- update (merge patch) ----------------------------------------------------------------------


def test_patch_writes_only_what_it_names(server: Server, folder: Path) -> None:
    with context(server) as ctx:
        new = update_item(ctx, layer(ctx), "1", b'{"properties": {"name": "p"}}', None, None)
    assert table(folder)[1] == ("a", "p", 10, 1.0, 0.5)
    assert new == etag(server, "1")


def test_patch_null_removes_a_value_and_geometry_merges_into_the_current_one(
    server: Server, folder: Path
) -> None:
    with context(server) as ctx:
        body = b'{"properties": {"value": null}, "geometry": {"coordinates": [20, 10]}}'
        update_item(ctx, layer(ctx), "1", body, None, EPSG4326)
    assert table(folder)[1] == ("a", "parcel 1", None, 10.0, 20.0)


def test_patch_breaking_a_constraint_writes_nothing(server: Server, folder: Path) -> None:
    before = table(folder)
    with context(server) as ctx:
        body = b'{"properties": {"value": 5, "name": null}, "geometry": {"coordinates": [9, 9]}}'
        error = refused(400, update_item, ctx, layer(ctx), "1", body, None, None)
    assert "name" in error.message
    assert table(folder) == before


@pytest.mark.parametrize(
    "patch",
    [
        b'{"id": 2}',
        b'{"id": null}',
        b'{"type": "FeatureCollection"}',
        b'{"geometry": null}',
        b'{"properties": {"fid": 2}}',
        b'{"properties": []}',
        b'{"geometry": {"type": "LineString"}}',
    ],
)
def test_patch_may_not_change_id_type_or_remove_the_geometry(
    server: Server, folder: Path, patch: bytes
) -> None:
    before = table(folder)
    with context(server) as ctx:
        refused(400, update_item, ctx, layer(ctx), "1", patch, None, None)
    assert table(folder) == before


def test_a_polygon_in_crs84_is_written_as_a_multipolygon_in_the_layers_crs(
    server: Server,
) -> None:
    square = [[-73.99, 40.70], [-73.98, 40.70], [-73.98, 40.71], [-73.99, 40.71], [-73.99, 40.70]]
    transformer = Transformer.from_crs("EPSG:2263", "OGC:CRS84", always_xy=True)

    def to_crs84(geometry: Any) -> Any:
        return shapely.transform(geometry, lambda c: np.column_stack(transformer.transform(*c.T)))

    with context(server) as ctx:
        boroughs = layer(ctx, "boroughs")
        patch = {"geometry": {"type": "Polygon", "coordinates": [square]}}
        update_item(ctx, boroughs, "1", json.dumps(patch).encode(), None, None)
        stored = ctx.server.access.get(ctx, boroughs, "1")
        assert stored is not None
        assert stored.geometry.geom_type == "MultiPolygon"
        assert stored.geometry.bounds[0] > 900_000  # feet, not degrees
        back = to_crs84(stored.geometry)
        assert back.bounds == pytest.approx((-73.99, 40.70, -73.98, 40.71))
        # A patch of the coordinates alone keeps the type, read in the body's CRS (lat, lon).
        moved = [[[y + 0.01, x] for x, y in square]]
        patch = {"geometry": {"coordinates": [moved]}}
        update_item(ctx, boroughs, "1", json.dumps(patch).encode(), None, EPSG4326)
        stored = ctx.server.access.get(ctx, boroughs, "1")
        assert stored is not None
        back = to_crs84(stored.geometry)
        assert back.bounds == pytest.approx((-73.99, 40.71, -73.98, 40.72))


# --- delete, ids -------------------------------------------------------------------------------


def test_delete_removes_the_item(server: Server, folder: Path) -> None:
    with context(server) as ctx:
        delete_item(ctx, layer(ctx), "2", etag(server, "2"))
        refused(404, current_etag, ctx, layer(ctx), "2")
        refused(404, delete_item, ctx, layer(ctx), "2", None)
    assert 2 not in table(folder)


@pytest.mark.parametrize("item", ["99", "03", "abc", " 3", "3.0", ""])
def test_an_id_is_one_spelling_of_an_existing_item(server: Server, folder: Path, item: str) -> None:
    before = table(folder)
    with context(server) as ctx:
        refused(404, current_etag, ctx, layer(ctx), item)
        refused(
            404, update_item, ctx, layer(ctx), item, b'{"properties": {"value": 1}}', None, None
        )
        refused(404, delete_item, ctx, layer(ctx), item, None)
    assert table(folder) == before


# --- If-Match ----------------------------------------------------------------------------------


@pytest.mark.parametrize("match", ["*", "{tag}", '"x", {tag}', None, " "])
def test_if_match_that_matches(server: Server, folder: Path, match: str | None) -> None:
    value = None if match is None else match.format(tag=etag(server, "1"))
    with context(server) as ctx:
        update_item(ctx, layer(ctx), "1", b'{"properties": {"value": 1}}', value, None)
    assert table(folder)[1][2] == 1


@pytest.mark.parametrize("match", ['"stale"', "W/{tag}", '"x", "y"'])
def test_if_match_that_does_not_match_writes_nothing(
    server: Server, folder: Path, match: str
) -> None:
    value = match.format(tag=etag(server, "1"))
    before = table(folder)
    with context(server) as ctx:
        body = feature({"role": "a", "name": "r"}, [7, 8])
        refused(412, replace_item, ctx, layer(ctx), "1", body, value, None)
        refused(
            412, update_item, ctx, layer(ctx), "1", b'{"properties": {"value": 1}}', value, None
        )
        refused(412, delete_item, ctx, layer(ctx), "1", value)
    assert table(folder) == before


def test_two_updates_from_one_etag_the_second_is_refused(server: Server, folder: Path) -> None:
    tag = etag(server, "1")
    with context(server) as ctx:
        update_item(ctx, layer(ctx), "1", b'{"properties": {"value": 1}}', tag, None)
        refused(412, update_item, ctx, layer(ctx), "1", b'{"properties": {"value": 2}}', tag, None)
    assert table(folder)[1][2] == 1


def test_concurrent_updates_from_one_etag_only_one_lands(server: Server, folder: Path) -> None:
    tag = etag(server, "1")
    barrier = threading.Barrier(4)
    outcomes: dict[int, int] = {}

    def write(value: int) -> None:
        with context(server) as ctx:
            barrier.wait()
            try:
                body = json.dumps({"properties": {"value": value}}).encode()
                update_item(ctx, layer(ctx), "1", body, tag, None)
                outcomes[value] = 200
            except ServiceError as error:
                outcomes[value] = error.status

    threads = [threading.Thread(target=write, args=(v,)) for v in range(1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [v for v, status in outcomes.items() if status == 200]
    assert len(winners) == 1
    assert sorted(outcomes.values()) == [200, 412, 412, 412]
    assert table(folder)[1][2] == winners[0]


# --- rights ------------------------------------------------------------------------------------


def test_a_reader_gets_403_and_an_unreadable_layer_404(server: Server, folder: Path) -> None:
    before = table(folder)
    body = feature({"role": "a", "name": "n"}, [1, 1])
    for role, status in (("reader", 403), ("blind", 404)):
        with context(server, role) as ctx:
            refused(status, create_item, ctx, layer(ctx), body, None)
            refused(status, replace_item, ctx, layer(ctx), "1", body, None, None)
            refused(status, update_item, ctx, layer(ctx), "1", b"{}", None, None)
            refused(status, delete_item, ctx, layer(ctx), "1", None)
    with context(server, "blind") as ctx:
        refused(404, current_etag, ctx, layer(ctx), "1")
    assert table(folder) == before


def test_a_layer_without_edit_flags_is_403(server: Server) -> None:
    with context(server) as ctx:
        countries = layer(ctx, "countries")
        refused(403, create_item, ctx, countries, feature({}, None), None)
        refused(403, delete_item, ctx, countries, "1", None)


def test_row_rules_hide_and_protect_other_rows(server: Server, folder: Path) -> None:
    before = table(folder)
    with context(server, "a") as ctx:
        # Role b's parcel 2 does not exist for role a.
        refused(404, current_etag, ctx, layer(ctx), "2")
        refused(404, update_item, ctx, layer(ctx), "2", b'{"properties": {"value": 1}}', None, None)
        refused(404, delete_item, ctx, layer(ctx), "2", None)
        # Its own parcel may not become role b's, nor may it create one for role b.
        refused(
            403, update_item, ctx, layer(ctx), "1", b'{"properties": {"role": "b"}}', None, None
        )
        body = feature({"role": "b", "name": "n"}, [1, 1])
        refused(403, replace_item, ctx, layer(ctx), "1", body, None, None)
        refused(403, create_item, ctx, layer(ctx), body, None)
        update_item(ctx, layer(ctx), "1", b'{"properties": {"value": 7}}', None, None)
    assert table(folder) == {**before, 1: ("a", "parcel 1", 7, 1.0, 0.5)}


def test_a_hidden_attribute_is_unknown_and_untouched(server: Server, folder: Path) -> None:
    with context(server, "hidden") as ctx:
        hidden = refused(
            400, update_item, ctx, layer(ctx), "1", b'{"properties": {"value": 1}}', None, None
        )
        unknown = refused(
            400, update_item, ctx, layer(ctx), "1", b'{"properties": {"nothing": 1}}', None, None
        )
        assert hidden.message.replace("value", "nothing") == unknown.message
        body = feature({"role": "a", "name": "r", "value": 5}, [1, 1])
        refused(400, create_item, ctx, layer(ctx), body, None)
        tag = current_etag(ctx, layer(ctx), "1")
        replace_item(ctx, layer(ctx), "1", feature({"role": "a", "name": "r"}, [2, 2]), tag, None)
    # The hidden value survives a replace by a caller who cannot see it.
    assert table(folder)[1] == ("a", "r", 10, 2.0, 2.0)


def test_the_etag_covers_only_what_the_caller_sees(server: Server) -> None:
    tag = etag(server, "1", "hidden")
    with context(server) as ctx:
        update_item(ctx, layer(ctx), "1", b'{"properties": {"value": 99}}', None, None)
    assert etag(server, "1", "hidden") == tag
    with context(server, "hidden") as ctx:
        update_item(ctx, layer(ctx), "1", b'{"properties": {"name": "n"}}', tag, None)
