"""OWSLib's `Features` writing through Part 4 against a real `ogcserve serve`: create, replace
and delete an item of an editable GeoPackage layer, each checked in the file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from transactions_support import edit_folder

from ogcserve.testing import serve_process

pytestmark = pytest.mark.e2e


def _names(gpkg: Path) -> dict[int, str]:
    with sqlite3.connect(gpkg) as conn:
        return dict(conn.execute("SELECT fid, name FROM parcels").fetchall())


def test_owslib_creates_replaces_and_deletes(tmp_path: Path) -> None:
    from owslib.ogcapi.features import Features

    project = edit_folder(tmp_path)
    gpkg = tmp_path / "data.gpkg"
    before = _names(gpkg)
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [2.3522, 48.8566]},
        "properties": {"role": "a", "name": "Paris", "value": 1},
    }
    with serve_process(project, workers=1) as url:
        api = Features(f"{url}/ogcapi/edit")
        assert api.collection_item_create("parcels", feature)
        added = set(_names(gpkg)) - set(before)
        assert len(added) == 1 and _names(gpkg)[next(iter(added))] == "Paris"
        fid = str(next(iter(added)))
        read = api.collection_item("parcels", fid)
        assert read["geometry"]["coordinates"] == [2.3522, 48.8566]
        feature["properties"]["name"] = "Lutetia"
        assert api.collection_item_update("parcels", fid, json.dumps(feature))
        assert _names(gpkg)[int(fid)] == "Lutetia"
        assert api.collection_item_delete("parcels", fid)
    assert _names(gpkg) == before
