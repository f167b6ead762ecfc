"""The viewer in a real headless Chromium (Debian's, driven by Playwright): the map, the layer
tree, identify with formatters, search panels, and what a restricted caller's browser receives.

First-load size and identify latency are measured and printed (`pytest -s`), never asserted.
Set OGCSERVE_VIEWER_SCREENSHOTS to a folder to save screenshots there (docs/img for the docs).
"""

from __future__ import annotations

import gzip
import os
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ogcserve.testing import serve_process

playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed"),
]
SHOTS = os.environ.get("OGCSERVE_VIEWER_SCREENSHOTS")
COTE_DIVOIRE = (-5.5, 7.5)
YAMOUSSOUKRO = (-5.2755, 6.8184)  # a city in Côte d'Ivoire


@pytest.fixture(scope="module")
def base_url(atlas: Path, plugins_dir: Path) -> Iterator[str]:
    with serve_process(atlas, "--plugins", plugins_dir, workers=1) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


class Session:
    """A page of the viewer with what the browser received and logged."""

    def __init__(self, browser: Any, url: str, headers: dict[str, str] | None = None, **kw: Any):
        self.context = browser.new_context(
            viewport=kw.pop("viewport", {"width": 1200, "height": 750}),
            extra_http_headers=headers or {},
        )
        self.page = self.context.new_page()
        self.responses: list[Any] = []
        self.errors: list[str] = []
        self.page.on("response", lambda r: self.responses.append(r))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.goto(url)
        self.page.wait_for_selector("body[data-ready=true]")
        self.page.wait_for_selector("#map[data-loaded]")

    def viewer(self, expression: str) -> Any:
        return self.page.evaluate(f"window.viewer.{expression}")

    def click_at(self, lon: float, lat: float) -> None:
        count = self.viewer("identifyCount")
        x, y = self.viewer(f"pixelOf({lon}, {lat})")
        self.page.click("#map", position={"x": x, "y": y})
        self.page.wait_for_function("(n) => window.viewer.identifyCount > n", arg=count)

    def search(self, layer: str, values: dict[str, str]) -> list[list[str]]:
        count = self.viewer("searchCount")
        form = f"form.search[data-layer={layer}]"
        for name, value in values.items():
            self.page.fill(f"{form} input[name={name}]", value)
        self.page.click(f"{form} button")
        self.page.wait_for_function("(n) => window.viewer.searchCount > n", arg=count)
        rows = self.page.query_selector_all("#results table.grid tbody tr")
        return [[td.inner_text() for td in row.query_selector_all("td")] for row in rows]

    def bodies(self) -> list[str]:
        out = []
        for response in self.responses:
            kind = response.headers.get("content-type", "")
            if response.status == 200 and not kind.startswith("image/"):
                out.append(response.text())
        return out

    def shot(self, name: str) -> None:
        if SHOTS:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            self.page.wait_for_timeout(300)  # the map asks for its new image after a pause
            self.page.wait_for_load_state("networkidle")
            self.page.screenshot(path=str(Path(SHOTS) / name))

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def session(browser: Any, base_url: str) -> Iterator[Session]:
    s = Session(browser, f"{base_url}/viewer/atlas")
    yield s
    s.close()


def test_first_load_is_small_and_the_map_draws(session: Session) -> None:
    kinds = ("document", "script", "stylesheet")
    sizes = [
        (len(body := r.body()), len(gzip.compress(body)))
        for r in session.responses
        if r.request.resource_type in kinds
    ]
    raw, packed = sum(s[0] for s in sizes), sum(s[1] for s in sizes)
    print(
        f"\nfirst load: {len(sizes)} files, {raw} B as sent, {packed} B gzip-compressed, "
        f"interactive after {session.viewer('readyMs'):.0f} ms"
    )
    assert packed < 500_000
    assert session.errors == []  # nothing refused by the page's Content-Security-Policy either
    assert session.page.is_visible("#map .frame img")
    assert session.page.inner_text("#map .scalebar")
    session.shot("viewer.png")


