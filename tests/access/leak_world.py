"""Random worlds for the leak property (tests/access/test_leak_property.py).

A world is a small project — GeoPackage tables, maybe in a group — whose every layer name,
title, attribute name and text value is a distinctive sentinel (`zzl001qq`, `zza004qq`,
`zzv017qq`), and access rules for two roles. `RuleAccess` applies the rules through the
plugin API, keyed on the `X-Role` header; `visible()` is the oracle: it works out, in plain
Python on the known data, which layers, rows and attributes a role may see, independently of
the server.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from hypothesis import strategies as st

from ogcserve.features import Feature
from ogcserve.plugins import AccessControlFilter, LayerPermissions, ServerInterface
from ogcserve.projects import Layer

ROLES = ("r0", "r1")
TOKEN = re.compile(r"zz[lgtav]\d{3}qq(?:\.\d+)?")
CENTRE = (10.0, 10.0)


# --- the world ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """`"attr" op value`: the only row rules the worlds use, evaluated here and by the server."""

    attr: str
    op: str  # ">=", "<", "IN", "UPPER IN" (a GeoPackage cannot run upper(): done in Python)
    value: Any  # int, or a tuple of texts for IN

    def text(self) -> str:
        """The rule as CQL2 / QGIS expression / SQL (the three agree on this subset)."""
        if self.op == "IN":
            return f'"{self.attr}" IN ({", ".join(repr(v) for v in self.value)})'
        if self.op == "UPPER IN":
            return f'upper("{self.attr}") IN ({", ".join(repr(v.upper()) for v in self.value)})'
        return f'"{self.attr}" {self.op} {self.value}'

    def holds(self, row: dict[str, Any]) -> bool:
        """SQL semantics: NULL never matches."""
        value = row[self.attr]
        if value is None:
            return False
        if self.op == "IN":
            return value in self.value
        if self.op == "UPPER IN":
            return str(value).upper() in {v.upper() for v in self.value}
        return bool(value >= self.value if self.op == ">=" else value < self.value)


@dataclass(frozen=True)
class Rule:
    """What one role may do with one layer."""

    read: bool = True
    insert: bool = True
    update: bool = True
    delete: bool = True
    expression: Condition | None = None
    subset: Condition | None = None
    hidden: tuple[str, ...] = ()
    edit_even_only: bool = False  # allow_to_edit only features whose `n` is even


@dataclass(frozen=True)
class LayerSpec:
    name: str
    title: str  # the abstract and a keyword name it too
    texts: tuple[str, ...]  # text attribute names; values are sentinels
    number: str  # the integer attribute's name
    rows: tuple[dict[str, Any], ...]  # fid, number and texts
    excluded: tuple[str, ...] = ()  # attributes the project does not publish
    include: bool = False  # whether the project says so by `include` (else by `exclude`)
    project_filter: Condition | None = None
    style: tuple[str, str] | None = None  # (kind, field): categorized, graduated, rules, label
    number_matched: str = "exact"  # the layer's `wfs.number_matched`

    @property
    def style_field(self) -> str | None:
        return self.style[1] if self.style else None

    @property
    def attributes(self) -> tuple[str, ...]:
        return ("fid", *self.texts, self.number)


@dataclass(frozen=True)
class World:
    layers: tuple[LayerSpec, ...]
    group: tuple[str, str] | None  # (name, title) of a group holding layers[1:], if any
    rules: dict[str, dict[str, Rule]] = field(default_factory=dict)  # role -> layer -> rule
    raster: tuple[str, str] | None = None  # (name, title) of a raster layer, if any

    def layer(self, name: str) -> LayerSpec:
        return next(spec for spec in self.layers if spec.name == name)

    def tokens(self) -> set[str]:
        """Every sentinel the world holds."""
        found = set(TOKEN.findall(json.dumps(asdict(self))))
        for spec in self.layers:
            found |= {f"{spec.name}.{row['fid']}" for row in spec.rows}
        return found


def _sentinel(kind: str, number: int) -> str:
    return f"zz{kind}{number:03d}qq"


@st.composite
def conditions(draw: st.DrawFn, spec: LayerSpec) -> Condition:
    if spec.texts and draw(st.booleans()):
        attr = draw(st.sampled_from(spec.texts))
        values = sorted({row[attr] for row in spec.rows})
        chosen = draw(
            st.lists(st.sampled_from(values), min_size=1, max_size=len(values), unique=True)
        )
        return Condition(attr, draw(st.sampled_from(["IN", "UPPER IN"])), tuple(sorted(chosen)))
    return Condition(spec.number, draw(st.sampled_from([">=", "<"])), draw(st.integers(0, 9)))


@st.composite
def rules(draw: st.DrawFn, spec: LayerSpec) -> Rule:
    return Rule(
        read=draw(st.sampled_from([True, True, True, False])),
        insert=draw(st.booleans()),
        update=draw(st.booleans()),
        delete=draw(st.sampled_from([True, True, False])),  # so that deletes get through
        expression=draw(st.none() | conditions(spec)),
        subset=draw(st.none() | conditions(spec)),
        hidden=tuple(draw(st.lists(st.sampled_from(spec.attributes), unique=True, max_size=3))),
        edit_even_only=draw(st.booleans()),
    )


@st.composite
def worlds(draw: st.DrawFn) -> World:
    counter = iter(range(1, 1000))
    specs = []
    for _ in range(draw(st.integers(1, 3))):
        name = _sentinel("l", next(counter))
        texts = tuple(_sentinel("a", next(counter)) for _ in range(draw(st.integers(1, 2))))
        number = _sentinel("a", next(counter))
        rows = []
        for fid in range(1, draw(st.integers(1, 5)) + 1):
            row: dict[str, Any] = {"fid": fid, number: draw(st.none() | st.integers(0, 9))}
            row.update({t: _sentinel("v", next(counter)) for t in texts})
            rows.append(row)
        excluded = tuple(
            draw(st.lists(st.sampled_from(texts), unique=True, max_size=len(texts) - 1))
        )
        published = [t for t in texts if t not in excluded]
        style = draw(
            st.none()
            | st.tuples(
                st.sampled_from(["categorized", "rules", "label"]), st.sampled_from(published)
            )
            | st.just(("graduated", number))
        )
        specs.append(
            LayerSpec(
                name,
                _sentinel("t", next(counter)),
                texts,
                number,
                tuple(rows),
                excluded,
                include=draw(st.booleans()),
                project_filter=draw(st.none() | st.just(Condition(number, ">=", 1))),
                style=style,
                number_matched=draw(st.sampled_from(["exact", "exact", "estimated", "unknown"])),
            )
        )
    group = (
        (_sentinel("g", next(counter)), _sentinel("t", next(counter)))
        if len(specs) > 1 and draw(st.booleans())
        else None
    )
    raster = (
        (_sentinel("l", next(counter)), _sentinel("t", next(counter)))
        if draw(st.booleans())
        else None
    )
    rasters = [raster[0]] if raster else []
    return World(
        tuple(specs),
        group,
        {
            role: {
                **{spec.name: draw(rules(spec)) for spec in specs},
                **{name: Rule(read=draw(st.booleans())) for name in rasters},
            }
            for role in ROLES
        },
        raster,
    )


# --- the plugin -------------------------------------------------------------------------------


class RuleAccess(AccessControlFilter):
    """The world's rules for the role in `X-Role`; no role (or an unknown one) reads nothing."""

    def __init__(self, iface: ServerInterface, world: World) -> None:
        self.iface = iface
        self.world = world

    def rule(self, layer: Layer) -> Rule:
        role = self.iface.env("HTTP_X_ROLE")
        return self.world.rules.get(role, {}).get(layer.name, Rule(False, False, False, False))

    def layer_permissions(self, layer: Layer) -> LayerPermissions:
        if layer.is_group:
            return LayerPermissions()
        rule = self.rule(layer)
        return LayerPermissions(rule.read, rule.insert, rule.update, rule.delete)

    def layer_filter_expression(self, layer: Layer) -> str | None:
        condition = None if layer.is_group else self.rule(layer).expression
        return condition.text() if condition else None

    def layer_filter_subset_string(self, layer: Layer) -> str | None:
        condition = None if layer.is_group else self.rule(layer).subset
        return condition.text() if condition else None

    def authorized_layer_attributes(self, layer: Layer, attributes: list[str]) -> list[str]:
        hidden = self.rule(layer).hidden
        return [a for a in attributes if a not in hidden]

    def allow_to_edit(self, layer: Layer, feature: Feature) -> bool:
        if not self.rule(layer).edit_even_only:
            return True
        number = feature.properties.get(self.world.layer(layer.name).number)
        return isinstance(number, int) and number % 2 == 0

    def cache_key(self) -> str:
        return self.iface.env("HTTP_X_ROLE")


