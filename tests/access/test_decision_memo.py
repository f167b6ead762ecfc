"""The decision memo (`ogcserve.access.memo`): access decisions are remembered across requests
only when every access-control filter promises its answers follow its cache key, and then per
key, project version and registrations."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ogcserve.plugins import AccessControlFilter, LayerPermissions, ServerInterface
from ogcserve.projects.model import Layer
from ogcserve.server import Server
from ogcserve.testing import call, demo_project, make_server

TILE = "/wmts/demo/{layer}/default/WebMercatorQuad/0/0/0.png"


@dataclass
class HeaderRule(AccessControlFilter):
    """Hides `cities` from callers whose X-Role is not "admin"; counts every question."""

    iface: ServerInterface
    asked: Counter[str] = field(default_factory=Counter)

    def role(self) -> str:
        return self.iface.env("HTTP_X_ROLE")

    def layer_permissions(self, layer: Layer) -> LayerPermissions:
        self.asked[self.role()] += 1
        return LayerPermissions(layer.name != "cities" or self.role() == "admin")


class KeyedHeaderRule(HeaderRule):
    """The same rule, keyed on the role it reads, with the promise made."""

    decisions_follow_cache_key = True

    def cache_key(self) -> str:
        return self.role()


def _server(rule: type[HeaderRule], **settings: object) -> tuple[Server, HeaderRule]:
    holder: list[HeaderRule] = []

    def setup(iface: ServerInterface) -> None:
        holder.append(rule(iface))
        iface.register_access_control(holder[0], priority=10)

    server = make_server(plugins=[setup], **settings)  # type: ignore[arg-type]
    return server, holder[0]


def _status(server: Server, layer: str, role: str) -> int | None:
    return call(server, TILE.format(layer=layer), headers={"X-Role": role}).status


def test_the_project_policy_alone_is_remembered() -> None:
    server = make_server()
    assert server.access_controls.memo_owner() is not None
    assert call(server, TILE.format(layer="countries")).status == 200
    assert call(server, TILE.format(layer="countries")).status == 200
    assert len(server.access_controls.memo) == 1


def test_a_header_rule_without_the_promise_is_asked_on_every_request() -> None:
    server, rule = _server(HeaderRule)
    assert server.access_controls.memo_owner() is None
    for _ in range(3):
        assert _status(server, "cities", "guest") == 403
        assert _status(server, "cities", "admin") == 200
    per_request = rule.asked["guest"] // 3
    assert per_request > 0 and rule.asked["guest"] == 3 * per_request
    assert len(server.access_controls.memo) == 0
    # The same answers whichever role asked first: nothing was remembered across them.
    assert _status(server, "cities", "guest") == 403


def test_a_keyed_rule_is_asked_once_per_key_and_never_answers_for_another() -> None:
    server, rule = _server(KeyedHeaderRule)
    assert _status(server, "cities", "guest") == 403
    asked_once = rule.asked["guest"]
    for _ in range(3):
        assert _status(server, "cities", "guest") == 403
        assert _status(server, "countries", "guest") == 200
    assert rule.asked["guest"] == asked_once  # taken from the memo
    assert _status(server, "cities", "admin") == 200  # another key: asked, not remembered
    assert rule.asked["admin"] > 0
    assert _status(server, "cities", "guest") == 403


def test_a_new_filter_or_a_reload_forgets_what_was_remembered(tmp_path: Path) -> None:
    source = demo_project()
    for name in os.listdir(source.parent):  # the demo's data beside a copy of its file
        (tmp_path / name).symlink_to(source.parent / name)
    project = tmp_path / "demo.yaml"
    project.unlink()
    project.write_text(source.read_text())
    server, rule = _server(KeyedHeaderRule, projects=[project])
    assert _status(server, "cities", "guest") == 403
    asked = rule.asked["guest"]
    # The project file changes: the decisions are taken again.
    stat = project.stat()
    os.utime(project, (stat.st_atime, stat.st_mtime + 10))
    assert _status(server, "cities", "guest") == 403
    assert rule.asked["guest"] > asked
    # Another filter registers (it has not made the promise): nothing is remembered now.
    server.access_controls.add(AccessControlFilter(), 20, "late")
    assert server.access_controls.memo_owner() is None
    asked = rule.asked["guest"]
    assert _status(server, "cities", "guest") == 403
    assert _status(server, "cities", "guest") == 403
    assert rule.asked["guest"] >= asked + 2
