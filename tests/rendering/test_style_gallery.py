"""The examples of docs/styles.md validate, render, and have their pictures committed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from style_gallery import EXAMPLES, OUT, ROOT, Example, legend_of, render

from ogcserve.rendering import Renderer, validate_style

DOC = ROOT / "docs" / "styles.md"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_gallery_example_renders(example: Example) -> None:
    renderer = Renderer()
    image = render(example, renderer)
    assert image.shape == (example.view.height, example.view.width, 4)
    assert image[..., 3].max() == 255
    assert legend_of(example, renderer)[..., 3].max() == 255
    assert (OUT / f"{example.name}.png").is_file()


def test_every_yaml_style_in_the_docs_validates() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= len(EXAMPLES)
    for block in blocks:
        loaded = yaml.safe_load(block)
        style = loaded.get("style", loaded)
        gtype = "RASTER" if "ramp" in style else None
        validate_style(style, gtype)


def test_docs_show_every_gallery_picture() -> None:
    text = DOC.read_text()
    for example in EXAMPLES:
        assert f"images/styles/{example.name}.png" in text
        assert Path(OUT / f"{example.name}_legend.png").is_file()
