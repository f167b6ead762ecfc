"""GetStyles and GetLegendGraphic name no attribute the caller may not read, and show none of
its values or class breaks (issue 11, item 8): they describe the style as the caller's map
draws it, where a hidden attribute reads as NULL."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from lxml import etree
from PIL import Image

from ogcserve.plugins import AccessControlFilter, ServerInterface
from ogcserve.projects import Layer
from ogcserve.server import Server
from ogcserve.testing import call, make_server

DEMO = Path(__file__).resolve().parents[3] / "src" / "ogcserve" / "demo"
PROJECT = f"""
name: styled
crs: [EPSG:4326]
layers:
  - name: countries_a
    source: {{type: geopackage, path: {DEMO / "natural_earth.gpkg"}, table: countries}}
    style:
      stroke: "#333333"
      categorized:
        field: continent
        categories:
          - {{value: Antarctica, fill: "#ffffff"}}
          - {{value: Africa, fill: "#e31a1c"}}
        default: {{fill: "#aaaaaa"}}
      label: {{field: name}}
  - name: countries_b
    source: {{type: geopackage, path: {DEMO / "natural_earth.gpkg"}, table: countries}}
    style:
      graduated:
        field: gdp_md_est
        classes:
          - {{min: 0, max: 123456, fill: "#fee5d9"}}
          - {{min: 123456, max: 99999999, fill: "#a50f15"}}
      label: {{expression: "{{name}} ({{iso_a3}})"}}
  - name: countries_c
    source: {{type: geopackage, path: {DEMO / "natural_earth.gpkg"}, table: countries}}
    style:
      rules:
        - {{filter: "pop_est > 777777", fill: "#08519c", label: big}}
        - {{filter: "name = 'France'", fill: "#6baed6"}}
        - {{else: true, fill: "#eff3ff"}}
"""
SECRETS = [
    "continent",
    "Antarctica",
    "Africa",
    "gdp_md_est",
    "123456",
    "iso_a3",
    "pop_est",
    "777777",
]


class HideFromGuests(AccessControlFilter):
    """Guests (no X-Role header) may not read continent, gdp_md_est, iso_a3 and pop_est."""

    def authorized_layer_attributes(self, layer: Layer, attributes: list[str]) -> list[str]:
        if self.server_iface.request_handler().request.headers.get("X-Role"):  # type: ignore[union-attr]
            return attributes
        return [a for a in attributes if a not in ("continent", "gdp_md_est", "iso_a3", "pop_est")]

    def cache_key(self) -> str:
        handler = self.server_iface.request_handler()
        return "staff" if handler and handler.request.headers.get("X-Role") else "guest"


@pytest.fixture
def styled(tmp_path: Path) -> Iterator[Server]:
    project = tmp_path / "styled.yaml"
    project.write_text(PROJECT)

    def setup(iface: ServerInterface) -> None:
        control = HideFromGuests()
        control.server_iface = iface  # type: ignore[attr-defined]
        iface.register_access_control(control)

    srv = make_server([project], plugins=[setup])
    yield srv
    srv.close()


def styles(server: Server, role: str | None) -> bytes:
    result = call(
        server,
        "/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetStyles"
        "&LAYERS=countries_a,countries_b,countries_c",
        headers={"X-Role": role} if role else {},
    )
    assert result.status == 200
    return result.body


def test_staff_see_the_whole_style(styled: Server) -> None:
    body = styles(styled, "staff")
    for secret in SECRETS:
        assert secret.encode() in body


def test_guests_see_the_style_their_map_draws(styled: Server) -> None:
    body = styles(styled, None)
    for secret in SECRETS:
        assert secret.encode() not in body
    doc = etree.fromstring(body)
    layers = {layer.findtext("{*}Name"): layer for layer in doc.iterfind("{*}NamedLayer")}
    # Categories on a hidden attribute: every country gets the default symbol; the label on
    # a visible attribute stays.
    continent = layers["countries_a"]
    assert continent.xpath(".//*[local-name()='SvgParameter'][@name='fill']/text()") == ["#aaaaaa"]
    assert continent.xpath(".//*[local-name()='PropertyName']/text()") == ["name"]
    # Classes on a hidden attribute without a default: nothing is drawn, nothing is said; the
    # label template reads a hidden attribute: gone.
    assert layers["countries_b"].xpath(".//*[local-name()='Rule']") == []
    # Rules: the one on a hidden attribute is dropped, the others stay.
    rules = layers["countries_c"].xpath(".//*[local-name()='Rule']/*[local-name()='Name']/text()")
    assert rules == ["name = 'France'", "Other"]


def legend(server: Server, layer: str, role: str | None) -> np.ndarray:
    result = call(
        server,
        f"/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetLegendGraphic&FORMAT=image/png&LAYER={layer}",
        headers={"X-Role": role} if role else {},
    )
    assert result.status == 200
    return np.asarray(Image.open(io.BytesIO(result.body)).convert("RGBA"))


@pytest.mark.parametrize("layer", ["countries_a", "countries_b", "countries_c"])
def test_legends_leave_out_hidden_classes(styled: Server, layer: str) -> None:
    staff, guest = legend(styled, layer, "staff"), legend(styled, layer, None)
    # Fewer rows: the categories, classes and rule that read hidden attributes are not drawn.
    assert guest.shape[0] < staff.shape[0]
    colours = {tuple(c) for c in guest.reshape(-1, 4)[:, :3].tolist()}
    assert (0xE3, 0x1A, 0x1C) not in colours and (0xA5, 0x0F, 0x15) not in colours


def test_the_guest_map_matches_the_guest_style(styled: Server) -> None:
    # The map draws what GetStyles says: every country in the default grey for guests.
    query = (
        "/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=countries_a&STYLES="
        "&CRS=EPSG:4326&BBOX=-40,-20,40,55&WIDTH=150&HEIGHT=160&FORMAT=image/png"
    )
    for role, present in ((None, False), ("staff", True)):
        image = np.asarray(
            Image.open(
                io.BytesIO(call(styled, query, headers={"X-Role": role} if role else {}).body)
            ).convert("RGB")
        )
        reds = (np.abs(image.astype(int) - [0xE3, 0x1A, 0x1C]).sum(axis=2) < 30).sum()
        assert bool(reds > 100) is present
