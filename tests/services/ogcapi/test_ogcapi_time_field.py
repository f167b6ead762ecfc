"""`ogcserve check`: `wfs.time` (OGC API Features' datetime) is checked against the source like other fields."""

from __future__ import annotations

import json
from pathlib import Path

from ogcapi_support import write_events

from ogcserve.access import AccessLayer
from ogcserve.projects import check_project


def issues(tmp_path: Path, time: str) -> list[tuple[str, str]]:
    path = write_events(tmp_path, 3)
    project = json.loads(path.read_text())
    project["layers"][0]["wfs"]["time"] = time
    path.write_text(json.dumps(project))
    return [(i.key, i.message) for i in check_project(path, AccessLayer().check_source, env={})]


def test_a_date_or_timestamp_field_passes(tmp_path: Path) -> None:
    assert issues(tmp_path, "at") == []
    assert issues(tmp_path, "day") == []


def test_an_unknown_field_is_reported(tmp_path: Path) -> None:
    [(key, message)] = issues(tmp_path, "when")
    assert key == "layers[0].wfs.time" and "unknown field 'when'" in message


def test_a_field_that_is_not_a_time_is_reported(tmp_path: Path) -> None:
    assert issues(tmp_path, "name") == [
        ("layers[0].wfs.time", "the time field 'name' is not a date or timestamp")
    ]
