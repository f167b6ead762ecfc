"""The tile cache cannot leak: random access rules x random roles x tile requests, and every
answer is the one a server without any cache gives that role — over each backend.

The rules change between examples while the cache keeps what earlier examples stored, so an
entry drawn under other rules is there to be (wrongly) found. Two rule plugins: one reads the
role from a header and leaves `cache_key()` empty, without the promise that its answers follow
its key, so nothing of it may be remembered across requests and only the access fingerprint
keeps roles apart; the other makes that promise with a key holding the role and its rules, so
its decisions are taken from the decision memo (`ogcserve.access.memo`) on every later request.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tile_support import BACKENDS, RoleRules, backend_settings, rules_server

from ogcserve.server import Server
from ogcserve.testing import call

ROLES = ("alice", "bob", "carol")
FILTERS = {
    "countries": [None, "continent = 'Europe'", "continent <> 'Europe'", "pop_est > 50000000"],
    "cities": [None, "name LIKE 'S%'", "name < 'M'"],
    "nyc_boroughs": [None],
}
LAYERS = ("countries", "cities", "places", "demo")
# Small metatiles keep the examples quick; the buffer is what makes neighbours depend on
# each other, so it stays.
DRAWING = {"tile_metatile": 2, "tile_buffer": 32}


@st.composite
def role_rules(draw: st.DrawFn) -> tuple[dict[str, set[str]], dict[str, dict[str, str]]]:
    readable: dict[str, set[str]] = {}
    filters: dict[str, dict[str, str]] = {}
    for role in ROLES:
        readable[role] = {n for n in FILTERS if draw(st.booleans())}
        chosen = {n: draw(st.sampled_from(options)) for n, options in FILTERS.items()}
        filters[role] = {n: f for n, f in chosen.items() if f}
    return readable, filters


@st.composite
def tile_requests(draw: st.DrawFn) -> str:
    layer = draw(st.sampled_from(LAYERS))
    tms, z = draw(
        st.sampled_from([("WebMercatorQuad", 0), ("WebMercatorQuad", 1), ("WorldCRS84Quad", 0)])
    )
    width = (2 if tms == "WorldCRS84Quad" else 1) * 2**z
    row, col = draw(st.integers(0, 2**z - 1)), draw(st.integers(0, width - 1))
    kind = draw(st.sampled_from(["wmts", "rest", "ogcapi"]))
    if kind == "wmts":
        return (
            "/ows?SERVICE=WMTS&VERSION=1.0.0&REQUEST=GetTile&STYLE=default&FORMAT=image/png"
            f"&LAYER={layer}&TILEMATRIXSET={tms}&TILEMATRIX={z}&TILEROW={row}&TILECOL={col}"
        )
    if kind == "rest":
        return f"/wmts/demo/{layer}/default/{tms}/{z}/{row}/{col}.png"
    inner = "" if layer == "demo" else f"/collections/{layer}"
    return f"/ogcapi/demo{inner}/map/tiles/{tms}/{z}/{row}/{col}?f=png"


@pytest.fixture(
    scope="module",
    params=[(backend, keyed) for backend in BACKENDS for keyed in (False, True)],
    ids=lambda p: f"{p[0]}-{'keyed' if p[1] else 'unkeyed'}",
)
def cached(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, RoleRules]]:
    backend, keyed = request.param
    settings = backend_settings(backend, tmp_path_factory.mktemp("cache"))
    server, rules = rules_server(keyed, **settings, **DRAWING)
    # The memo is in use exactly when the plugin made its promise.
    assert (server.access_controls.memo_owner() is not None) is keyed
    yield server, rules
    server.cache_backend.drop_tree("demo")
    server.close()


@pytest.fixture(scope="module")
def uncached() -> Iterator[tuple[Server, RoleRules]]:
    server, rules = rules_server(cache_backend="memory", cache_memory_bytes=0, **DRAWING)
    yield server, rules
    server.close()


def _answer(server: Server, url: str, role: str) -> tuple[int | None, bytes]:
    result = call(server, url, headers={"X-Role": role})
    return result.status, result.body


def test_no_role_gets_a_tile_drawn_for_other_rules(
    cached: tuple[Server, RoleRules], uncached: tuple[Server, RoleRules]
) -> None:
    server, rules = cached
    oracle, oracle_rules = uncached

    @given(role_rules(), st.lists(st.tuples(st.sampled_from(ROLES), tile_requests()), max_size=8))
    def check(
        world: tuple[dict[str, set[str]], dict[str, dict[str, str]]], asks: list[tuple[str, str]]
    ) -> None:
        rules.readable, rules.filters = world
        oracle_rules.readable, oracle_rules.filters = world
        # Each request twice: the second is a cache hit where the first was a miss.
        for role, url in asks + asks:
            assert _answer(server, url, role) == _answer(oracle, url, role), (role, url, world)

    check()
