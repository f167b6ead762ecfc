"""The leak property: whatever the project and the access rules, no request of any kind shows a
role a layer, row, attribute name or value it may not read — not in a body, a header, an error
or a count — and naming a hidden thing is answered exactly as naming one that never existed.

Worlds, rules and the oracle are in leak_world.py (leak_files.py writes them); the requests
in leak_reads.py and leak_edits.py, the checks in leak_probes.py.
Examples per run: the `ogcserve` hypothesis profile (tests/conftest.py).
"""

from __future__ import annotations

import re
import sqlite3
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from hypothesis import Phase, given, settings
from leak_edits import delete_all, edits
from leak_files import drop_postgis, write_world
from leak_probes import Answer, Probe, Send, check
from leak_reads import probes
from leak_world import (
    ROLES,
    Condition,
    LayerSpec,
    Rule,
    RuleAccess,
    World,
    visible,
    worlds,
)

from ogcserve.plugins import ServerInterface
from ogcserve.server import Server
from ogcserve.testing import call, make_server, serve_process


def rule_plugin(world: World) -> Callable[[ServerInterface], None]:
    def setup(iface: ServerInterface) -> None:
        iface.register_access_control(RuleAccess(iface, world), priority=10)

    return setup


def _target(probe: Probe) -> str:
    """An OWS probe is a query string for /ows; an OGC API probe is a path (with its query)."""
    return probe.query if probe.query.startswith("/") else f"/ows?{probe.query}"


def in_process(server: Server) -> Send:
    def send(probe: Probe, role: str) -> Answer:
        headers = {"X-Role": role} if role else {}
        if probe.body is not None:
            headers["Content-Type"] = probe.content_type
        result = call(
            server,
            _target(probe),
            method=probe.verb,
            headers=headers,
            body=probe.body or b"",
        )
        assert result.status is not None
        return Answer(result.status, result.headers, result.body)

    return send


def over_http(base: str, http: httpx.Client) -> Send:
    def send(probe: Probe, role: str) -> Answer:
        headers = {"X-Role": role} if role else {}
        if probe.body is not None:
            headers["Content-Type"] = probe.content_type
        response = http.request(
            probe.verb, f"{base}{_target(probe)}", content=probe.body, headers=headers
        )
        return Answer(response.status_code, dict(response.headers), response.content)

    return send


Cells = dict[str, dict[int, tuple[Any, ...]]]


def _select(world: World, schema: str | None = None) -> list[tuple[str, str]]:
    prefix = f'"{schema}".' if schema else ""
    queries = []
    for spec in world.layers:
        columns = ", ".join(f'"{a}"' for a in spec.attributes)
        queries.append((spec.name, f'SELECT {columns} FROM {prefix}"{spec.name}"'))
    return queries


def gpkg_cells(gpkg: Path, world: World) -> Callable[[], Cells]:
    """Every row of every layer as it is on disk (geometry left out)."""

    def read() -> Cells:
        with sqlite3.connect(gpkg) as conn:
            return {
                name: {row[0]: row[1:] for row in conn.execute(sql)} for name, sql in _select(world)
            }

    return read


def pg_cells(dsn: str, schema: str, world: World) -> Callable[[], Cells]:
    def read() -> Cells:
        with psycopg.connect(dsn) as conn:
            return {
                name: {row[0]: row[1:] for row in conn.execute(sql)}
                for name, sql in _select(world, schema)
            }

    return read


def read_probes(world: World, send: Send, roles: tuple[str, ...]) -> list[str]:
    problems: list[str] = []
    for role in roles:
        seen = visible(world, role)
        for probe in probes(world, seen):
            problems += check(probe, role, seen, send)
    return problems


def edit_probes(world: World, send: Send, cells: Callable[[], Cells]) -> list[str]:
    """Edits reaching only hidden rows and attributes: refused or empty, and nothing changes
    on disk but the features they inserted."""
    problems: list[str] = []
    for role in ROLES:
        seen = visible(world, role)
        before = cells()
        for probe in edits(world, seen):
            problems += check(probe, role, seen, send)
        after = cells()
        for name, rows in before.items():
            if {fid: after[name].get(fid) for fid in rows} != rows:
                problems.append(
                    f"edits as {role} changed or removed hidden data of {name}: "
                    f"{rows} -> {after[name]}"
                )
            if any("changed" in cells for cells in after[name].values()):
                problems.append(
                    f"edits as {role} wrote a hidden attribute of {name}: {after[name]}"
                )
    return problems + delete_everything(world, send, cells, ROLES[0])