# --- the oracle -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Visible:
    """What one role may read, worked out from the rules and the data alone."""

    layers: dict[str, LayerSpec]  # readable layers by name
    attributes: dict[str, tuple[str, ...]]  # per readable layer
    rows: dict[str, tuple[dict[str, Any], ...]]  # per readable layer
    tokens: frozenset[str]  # every sentinel the role may see

    def count(self, layer: str, condition: Condition | None = None) -> int:
        return sum(1 for row in self.rows[layer] if condition is None or condition.holds(row))


def visible(world: World, role: str) -> Visible:
    layers, attributes, rows = {}, {}, {}
    tokens: set[str] = set()
    for spec in world.layers:
        rule = world.rules.get(role, {}).get(spec.name, Rule(False))
        if not rule.read:
            continue
        layers[spec.name] = spec
        attributes[spec.name] = tuple(
            a for a in spec.attributes if a not in spec.excluded and a not in rule.hidden
        )
        conditions = [c for c in (spec.project_filter, rule.expression, rule.subset) if c]
        rows[spec.name] = tuple(r for r in spec.rows if all(c.holds(r) for c in conditions))
        tokens |= {spec.name, spec.title, *attributes[spec.name]}
        tokens |= {f"{spec.name}.{row['fid']}" for row in rows[spec.name]}
        tokens |= {
            row[a] for row in rows[spec.name] for a in attributes[spec.name] if a in spec.texts
        }
        if spec.style_field in attributes[spec.name]:
            # The author's categories and rules name values: public with their field.
            tokens |= {row[spec.style_field] for row in spec.rows} - {None}
    if (
        world.raster is not None
        and world.rules.get(role, {}).get(world.raster[0], Rule(False)).read
    ):
        tokens |= set(world.raster)
    if world.group is not None and any(spec.name in layers for spec in world.layers[1:]):
        tokens |= set(world.group)
    return Visible(layers, attributes, rows, frozenset(tokens))


def leaked(text: str, allowed: frozenset[str] | set[str]) -> set[str]:
    """Sentinels in `text` outside `allowed`."""
    return {t for t in TOKEN.findall(text) if t not in allowed}


def phantom(kind: str) -> str:
    """A sentinel no world holds (numbers stop below 999)."""
    return _sentinel(kind, 999)