def test_toggle_a_layer_and_the_permalink_keeps_it(session: Session, base_url: str) -> None:
    page = session.page
    assert "cities" in page.url
    with page.expect_request(lambda r: "GetMap" in r.url and "cities" not in r.url):
        page.uncheck("#tree li[data-layer=cities] input")
    assert "layers=counties,places,countries" in page.url
    page.focus("#map")
    scale = session.viewer("map.scale")
    page.keyboard.press("+")
    assert session.viewer("map.scale") == pytest.approx(scale / 2)
    page.click("#map .controls [data-zoom='-1']")
    page.mouse.move(600, 400)
    page.mouse.wheel(0, -200)
    assert session.viewer("map.scale") < scale * 2
    reopened = Session(page.context.browser, page.url)
    try:
        assert reopened.viewer("tree.visibleLayers().map(l => l.name)") == ["counties", "countries"]
        assert reopened.viewer("map.scale") == pytest.approx(session.viewer("map.scale"), rel=0.01)
    finally:
        reopened.close()


def test_identify_a_country_with_its_formatters(session: Session) -> None:
    session.viewer(f"goTo({COTE_DIVOIRE[0]}, {COTE_DIVOIRE[1]}, 15000000)")
    session.click_at(*YAMOUSSOUKRO)
    table = "#results section[data-layer=countries] table.feature"
    page = session.page
    custom = page.get_attribute(f"{table} tr[data-field=name] a.wiki", "href")
    assert custom == "https://en.wikipedia.org/wiki/C%C3%B4te_d'Ivoire"  # the module's function
    automatic = page.get_attribute(f"{table} tr[data-field=wiki] a", "href")
    assert automatic == "https://en.wikipedia.org/wiki/Côte_d'Ivoire"  # an https value
    cell = lambda field: page.inner_text(f"{table} tr[data-field={field}] td:nth-child(2)")  # noqa: E731
    assert cell("pop_est") == "25,716,544"
    assert cell("continent") == "Africa (AF)"
    assert cell("iso_a3") == "CIV in Africa"
    assert cell("gdp_md_est") == "58539"  # the formatter throws: the raw value
    assert any("cannot format 58539" in e for e in session.errors)
    city = page.get_attribute("#results section[data-layer=cities] a", "href")
    assert city.startswith("https://www.openstreetmap.org/search?query=")
    session.shot("identify.png")
    timings = []
    for _ in range(5):
        session.click_at(*COTE_DIVOIRE)
        timings.append(session.viewer("identifyMs"))
    print(
        f"\nidentify in the browser: median {statistics.median(timings):.1f} ms, "
        f"all {[round(t, 1) for t in timings]}"
    )


def test_search_fills_the_grid_and_zooms_to_the_choice(session: Session) -> None:
    rows = session.search("countries", {"name": "d'ivoire"})
    assert rows == [
        [
            "Côte d'Ivoire (Wikipedia)",
            "Africa (AF)",
            "25,716,544",
            "https://en.wikipedia.org/wiki/Côte_d'Ivoire",
        ]
    ]
    before = session.viewer("map.scale")
    session.page.click("#results table.grid tbody tr")
    lon, lat = session.page.evaluate(
        "(() => { const [x, y] = window.viewer.map.center;"
        " return [x / 6378137 * 180 / Math.PI, Math.atan(Math.sinh(y / 6378137)) * 180 / Math.PI]; })()"
    )
    assert lon == pytest.approx(-5.5, abs=1.5) and lat == pytest.approx(7.6, abs=1.5)
    assert session.viewer("map.scale") < before / 10
    session.shot("search.png")
    big = session.search("countries", {"name": "", "pop_est": "1000000000"})
    assert sorted(r[0] for r in big) == ["China (Wikipedia)", "India (Wikipedia)"]


@pytest.mark.parametrize(
    "value", ["%", "_", "' OR 1=1 --", 'a" OR "1"="1', "%' OR name LIKE '%", "\\"]
)
def test_search_values_are_literals(session: Session, value: str) -> None:
    assert session.search("countries", {"name": value}) == []
    assert session.page.inner_text("#results .search-results p") == "0 found"


def test_a_quote_is_searched_for_as_it_is(session: Session) -> None:
    rows = session.search("countries", {"name": "'"})
    assert [r[0] for r in rows] == ["Côte d'Ivoire (Wikipedia)"]


def test_a_search_value_that_is_not_a_number(session: Session) -> None:
    session.page.fill("form.search[data-layer=countries] input[name=pop_est]", "1e9 OR 1=1")
    session.page.click("form.search[data-layer=countries] button")
    session.page.wait_for_selector("#results p")
    assert "not a number" in session.page.inner_text("#results")


