"""ProjectStore: lookup by name, the default project, and reloading changed files."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from ogcserve.errors import ProjectNotFoundError
from ogcserve.projects import Project, ProjectError, ProjectStore, load_project

PROJECT = """\
name: {name}
title: {title}
layers:
  - name: dem
    source: {{type: raster, path: dem.tif}}
"""


def write(tmp_path: Path, name: str, title: str = "First") -> Path:
    (tmp_path / "dem.tif").touch()
    path = tmp_path / f"{name}.yaml"
    path.write_text(PROJECT.format(name=name, title=title), encoding="utf-8")
    return path


def touch_later(path: Path, seconds: float = 10) -> None:
    """Move the file's mtime forward: a rewrite within the clock's resolution looks unchanged."""
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + seconds))


def test_get_default_names(tmp_path: Path) -> None:
    store = ProjectStore.from_paths([write(tmp_path, "one"), write(tmp_path, "two")])
    assert store.names() == ["one", "two"]
    assert store.default().name == "one"
    assert store.get("two").name == "two"
    with pytest.raises(ProjectNotFoundError):
        store.get("three")


def test_empty_store_has_no_default() -> None:
    with pytest.raises(ProjectNotFoundError):
        ProjectStore().default()


def test_names_are_unique(tmp_path: Path) -> None:
    project = load_project(write(tmp_path, "one"))
    store = ProjectStore([project])
    with pytest.raises(ValueError, match="one"):
        store.add(project)


def test_from_paths_raises_for_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("layers: [\n", encoding="utf-8")
    with pytest.raises(ProjectError):
        ProjectStore.from_paths([write(tmp_path, "one"), bad])


def test_reload_only_when_mtime_changed(tmp_path: Path) -> None:
    path = write(tmp_path, "one")
    store = ProjectStore.from_paths([path])
    old = store.get("one")
    assert store.reload_if_changed("one") is None
    assert store.get("one") is old

    path.write_text(PROJECT.format(name="one", title="Second"), encoding="utf-8")
    touch_later(path)
    new = store.reload_if_changed("one")
    assert new is not None and new.title == "Second"
    assert store.get("one") is new
    assert store.reload_if_changed("one") is None


def test_failed_reload_keeps_the_old_project(tmp_path: Path) -> None:
    path = write(tmp_path, "one")
    store = ProjectStore.from_paths([path])
    path.write_text("layers: [\n", encoding="utf-8")
    touch_later(path)
    with pytest.raises(ProjectError):
        store.reload_if_changed("one")
    assert store.get("one").title == "First"
    # the same broken version is not re-parsed (nor re-reported) on every check
    assert store.reload_if_changed("one") is None

    path.write_text(PROJECT.format(name="one", title="Fixed"), encoding="utf-8")
    touch_later(path, 20)
    fixed = store.reload_if_changed("one")
    assert fixed is not None and fixed.title == "Fixed"


def test_reload_refuses_a_rename(tmp_path: Path) -> None:
    path = write(tmp_path, "one")
    store = ProjectStore.from_paths([path])
    path.write_text(PROJECT.format(name="renamed", title="First"), encoding="utf-8")
    touch_later(path)
    with pytest.raises(ProjectError, match="renamed"):
        store.reload_if_changed("one")
    assert store.names() == ["one"]


def test_reload_with_the_file_gone_keeps_the_project(tmp_path: Path) -> None:
    path = write(tmp_path, "one")
    store = ProjectStore.from_paths([path])
    path.unlink()
    assert store.reload_if_changed("one") is None
    assert store.get("one").name == "one"


def test_reload_unknown_project() -> None:
    with pytest.raises(ProjectNotFoundError):
        ProjectStore().reload_if_changed("nope")


def test_concurrent_reloads_load_once(tmp_path: Path) -> None:
    path = write(tmp_path, "one")
    loads: list[Path] = []

    def loader(p: Path) -> Project:
        loads.append(p)
        return load_project(p)

    store = ProjectStore([load_project(path)], loader=loader)
    path.write_text(PROJECT.format(name="one", title="Second"), encoding="utf-8")
    touch_later(path)
    results: list[Project | None] = []
    threads = [
        threading.Thread(target=lambda: results.append(store.reload_if_changed("one")))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1
    assert sum(result is not None for result in results) == 1
    assert store.get("one").title == "Second"
