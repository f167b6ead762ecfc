"""A QGIS project served: `ogcserve check` and `serve`, MAP as QGIS Server's clients send it,
a mixed set of `.qgs` and `.yaml` projects, a changed `.qgs` re-read without a restart."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from lxml import etree

from ogcserve.cli import demo_project
from ogcserve.testing import client, make_server, serve_process

WMS = "{http://www.opengis.net/wms}"
CAPABILITIES = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetCapabilities"}


def check(*paths: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[3] / "src")}
    command = [sys.executable, "-m", "ogcserve", "check", *map(str, paths)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def test_check_passes_with_warnings(qgis_folder: Path) -> None:
    done = check(qgis_folder / "main.qgs", qgis_folder / "main.qgz", demo_project())
    assert done.returncode == 0, done.stderr
    # Aliases, links, contact and the WMS settings are applied: only the read-only
    # Shapefile's WFS-T edits are left to warn of.
    assert "warning: WFS-T edits are refused: Shapefile" in done.stderr
    assert "alias" not in done.stderr and "ignored" not in done.stderr
    assert f"{demo_project()}: ok\n" in done.stdout
    assert f"{qgis_folder / 'main.qgs'}: ok (1 warning" in done.stdout


def test_check_fails_naming_each_refused_layer(qgis_folder: Path) -> None:
    done = check(qgis_folder / "bad.qgs")
    assert done.returncode == 1
    for name in ("gone", "csv_points", "globbed"):
        assert f"layer '{name}': not served:" in done.stderr
    assert "layer 'good': not served: the name 'good' is used by another layer" in done.stderr


def titles(body: bytes) -> tuple[str | None, list[str | None]]:
    root = etree.fromstring(body)
    service = root.findtext(f"{WMS}Service/{WMS}Title")
    return service, [e.findtext(f"{WMS}Name") for e in root.iter(f"{WMS}Layer")]


def test_map_as_qgis_clients_send_it(qgis_folder: Path, tmp_path: Path) -> None:
    main = qgis_folder / "main.qgs"
    server = make_server([demo_project(), main, qgis_folder / "bad.qgs"])
    with client(server) as http:
        for wanted in (str(main), "main.qgs", "main"):
            answer = http.get("/ows", params={"MAP": wanted, **CAPABILITIES})
            assert answer.status_code == 200
            assert titles(answer.content)[0] == "Main WMS"
        # The .qgs with refused layers serves the rest.
        bad = http.get("/ows", params={"MAP": str(qgis_folder / "bad.qgs"), **CAPABILITIES})
        assert titles(bad.content)[1][1:] == ["good", "My_places"]
        # Without MAP: the first project (the demo YAML).
        assert titles(http.get("/ows", params=CAPABILITIES).content)[0] == "ogcserve demo"
        # A QGIS project that is not configured is never opened, even beside a served one.
        other = tmp_path / "other.qgs"
        shutil.copyfile(main, other)
        for wanted in (str(other), str(qgis_folder / "main.qgz"), "/etc/passwd"):
            refused = http.get("/ows", params={"MAP": wanted, **CAPABILITIES})
            assert refused.status_code == 404
            assert wanted.encode() not in refused.content
    server.close()


def test_a_qgz_is_served(qgis_folder: Path) -> None:
    qgz = qgis_folder / "main.qgz"
    server = make_server([demo_project(), qgz])
    with client(server) as http:
        for wanted in (str(qgz), "main.qgz"):
            answer = http.get("/ows", params={"MAP": wanted, **CAPABILITIES})
            assert answer.status_code == 200
            assert titles(answer.content)[0] == "Main WMS"
        drawn = http.get(
            "/ows",
            params={
                "MAP": "main.qgz",
                "SERVICE": "WMS",
                "VERSION": "1.3.0",
                "REQUEST": "GetMap",
                "LAYERS": "world,elevation",
                "STYLES": ",",
                "CRS": "EPSG:4326",
                "BBOX": "35,-10,60,30",
                "WIDTH": "200",
                "HEIGHT": "125",
                "FORMAT": "image/png",
            },
        )
        assert drawn.status_code == 200 and drawn.headers["content-type"] == "image/png"
    server.close()


def test_viewer_and_ogc_api_serve_the_qgs(qgis_folder: Path) -> None:
    server = make_server([demo_project(), qgis_folder / "main.qgs"])
    with client(server) as http:
        landing = http.get("/")
        assert landing.status_code == 200 and "/viewer/main" in landing.text
        viewer = http.get("/viewer/main")
        assert viewer.status_code == 200 and "countries" in viewer.text
        # The page lists layers in drawing order, the bottom one first (it shows the top one
        # first): a QGIS tree's, whose first layer is on top, reversed at every level.
        config = json.loads(
            etree.fromstring(viewer.content, etree.HTMLParser()).findtext(".//script[@id='config']")
        )
        order = [node["name"] for node in config["layers"]]
        assert order == ["elevation", "b_places", "boroughs", "countries_json", "world"]
        assert [node["name"] for node in config["layers"][-1]["children"]] == ["countries", "Inner"]
        items = http.get("/ogcapi/main/collections/countries/items", params={"limit": 1000})
        assert items.status_code == 200
        features = items.json()["features"]
        # The subset is the row filter, the hidden field is hidden, in OGC API too.
        assert features and all(f["properties"]["pop_est"] > 50000000 for f in features)
        assert all("gdp_md_est" not in f["properties"] for f in features)
        hidden = http.get("/ogcapi/main/collections/secret/items")
        assert hidden.status_code == 404
    server.close()


WFS2, FES = "http://www.opengis.net/wfs/2.0", "http://www.opengis.net/fes/2.0"


def transaction(action: str, typename: str, rid: str, body: str = "") -> str:
    return (
        f'<wfs:Transaction service="WFS" version="2.0.0" xmlns:wfs="{WFS2}" xmlns:fes="{FES}">'
        f'<wfs:{action} typeName="{typename}">{body}'
        f'<fes:Filter><fes:ResourceId rid="{rid}"/></fes:Filter></wfs:{action}></wfs:Transaction>'
    )


def test_wfst_flags_of_the_qgs(qgis_folder: Path, tmp_path: Path) -> None:
    """WFSTLayers: countries may be updated (and inserted into) but not deleted from; the
    Shapefile's delete flag is refused (read-only here); a layer without flags is read-only."""
    copy = tmp_path / "copy"  # the edits go to a copy of the data
    shutil.copytree(qgis_folder, copy, ignore=shutil.ignore_patterns("qgis*home", "*.qgz"))
    server = make_server([copy / "main.qgs"])
    rename = (
        "<wfs:Property><wfs:ValueReference>name</wfs:ValueReference>"
        "<wfs:Value>Francia</wfs:Value></wfs:Property>"
    )
    with client(server) as http:

        def post(body: str) -> httpx.Response:
            return http.post("/ows", content=body, headers={"Content-Type": "text/xml"})

        updated = post(transaction("Update", "countries", "countries.44", rename))
        assert updated.status_code == 200, updated.text
        assert b"<wfs:totalUpdated>1</wfs:totalUpdated>" in updated.content
        for typename, rid, reason in (
            ("countries", "countries.44", "you may not delete features of 'countries'"),
            ("cities", "cities.1", "No permission to change the layer 'cities'"),
            ("b_places", "b_places.1", "No permission to change the layer 'b_places'"),
        ):
            refused = post(transaction("Delete", typename, rid))
            assert refused.status_code == 403 and reason in refused.text, refused.text
        features = http.get(
            "/ogcapi/main/collections/countries/items/44", headers={"Accept": "application/json"}
        )
        assert features.json()["properties"]["name"] == "Francia"
    server.close()


