"""/metrics in one process: what is counted, with label values no client can choose, and how
the endpoint is switched off or restricted."""

from __future__ import annotations

import subprocess
import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError
from starlette.testclient import TestClient

from ogcserve.http.asgi import asgi_app
from ogcserve.plugins import RequestContext, ServerInterface
from ogcserve.plugins.filters import RequestFilter
from ogcserve.settings import Settings
from ogcserve.testing import client, make_server

GET_MAP = (
    "/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=countries&STYLES=&CRS=EPSG:4326"
    "&BBOX=-90,-180,90,180&WIDTH=64&HEIGHT=32&FORMAT=image/png"
)
GET_FEATURE = "/ows?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=countries&COUNT=3"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the exposition, by name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples(text).items() if n == name and wanted <= ls)


def test_requests_are_counted_by_project_service_operation_and_status() -> None:
    server = make_server()
    http = client(server)
    for _ in range(3):
        assert http.get(GET_MAP).status_code == 200
    assert http.get(GET_FEATURE).status_code == 200
    text = http.get("/metrics").text
    wms = {"project": "demo", "service": "WMS", "operation": "GetMap"}
    assert value(text, "ogcserve_requests_total", **wms, status="200") == 3
    assert value(text, "ogcserve_request_duration_seconds_count", **wms) == 3
    assert value(text, "ogcserve_response_bytes_total", **wms) > 3 * 100  # three PNGs
    wfs = {"project": "demo", "service": "WFS", "operation": "GetFeature"}
    assert value(text, "ogcserve_requests_total", **wfs, status="200") == 1
    # /metrics and /health are not requests of a service
    assert value(text, "ogcserve_requests_total") == 4


def test_label_values_a_client_chooses_collapse_to_fixed_words() -> None:
    server = make_server()
    http = client(server)
    asked = [
        "/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=Evil1",
        "/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=Evil2",
        "/ows?SERVICE=NOSUCH1&REQUEST=GetMap",
        "/ows?SERVICE=NOSUCH2&REQUEST=GetMap",
        "/ows/nosuchproject?SERVICE=WMS&REQUEST=GetCapabilities",
        "/some/random/path/1",
        "/some/random/path/2",
    ]
    for url in asked:
        assert http.get(url).status_code >= 400
    text = http.get("/metrics").text
    labels = {ls for (n, ls) in samples(text) if n == "ogcserve_requests_total"}
    values = {v for ls in labels for _, v in ls}
    assert not any("Evil" in v or "NOSUCH" in v or "nosuch" in v or "random" in v for v in values)
    assert value(text, "ogcserve_requests_total", service="WMS", operation="other") == 2
    assert value(text, "ogcserve_requests_total", service="none", operation="none") == 4
    unknown_project = {"project": "none", "service": "WMS", "operation": "GetCapabilities"}
    assert value(text, "ogcserve_requests_total", **unknown_project) == 1
    assert len(labels) == 4  # WMS other 400, none 400 (no such service), none 404, WMS 404


class Exploding(RequestFilter):
    def on_project_ready(self, ctx: RequestContext) -> bool | None:
        raise RuntimeError("boom")


def test_plugin_calls_errors_and_time_are_counted_per_plugin_and_hook() -> None:
    def setup(iface: ServerInterface) -> None:
        iface.register_filter(Exploding(), 10)

    setup.__module__ = "exploder"
    server = make_server(plugins=[setup])
    http = client(server)
    assert http.get(GET_FEATURE).status_code == 500
    text = http.get("/metrics").text
    hook = {"plugin": "exploder", "filter": "Exploding", "hook": "on_project_ready"}
    assert value(text, "ogcserve_plugin_calls_total", **hook) == 1
    assert value(text, "ogcserve_plugin_errors_total", **hook) == 1
    assert value(text, "ogcserve_plugin_call_seconds_total", **hook) > 0


def test_features_read_are_counted_per_layer() -> None:
    server = make_server()
    http = client(server)
    assert http.get(GET_FEATURE).status_code == 200
    assert http.get("/ogcapi/demo/collections/countries/items/1").status_code == 200
    text = http.get("/metrics").text
    layer = {"project": "demo", "layer": "countries"}
    assert value(text, "ogcserve_layer_features_read_total", **layer) == 4
    assert value(text, "ogcserve_layer_read_seconds_total", **layer) > 0
    # the project's own policy is counted like any access control
    policy = {"plugin": "ogcserve", "filter": "ProjectPolicy", "hook": "layer_permissions"}
    assert value(text, "ogcserve_plugin_calls_total", **policy) >= 2


def test_cache_hits_and_misses_by_backend() -> None:
    server = make_server()
    http = client(server)
    caps = "/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities"
    assert http.get(caps).status_code == 200
    assert http.get(caps).status_code == 200
    text = http.get("/metrics").text
    assert value(text, "ogcserve_cache_misses_total", backend="memory") == 1
    assert value(text, "ogcserve_cache_hits_total", backend="memory") == 1


def test_metrics_switched_off_count_nothing_and_answer_404() -> None:
    server = make_server(metrics=False)
    http = client(server)
    assert http.get(GET_FEATURE).status_code == 200
    assert server.metrics is None
    assert http.get("/metrics").status_code == 404


def test_metrics_token_is_required_when_set() -> None:
    http = client(make_server(metrics_token="s3cret"))
    assert http.get("/metrics").status_code == 401
    assert http.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    answer = http.get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert answer.status_code == 200 and "ogcserve_requests_total" in answer.text


@pytest.mark.parametrize(
    ("address", "status"), [("10.1.2.3", 200), ("192.168.1.9", 403), ("::1", 403)]
)
def test_metrics_networks_restrict_who_reads(address: str, status: int) -> None:
    app = asgi_app(make_server(metrics_networks=["10.0.0.0/8", "127.0.0.1/32"]))
    http = TestClient(app, client=(address, 50000))
    assert http.get("/metrics").status_code == status


def test_a_metrics_network_that_is_no_network_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="metrics_networks"):
        Settings(metrics_networks=["10.0.0.0/33"])


def test_serve_imports_no_prometheus_client_before_it_sets_the_shared_directory() -> None:
    # prometheus_client picks shared (file) values when first imported: the CLI must not import
    # it before `serve` has set PROMETHEUS_MULTIPROC_DIR.
    code = (
        "import sys, ogcserve.cli, ogcserve.services.tiles.command, ogcserve.app;"
        "print('prometheus_client' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_seconds_latencies_written_at_once_read_as_each_observed() -> None:
    # Metrics.flush writes a histogram's pending observations as one sum and one count per
    # bucket, through prometheus_client's histogram values: the same as observing each.
    latencies = [0.001, 0.004, 0.005, 0.02, 0.3, 0.3, 7.0, 100.0]
    texts = []
    for batched in (False, True):
        server = make_server()
        metrics = server.metrics
        assert metrics is not None
        labels = ("demo", "WMS", "GetMap")
        if batched:
            for seconds in latencies:
                metrics._pending.add(labels, 200, 0, seconds, None)
            metrics.flush()
        else:
            for seconds in latencies:
                metrics.request_seconds.labels(*labels).observe(seconds)
        texts.append(
            sorted(
                (s.name, sorted(s.labels.items()), s.value)
                for family in text_string_to_metric_families(metrics.exposition().decode())
                if family.name == "ogcserve_request_duration_seconds"
                for s in family.samples
                if not s.name.endswith("_created")
            )
        )
    assert texts[0] == texts[1]
    counts = [v for name, _, v in texts[1] if name == "ogcserve_request_duration_seconds_count"]
    assert counts == [len(latencies)]
