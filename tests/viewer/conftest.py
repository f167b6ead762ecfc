"""The atlas example (examples/viewer) in a temporary folder, with its GeoPackage built from the
demo data, and the access plugin that makes the role `guest` (header X-Role)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ogcserve.testing import demo_project

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "viewer"
PLUGINS = Path(__file__).resolve().parent / "plugins"


@pytest.fixture(scope="session")
def atlas_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("ogr2ogr") is None:
        pytest.skip("ogr2ogr is not installed (gdal-bin)")
    folder = tmp_path_factory.mktemp("atlas")
    for name in ("atlas.yaml", "formatters.js"):
        shutil.copy(EXAMPLE / name, folder / name)
    demo_gpkg = demo_project().parent / "natural_earth.gpkg"
    subprocess.run(
        ["sh", str(EXAMPLE / "build_atlas.sh"), str(folder), str(demo_gpkg)],
        check=True,
        capture_output=True,
    )
    return folder


@pytest.fixture(scope="session")
def atlas(atlas_dir: Path) -> Path:
    return atlas_dir / "atlas.yaml"


@pytest.fixture(scope="session")
def plugins_dir() -> Path:
    return PLUGINS
