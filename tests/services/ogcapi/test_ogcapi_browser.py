"""A real browser (headless Chromium) on the HTML pages: it asks with its own Accept header,
gets HTML, and draws the items' map (the SVG's fill shows in the screenshot)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from ogcserve.testing import serve_process

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed"),
]


def _chromium(*args: str) -> str:
    done = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    return done.stdout


def test_a_browser_gets_readable_pages_with_a_map(tmp_path: Path) -> None:
    with serve_process(workers=1) as url:
        items = f"{url}/ogcapi/demo/collections/countries/items?limit=20"
        dom = _chromium("--dump-dom", items)
        assert "<svg" in dom and "Canada" in dom and "20 features of 177" in dom
        assert 'rel="next"' not in dom and ">next</a>" in dom
        shot = tmp_path / "items.png"
        _chromium(f"--screenshot={shot}", "--window-size=900,900", items)
        pixels = Image.open(shot).convert("RGB").getdata()
        greenish = sum(1 for r, g, b in pixels if g > r + 40 and g > b + 20)
        assert greenish > 5000  # the countries are drawn
        landing = _chromium("--dump-dom", f"{url}/ogcapi/demo")
        assert "ogcserve demo" in landing and "/collections" in landing
