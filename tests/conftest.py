"""Shared fixtures: the demo server, the example plugins folder, a PostGIS DSN when there is one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from ogcserve.server import Server
from ogcserve.testing import make_server

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "plugins"

# Property tests: a bounded number of examples and no per-example deadline (requests run whole
# servers); in CI (CI set) the examples are derandomized so that every run tries the same ones.
# HYPOTHESIS_PROFILE=thorough tries ten times as many, for a local hunt; HYPOTHESIS_PROFILE=ci is
# the derandomized one without CI set (and without a local example database).
settings.register_profile(
    "ogcserve",
    max_examples=30,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("thorough", settings.get_profile("ogcserve"), max_examples=300)
settings.register_profile("ci", settings.get_profile("ogcserve"), derandomize=True, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ogcserve"))


@pytest.fixture
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture
def server() -> Iterator[Server]:
    srv = make_server()
    yield srv
    srv.close()


@pytest.fixture
def postgis_dsn() -> str:
    dsn = os.environ.get("OGCSERVE_TEST_POSTGIS")
    if not dsn:
        pytest.skip("OGCSERVE_TEST_POSTGIS is not set")
    return dsn


def feature_route(ctx) -> None:  # type: ignore[no-untyped-def]
    """A minimal reader used by core tests: features of a layer as JSON, via the access layer."""
    import json

    from ogcserve.access import Read
    from ogcserve.errors import InvalidParameterValueError
    from ogcserve.expressions import parse
    from ogcserve.features import SortKey

    params = ctx.request.params
    text = params.get("FILTER")
    try:
        limit = int(params["LIMIT"]) if "LIMIT" in params else None
        offset = int(params.get("OFFSET", "0"))
    except ValueError:
        raise InvalidParameterValueError("LIMIT and OFFSET are integers") from None
    read = Read(
        filter=parse(text, params.get("LANG", "cql2-text")) if text else None,
        properties=params["PROPERTIES"].split(",") if "PROPERTIES" in params else None,
        sort=tuple(SortKey(s) for s in params["SORTBY"].split(",")) if "SORTBY" in params else (),
        limit=limit,
        offset=offset,
        bbox=tuple(float(v) for v in params["BBOX"].split(",")) if "BBOX" in params else None,  # type: ignore[arg-type]
        with_geometry=False,
    )
    data = ctx.server.access
    layer = data.layer(ctx, ctx.project, ctx.request.route["layer"])
    rows = [
        {"id": feature.id, "properties": feature.properties}
        for batch in data.features(ctx, layer, read)
        for feature in batch.rows()
    ]
    ctx.response.set_header("Content-Type", "application/json")
    ctx.response.write(json.dumps({"count": data.count(ctx, layer, read), "features": rows}))


@pytest.fixture
def reader_plugin():  # type: ignore[no-untyped-def]
    def setup(iface) -> None:  # type: ignore[no-untyped-def]
        iface.add_route("/test/features/{layer}", feature_route)

    return setup


@pytest.fixture
def server_with_layer_read(reader_plugin):  # type: ignore[no-untyped-def]
    return make_server(plugins=[reader_plugin]), "/test/features/countries"