def test_changed_qgs_is_reloaded(qgis_folder: Path) -> None:
    path = qgis_folder / "reloaded.qgs"
    original = (qgis_folder / "main.qgs").read_text()
    path.write_text(original)
    server = make_server([path])
    with client(server) as http:

        def title() -> str | None:
            answer = http.get("/ows", params={"MAP": str(path), **CAPABILITIES})
            return titles(answer.content)[0]

        assert title() == "Main WMS"
        path.write_text(original.replace(">Main WMS<", ">Renamed WMS<"))
        os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 5))
        assert title() == "Renamed WMS"
        # A half-written save does not take the project down: the last good one is served.
        path.write_text(original[: len(original) // 2])
        os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 10))
        assert title() == "Renamed WMS"
    server.close()


@pytest.mark.e2e
def test_ogcserve_serve_a_qgs(qgis_folder: Path) -> None:
    main = qgis_folder / "main.qgs"
    with serve_process(main, demo_project(), workers=1) as url:
        answer = httpx.get(f"{url}/ows", params={"MAP": str(main), **CAPABILITIES}, timeout=30)
        assert answer.status_code == 200
        assert titles(answer.content)[0] == "Main WMS"
        features = httpx.get(
            f"{url}/ows",
            params={
                "MAP": str(main),
                "SERVICE": "WFS",
                "VERSION": "2.0.0",
                "REQUEST": "GetFeature",
                "TYPENAMES": "countries",
                "OUTPUTFORMAT": "application/json",
            },
            timeout=30,
        )
        assert features.status_code == 200
        names = {f["properties"]["name"] for f in features.json()["features"]}
        # The subset "pop_est" > 50000000 is applied: big countries only.
        assert "Germany" in names and "Luxembourg" not in names and len(names) < 40