def delete_everything(world: World, send: Send, cells: Callable[[], Cells], role: str) -> list[str]:
    """A Delete of every row within a box around all of them: exactly the rows the role sees
    go (all of them, or none when a rule refuses one), and totalDeleted counts only those."""
    seen = visible(world, role)
    problems = []
    for spec in world.layers:
        before = cells()[spec.name]
        if spec.name not in seen.layers or set(before) != {r["fid"] for r in spec.rows}:
            continue  # hidden layers are probed above; added rows are not in the oracle
        rule = world.rules[role][spec.name]
        mine = {row["fid"] for row in seen.rows[spec.name]}
        editable = all(
            not rule.edit_even_only
            or (isinstance(row[spec.number], int) and row[spec.number] % 2 == 0)
            for row in seen.rows[spec.name]
        )
        gone = mine if rule.delete and editable else set()
        answer = send(
            Probe(f"WFS Delete all of {spec.name}", "SERVICE=WFS", delete_all(spec.name)), role
        )
        after = cells()[spec.name]
        summary = re.search(rb"<wfs:totalDeleted>(\d+)<", answer.body)
        told = int(summary.group(1)) if answer.status == 200 and summary else 0
        if set(after) != set(before) - gone or told != len(gone):
            problems.append(
                f"Delete of all {spec.name} as {role}: {answer.status}, totalDeleted {told}, "
                f"rows {sorted(before)} -> {sorted(after)}; expected {sorted(gone)} to go"
            )
    return problems


@given(world=worlds())
def test_no_request_shows_what_a_role_may_not_read(world: World) -> None:
    with tempfile.TemporaryDirectory() as folder:
        project = write_world(world, Path(folder))
        server = make_server([project], plugins=[rule_plugin(world)])
        try:
            send = in_process(server)
            problems = read_probes(world, send, (*ROLES, ""))
            problems += edit_probes(world, send, gpkg_cells(Path(folder) / "world.gpkg", world))
        finally:
            server.close()
    assert not problems, "\n".join(problems[:15])


def test_the_property_sees_what_a_server_without_the_rules_shows() -> None:
    """The checks have teeth: the same probes against the same project served without the
    rules report hidden values, wrong counts, hidden names told from absent ones and hidden
    layers served."""
    number, text, hidden = "zza002qq", "zza003qq", "zza004qq"
    rows = tuple(
        {"fid": i, number: i, text: f"zzv{10 + i:03d}qq", hidden: f"zzv{20 + i:03d}qq"}
        for i in range(1, 4)
    )
    spec = LayerSpec("zzl001qq", "zzt005qq", (text, hidden), number, rows)
    world = World(
        (spec,),
        None,
        {
            "r0": {spec.name: Rule(expression=Condition(number, ">=", 2), hidden=(hidden,))},
            "r1": {spec.name: Rule(read=False)},
        },
    )
    with tempfile.TemporaryDirectory() as folder:
        server = make_server([write_world(world, Path(folder))])  # no RuleAccess
        try:
            problems = read_probes(world, in_process(server), ROLES)
        finally:
            server.close()
    report = "\n".join(problems)
    assert "shows ['zza004qq'" in report  # a hidden attribute's name
    assert "'zzv011qq'" in report  # a hidden row's value
    assert "3 features, 2 visible" in report  # counts
    assert "hidden and absent differ" in report  # a hidden row told from a missing one
    assert "GetFeature hidden zzl001qq as r1: 200" in report  # a forbidden layer served
    # ... and the same through the other services:
    assert "WMTS GetFeatureInfo application/json zzl001qq as r0: 3 features, 2 visible" in report
    assert "WMTS GetCapabilities as r1: 200 shows ['zzl001qq'" in report
    assert "WMTS RESTful tile hidden zzl001qq as r1: 200" in report
    assert "XYZ tile hidden zzl001qq as r1: hidden and absent differ" in report
    assert "OGC API tileset hidden zzl001qq as r1: hidden and absent differ" in report
    assert "tiles/viewer /viewer/leak as r1: 200 shows ['zzl001qq'" in report


