"""`ogcserve tiles seed|purge`: the plan, progress and summary, resuming, purging."""

from __future__ import annotations

from pathlib import Path

import pytest

from ogcserve.cli import demo_project, main
from ogcserve.services.tiles.matrices import TileMatrixSets
from ogcserve.services.tiles.seed import count, parse_bbox, parse_zooms, plan


@pytest.fixture
def disk_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OGCSERVE_CACHE_BACKEND", "disk")
    monkeypatch.setenv("OGCSERVE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def tiles_in(cache: Path, layer: str = "") -> list[Path]:
    return [p for p in (cache / "demo" / "tile" / layer).rglob("*") if p.is_file()]


def test_the_plan_covers_every_tile_once() -> None:
    mercator = TileMatrixSets().get("WebMercatorQuad")
    assert mercator is not None
    europe = parse_bbox("-10,35,30,60")
    for size in (1, 3, 4):
        metatiles = list(plan(["a", "b"], mercator, parse_zooms("0-7"), europe, size))
        assert sum(m.tiles for m in metatiles) == count(["a", "b"], mercator, range(8), europe)
    assert count(["a"], mercator, parse_zooms("2"), None) == 16
    with pytest.raises(ValueError):
        parse_zooms("5-2")
    with pytest.raises(ValueError):
        parse_bbox("1,2,0,3")


def test_seed_resume_and_purge(disk_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["tiles", "seed", str(demo_project()), "--layer", "countries", "--layer", "places"]
    args += ["--zoom", "0-3", "--workers", "2"]
    assert main(args) == 0
    report = capsys.readouterr().err
    assert "170/170 tiles (100%)" in report
    assert "170 tiles in" in report and "170 drawn, 0 already cached, 0 failed" in report
    assert len(tiles_in(disk_cache, "countries")) == 85
    # Run again: everything is there already.
    assert main(args) == 0
    assert "0 drawn, 170 already cached" in capsys.readouterr().err
    # Purge one level of one layer, then the whole project.
    purge = ["tiles", "purge", str(demo_project()), "--layer", "countries", "--zoom", "3"]
    assert main(purge) == 0
    assert len(tiles_in(disk_cache, "countries")) == 85 - 64
    assert len(tiles_in(disk_cache, "places")) == 85
    assert main(["tiles", "purge", str(demo_project())]) == 0
    assert tiles_in(disk_cache) == []


def test_purge_an_area(disk_cache: Path) -> None:
    seed = ["tiles", "seed", str(demo_project()), "--layer", "countries", "--zoom", "2"]
    assert main([*seed, "--workers", "1"]) == 0
    assert len(tiles_in(disk_cache)) == 16
    # Around Paris at z2: its tile and its neighbours (one tile of margin) are dropped.
    purge = ["tiles", "purge", str(demo_project()), "--layer", "countries", "--zoom", "2"]
    assert main([*purge, "--bbox", "2.2,48.8,2.4,48.9"]) == 0
    assert len(tiles_in(disk_cache)) == 16 - 9


def test_a_forbidden_layer_is_counted_as_failed(
    disk_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["tiles", "seed", str(demo_project()), "--layer", "nowhere", "--zoom", "0-1"]
    assert main([*args, "--workers", "1"]) == 1
    assert "5 tiles failed: 400" in capsys.readouterr().err


def test_seeding_the_memory_cache_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OGCSERVE_CACHE_BACKEND", "memory")
    with pytest.raises(SystemExit, match="shared cache"):
        main(["tiles", "seed", str(demo_project()), "--zoom", "0"])
