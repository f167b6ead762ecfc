"""docs/plugins.md names every hook, every ServerInterface method and every method of the access
and cache filters and of services, each in its own section: a plugin author reads the API there."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from ogcserve.plugins import AccessControlFilter, CacheFilter, RequestFilter, Service
from ogcserve.plugins.interface import ServerInterface

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"

# Each class of the plugin API and the "## " section of docs/plugins.md that documents it.
SECTIONS = {
    RequestFilter: "Hooks reference",
    ServerInterface: "ServerInterface",
    AccessControlFilter: "Access control",
    CacheFilter: "Cache filters",
    Service: "Services and routes",
}


def _section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"docs/plugins.md has no section '## {title}'"
    return match.group(1)


def _public_methods() -> list[tuple[type, str]]:
    return [
        (cls, name)
        for cls in SECTIONS
        for name, member in vars(cls).items()
        if not name.startswith("_") and (inspect.isfunction(member) or isinstance(member, property))
    ]


@pytest.mark.parametrize(
    ("cls", "name"), _public_methods(), ids=[f"{c.__name__}.{n}" for c, n in _public_methods()]
)
def test_every_plugin_api_method_is_documented_in_its_section(cls: type, name: str) -> None:
    section = _section(SECTIONS[cls])
    assert re.search(rf"`{re.escape(name)}\b", section), (
        f"{cls.__name__}.{name} is not named in the '{SECTIONS[cls]}' section of docs/plugins.md"
    )


def test_the_list_of_classes_is_the_plugin_api() -> None:
    """A class added to the plugin API must be added here (and to the doc)."""
    import ogcserve.plugins as api

    exported = {getattr(api, n) for n in api.__all__ if inspect.isclass(getattr(api, n))}
    bases = {RequestFilter, AccessControlFilter, CacheFilter, Service}
    assert bases <= exported