PLUGIN = '''\
"""The leak property's rules (rules.json) through the QGIS facade."""

import json
from pathlib import Path

from qgis.server import QgsAccessControlFilter

RULES = json.loads((Path(__file__).parent / "rules.json").read_text())


class Rules(QgsAccessControlFilter):
    def __init__(self, iface):
        super().__init__(iface)
        self.iface = iface

    def rule(self, layer):
        role = self.iface.requestHandler().requestHeader("X-Role")
        return RULES["rules"].get(role, {}).get(layer.name())

    def layerPermissions(self, layer):
        rights = QgsAccessControlFilter.LayerPermissions()  # all False, as in QGIS
        rule = self.rule(layer)
        if layer.name() in RULES["groups"]:  # a group: its members decide
            rule = {"read": True, "insert": True, "update": True, "delete": True}
        rights.canRead = bool(rule and rule["read"])
        rights.canInsert = bool(rule and rule["insert"])
        rights.canUpdate = bool(rule and rule["update"])
        rights.canDelete = bool(rule and rule["delete"])
        return rights

    def layerFilterExpression(self, layer):
        rule = self.rule(layer)
        return rule["expression"] if rule and rule["expression"] else ""

    def layerFilterSubsetString(self, layer):
        rule = self.rule(layer)
        return rule["subset"] if rule and rule["subset"] else ""

    def authorizedLayerAttributes(self, layer, attributes):
        rule = self.rule(layer)
        return [a for a in attributes if not rule or a not in rule["hidden"]]

    def allowToEdit(self, layer, feature):
        rule = self.rule(layer)
        if not rule or not rule["even"]:
            return True
        value = feature.attribute(RULES["numbers"][layer.name()])
        return isinstance(value, int) and value % 2 == 0

    def cacheKey(self):
        return self.iface.requestHandler().requestHeader("X-Role") or ""


def serverClassFactory(iface):
    rules = Rules(iface)
    iface.registerAccessControl(rules, 100)
    return rules
'''


def write_qgis_plugin(world: World, folder: Path) -> Path:
    """`world`'s rules as a QGIS-style folder plugin (what `serve --plugins` loads)."""
    import json

    plugin = folder / "plugins" / "LeakRules"
    plugin.mkdir(parents=True)
    (plugin / "__init__.py").write_text(PLUGIN)
    (plugin / "metadata.txt").write_text("[general]\nname=LeakRules\nserver=True\n")
    rules = {
        role: {
            name: {
                "read": r.read,
                "insert": r.insert,
                "update": r.update,
                "delete": r.delete,
                "hidden": list(r.hidden),
                "expression": r.expression.text() if r.expression else None,
                "subset": r.subset.text() if r.subset else None,
                "even": r.edit_even_only,
            }
            for name, r in by_layer.items()
        }
        for role, by_layer in world.rules.items()
    }
    (plugin / "rules.json").write_text(
        json.dumps(
            {
                "rules": rules,
                "groups": [world.group[0]] if world.group else [],
                "numbers": {spec.name: spec.number for spec in world.layers},
            }
        )
    )
    return plugin.parent


@pytest.mark.e2e
def test_no_request_shows_what_a_role_may_not_read_over_http() -> None:
    """The same property against a real `ogcserve serve` and a QGIS-style plugin folder: a few
    worlds, every request over HTTP (headers as a real server writes them)."""
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)

        @settings(max_examples=3, database=None, phases=[Phase.generate])  # no shrinking
        @given(world=worlds())
        def one_world(world: World) -> None:
            folder = Path(tempfile.mkdtemp(dir=base))
            project = write_world(world, folder)
            plugins = write_qgis_plugin(world, folder)
            with (
                serve_process(project, "--plugins", plugins, workers=1) as url,
                httpx.Client(timeout=30) as http,
            ):
                send = over_http(url, http)
                problems = read_probes(world, send, ROLES)
                problems += edit_probes(world, send, gpkg_cells(folder / "world.gpkg", world))
            assert not problems, "\n".join(problems[:15])

        one_world()


@pytest.mark.postgis
def test_no_request_shows_what_a_role_may_not_read_from_postgis(postgis_dsn: str) -> None:
    """The same property over PostGIS tables: subset strings run as PostgreSQL's SQL, and the
    database's own errors must not carry hidden values either."""

    @settings(max_examples=8, phases=[Phase.explicit, Phase.generate])  # no slow shrinking
    @given(world=worlds())
    def one_world(world: World) -> None:
        schema = f"leak_{uuid.uuid4().hex[:12]}"
        with tempfile.TemporaryDirectory() as folder:
            try:
                project = write_world(world, Path(folder), (postgis_dsn, schema))
                server = make_server([project], plugins=[rule_plugin(world)])
                try:
                    send = in_process(server)
                    problems = read_probes(world, send, ROLES)
                    problems += edit_probes(world, send, pg_cells(postgis_dsn, schema, world))
                finally:
                    server.close()
            finally:
                drop_postgis(postgis_dsn, schema)
        assert not problems, "\n".join(problems[:15])

    one_world()