def test_a_zoom_scale_bounds_the_zoom_to_a_choice(session: Session) -> None:
    assert session.search("counties", {"name": "Wake"})[0][0] == "Wake"
    session.page.click("#results table.grid tbody tr")
    assert session.viewer("map.scale") >= 2_000_000 * 0.99


def test_a_guest_receives_nothing_hidden(browser: Any, base_url: str) -> None:
    guest = Session(browser, f"{base_url}/viewer/atlas", {"X-Role": "guest"})
    try:
        page = guest.page
        assert page.query_selector("#tree li[data-layer=counties]") is None
        assert page.query_selector("form.search[data-layer=counties]") is None  # forbidden layer
        guest.click_at(*COTE_DIVOIRE)
        assert page.query_selector("#results tr[data-field=secret]") is None
        assert page.query_selector("#results tr[data-field=wiki]") is not None
        rows = guest.search("countries", {"name": "ivoire"})
        assert len(rows) == 1
        bodies = guest.bodies()
        assert any("Ivoire" in b for b in bodies)  # identify and search answers were read
        for body in bodies:
            assert "classified-" not in body and '"secret"' not in body
            assert "counties" not in body
    finally:
        guest.close()


def test_a_phone_sized_screen(browser: Any, base_url: str) -> None:
    phone = Session(browser, f"{base_url}/viewer/atlas", viewport={"width": 390, "height": 760})
    try:
        page = phone.page
        assert not page.is_visible("#panel")
        page.click("#menu")
        assert page.is_visible("#tree")
        page.click("#menu")
        scale = phone.viewer("map.scale")
        touch = lambda kind, n, x: page.dispatch_event(  # noqa: E731
            "#map", kind, {"pointerId": n, "clientX": x, "clientY": 400, "button": 0}
        )
        touch("pointerdown", 1, 100)
        touch("pointerdown", 2, 200)
        touch("pointermove", 2, 300)  # two fingers twice as far apart: twice as close
        touch("pointerup", 2, 300)
        touch("pointerup", 1, 100)
        assert phone.viewer("map.scale") == pytest.approx(scale / 2, rel=0.01)
        phone.click_at(*COTE_DIVOIRE)
        assert page.is_visible("#results")
        phone.shot("phone.png")
    finally:
        phone.close()


FORMAT_CASES = """async () => {
  const { Formatters } = await import("./-/static/format.js");
  const f = new Formatters({ l: {
    img: [{ type: "image", width: 64 }],
    mail: [{ type: "email" }],
    day: [{ type: "date", style: "long", locale: "en-GB" }],
    bad: [{ type: "link" }],
    tpl: [{ type: "template", template: "{value} & {other}" }],
    two: [{ type: "map", values: { "1": "one" } }, { type: "link", href: "/x/{value}" }],
  } }, {});
  const feature = { properties: { other: "<b>" } };
  const out = {};
  for (const [field, value] of [["img", "https://e.org/a.png"], ["mail", "a@b.org"],
      ["day", "2024-03-01"], ["bad", "javascript:alert(1)"], ["tpl", "<i>"], ["two", 1],
      ["plain", "<script>x</script>"], ["auto", "http://e.org/?a=1&b=2"]]) {
    out[field] = f.format(value, field, "l", feature);
  }
  return out;
}"""


def test_the_built_in_formatters_and_escaping(session: Session) -> None:
    out = session.page.evaluate(FORMAT_CASES)
    assert out["img"].startswith('<a href="https://e.org/a.png"')
    assert '<img class="thumb" src="https://e.org/a.png" width="64"' in out["img"]
    assert out["mail"] == '<a href="mailto:a@b.org">a@b.org</a>'
    assert out["day"] == "1 March 2024"
    assert out["bad"] == "javascript:alert(1)"  # not a link: the formatter refuses, raw value
    assert out["tpl"] == "&lt;i&gt; &amp; &lt;b&gt;"
    assert out["two"] == '<a href="/x/one" target="_blank" rel="noopener">one</a>'
    assert out["plain"] == "&lt;script&gt;x&lt;/script&gt;"
    assert out["auto"] == (
        '<a href="http://e.org/?a=1&amp;b=2" target="_blank" rel="noopener">'
        "http://e.org/?a=1&amp;b=2</a>"
    )
