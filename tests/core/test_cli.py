"""`ogcserve check` and `ogcserve plugins`."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from ogcserve.cli import demo_project, main


def test_check_accepts_the_demo(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(demo_project())]) == 0
    assert "ok" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("edit", "line_key", "message"),
    [
        (
            lambda t: t.replace("table: countries", "table: no_such_table"),
            "source",
            "does not open",
        ),
        (
            lambda t: t.replace("title: Countries", "title: Countries\n    colour: red", 1),
            "colour",
            "unknown key",
        ),
        (lambda t: t.replace("queryable: true", "queryable: [1, 2]", 1), "queryable", ""),
        (
            lambda t: t + "  - {name: countries, source: {type: raster, path: elevation.tif}}\n",
            "name",
            "countries",
        ),
        (
            lambda t: t.replace(
                "wfs: {publish: true, insert: false",
                "wfs: {precision: -1, publish: true, insert: false",
                1,
            ),
            "precision",
            "0",
        ),
    ],
)
def test_check_reports_file_line_and_key(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    edit,
    line_key: str,
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    for data in ("natural_earth.gpkg", "elevation.tif"):
        shutil.copy(demo_project().parent / data, tmp_path)
    project = tmp_path / "broken.yaml"
    project.write_text(edit(demo_project().read_text()))
    assert main(["check", str(project)]) == 1
    err = capsys.readouterr().err
    first = err.splitlines()[0]
    assert first.startswith(f"{project}:") and line_key in first and message in err
    assert first.split(":")[1].isdigit()  # a line number


def test_check_reports_yaml_syntax_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "bad.yaml"
    project.write_text("title: x\nlayers:\n  - name: [unclosed\n")
    assert main(["check", str(project)]) == 1
    assert f"{project}:" in capsys.readouterr().err


def test_plugins_command_lists_loaded_and_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    examples = Path(__file__).resolve().parents[2] / "examples" / "plugins"
    broken = tmp_path / "plugins" / "cli_broken"
    broken.mkdir(parents=True)
    (broken / "metadata.txt").write_text("[general]\nserver=True\n")
    (broken / "__init__.py").write_text("raise ImportError('nope')\n")
    assert (
        main(["plugins", "--plugins", str(examples), "--plugins", str(tmp_path / "plugins")]) == 0
    )
    out = capsys.readouterr().out
    assert "hello  [loaded]" in out and "filter HelloFilter priority=100" in out
    assert "on_response_complete" in out
    assert "cli_broken  [failed]" in out and "ImportError: nope" in out
    assert "service ECHO 1.0.0" in out and "route /echo/{word}" in out


def test_serve_keeps_freed_memory_for_the_next_request(monkeypatch: pytest.MonkeyPatch) -> None:
    from ogcserve import cli

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "12345")  # a user's own setting wins
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    cli._tune_allocator()
    assert os.environ["MALLOC_TRIM_THRESHOLD_"] == "12345"
    assert os.environ["MALLOC_MMAP_THRESHOLD_"] == str(32 << 20)  # inherited by the workers


def test_serve_with_workers_needs_epoll(monkeypatch: pytest.MonkeyPatch) -> None:
    from ogcserve.http import dispatch

    monkeypatch.setattr(dispatch, "SUPPORTED", False)
    for name in (
        "OGCSERVE_PROJECTS",
        "OGCSERVE_PLUGIN_PATHS",
        "OGCSERVE_LOG_LEVEL",
        "OGCSERVE_ACCESS_LOG",
        "MALLOC_MMAP_THRESHOLD_",
        "MALLOC_TRIM_THRESHOLD_",
    ):
        monkeypatch.setenv(name, os.environ.get(name, ""))  # serve sets them: restored after
    root = logging.getLogger()  # serve configures logging: restored after
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    with pytest.raises(SystemExit, match="needs Linux"):
        main(["serve", "--workers", "2"])
