"""`ogcserve --version` and `ogcserve serve --help`, which lists every setting (it is generated
from the settings model, so a new setting cannot be left out)."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata

from ogcserve.settings import Settings


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ogcserve", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_version_is_the_package_version() -> None:
    out = run("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"ogcserve {metadata.version('ogcserve')}"


def test_serve_help_documents_every_setting() -> None:
    out = run("serve", "--help")
    assert out.returncode == 0
    for name, field in Settings.model_fields.items():
        assert f"OGCSERVE_{name.upper()} " in out.stdout, name
        assert field.description, f"setting {name} has no description"
        assert field.description.split()[0] in out.stdout
