"""How several access-control filters combine (DESIGN §3), one rule per test."""

from __future__ import annotations

from typing import Any

from ogcserve.access.rules import AccessControl
from ogcserve.plugins.access import AccessControlFilter, LayerPermissions
from ogcserve.projects import Layer
from ogcserve.sources.specs import GeoPackageSpec


def _layer(name: str = "countries") -> Layer:
    return Layer(
        name=name, title=name, source=GeoPackageSpec(type="geopackage", path="x.gpkg", table=name)
    )


class Fixed(AccessControlFilter):
    def __init__(self, **answers: Any) -> None:
        self.answers = answers

    def layer_permissions(self, layer: Layer) -> LayerPermissions:
        return self.answers.get("permissions", LayerPermissions())

    def layer_filter_expression(self, layer: Layer) -> str | None:
        return self.answers.get("expression")

    def layer_filter_subset_string(self, layer: Layer) -> str | None:
        return self.answers.get("subset")

    def authorized_layer_attributes(self, layer: Layer, attributes: list[str]) -> list[str]:
        drop = self.answers.get("drop", ())
        seen = self.answers.setdefault("seen", [])
        seen.append(list(attributes))
        return [a for a in attributes if a not in drop] + self.answers.get("invent", [])

    def allow_to_edit(self, layer: Layer, feature: Any) -> bool:
        return bool(self.answers.get("edit", True))

    def cache_key(self) -> str:
        return str(self.answers.get("key", ""))


def _controls(*filters: AccessControlFilter) -> AccessControl:
    controls = AccessControl()
    for priority, f in enumerate(filters):
        controls.add(f, priority)
    return controls


def test_permissions_are_anded_per_permission() -> None:
    access = _controls(
        Fixed(permissions=LayerPermissions(True, False, True, True)),
        Fixed(permissions=LayerPermissions(True, True, True, False)),
    ).for_request()
    assert access.permissions(_layer()) == LayerPermissions(True, False, True, False)


def test_no_filter_means_everything_allowed() -> None:
    assert AccessControl().for_request().permissions(_layer()) == LayerPermissions()


def test_expressions_and_subsets_are_all_kept_for_anding() -> None:
    access = _controls(
        Fixed(expression="a = 1", subset="x > 0"),
        Fixed(expression=" "),
        Fixed(expression="b = 2", subset="y < 0"),
    ).for_request()
    assert access.expressions(_layer()) == ("a = 1", "b = 2")
    assert access.subset_strings(_layer()) == ("x > 0", "y < 0")


def test_attributes_are_chained_and_only_narrowed() -> None:
    first, second = Fixed(drop=["a"]), Fixed(drop=["c"], invent=["secret_column"])
    access = _controls(first, second).for_request()
    assert access.attributes(_layer(), ["a", "b", "c"]) == ("b",)
    assert second.answers["seen"] == [["b", "c"]]  # the second filter got the first's output


def test_allow_to_edit_is_anded() -> None:
    assert _controls(Fixed(), Fixed()).for_request().allow_to_edit(_layer(), None)  # type: ignore[arg-type]
    assert not _controls(Fixed(), Fixed(edit=False)).for_request().allow_to_edit(_layer(), None)  # type: ignore[arg-type]


def test_answers_are_memoised_per_request_only() -> None:
    calls: list[str] = []

    class Counting(AccessControlFilter):
        def layer_permissions(self, layer: Layer) -> LayerPermissions:
            calls.append(layer.name)
            return LayerPermissions()

    controls = _controls(Counting())
    access = controls.for_request()
    access.permissions(_layer())
    access.permissions(_layer())
    assert calls == ["countries"]
    controls.for_request().permissions(_layer())
    assert calls == ["countries", "countries"]


def test_fingerprint_differs_with_rights_even_when_cache_key_is_empty() -> None:
    layers = [_layer("a"), _layer("b")]
    names = lambda layer: ["x", "y"]  # noqa: E731
    base = _controls(Fixed()).for_request().fingerprint("v1", layers, names)
    assert _controls(Fixed()).for_request().fingerprint("v1", layers, names) == base
    hidden = _controls(Fixed(permissions=LayerPermissions(can_read=False))).for_request()
    assert hidden.fingerprint("v1", layers, names) != base
    assert _controls(Fixed(drop=["x"])).for_request().fingerprint("v1", layers, names) != base
    assert (
        _controls(Fixed(expression="x = 1")).for_request().fingerprint("v1", layers, names) != base
    )
    assert _controls(Fixed(subset="x = 1")).for_request().fingerprint("v1", layers, names) != base
    assert _controls(Fixed(key="role-a")).for_request().fingerprint("v1", layers, names) != base
