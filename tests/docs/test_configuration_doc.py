"""docs/configuration.md documents every process setting (a setting nobody can find is a bug)."""

from __future__ import annotations

from pathlib import Path

from ogcserve.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_every_setting_is_documented_with_its_variable() -> None:
    text = DOC.read_text()
    missing = [
        name
        for name in Settings.model_fields
        if f"`{name}`" not in text or f"`OGCSERVE_{name.upper()}`" not in text
    ]
    assert missing == []
