"""A plugin found twice is started once, with a warning; a plugin that registers nothing is
warned about. Neither stops the server."""

from __future__ import annotations

import logging
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from ogcserve.app import build_server
from ogcserve.cli import demo_project, main
from ogcserve.settings import Settings
from ogcserve.testing import call, make_server

FILTER = """
    from ogcserve.plugins import RequestFilter

    class Count(RequestFilter):
        def on_response_complete(self, ctx):
            seen = ctx.response.headers.get("X-Count", "")
            ctx.response.set_header("X-Count", seen + "{mark}")

    def {entry}(iface):
        iface.register_filter(Count(), 10)
"""


def _folder(root: Path, name: str, code: str) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "metadata.txt").write_text(f"[general]\nname={name}\nserver=True\n")
    (folder / "__init__.py").write_text(textwrap.dedent(code))
    return folder


@pytest.fixture
def cleanup() -> Iterator[None]:
    path = list(sys.path)
    yield
    sys.path[:] = path
    for name in [m for m in sys.modules if m.startswith("lw_")]:
        del sys.modules[name]


def test_the_same_folder_plugin_in_two_paths_loads_once(
    tmp_path: Path, cleanup: None, caplog: pytest.LogCaptureFixture
) -> None:
    code = FILTER.replace("{entry}", "serverClassFactory")
    _folder(tmp_path / "a", "lw_twice", code.replace("{mark}", "a"))
    second = _folder(tmp_path / "b", "lw_twice", code.replace("{mark}", "b"))
    with caplog.at_level(logging.WARNING, logger="ogcserve.plugins"):
        server = make_server(plugin_paths=[tmp_path / "a", tmp_path / "b"])
    [record] = [r for r in server.plugins if r.name == "lw_twice"]
    assert record.status == "loaded" and record.location == str(tmp_path / "a" / "lw_twice")
    assert record.warnings == [f"found again in {second}, which is not loaded"]
    assert f"plugin lw_twice: found again in {second}" in caplog.text
    assert call(server, "/ows?SERVICE=WMS").headers["X-Count"] == "a"


def test_a_folder_plugin_also_installed_with_pip_loads_once(tmp_path: Path, cleanup: None) -> None:
    _folder(
        tmp_path / "plugins",
        "lw_both",
        textwrap.dedent(FILTER.replace("{entry}", "serverClassFactory").replace("{mark}", "f"))
        + "\ndef setup(iface):\n    iface.register_filter(Count(), 20)\n",
    )
    site = tmp_path / "site"
    dist = site / "lw_both-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: lw-both\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[ogcserve.plugins]\nboth = lw_both:setup\n")
    sys.path.insert(0, str(site))
    server = make_server(plugin_paths=[tmp_path / "plugins"], load_entry_points=True)
    records = {r.name: r for r in server.plugins}
    assert "both" not in records
    assert records["lw_both"].warnings == [
        "also installed as the entry point both = lw_both:setup, which is not loaded"
    ]
    assert call(server, "/ows?SERVICE=WMS").headers["X-Count"] == "f"


def test_a_plugin_listed_by_the_settings_and_a_project_starts_once(
    tmp_path: Path, cleanup: None
) -> None:
    (tmp_path / "lw_dotted.py").write_text(
        textwrap.dedent(FILTER.replace("{entry}", "setup").replace("{mark}", "d"))
    )
    sys.path.insert(0, str(tmp_path))
    project = tmp_path / "demo.yaml"
    project.write_text(demo_project().read_text() + "plugins: ['lw_dotted']\n")
    for data in ("natural_earth.gpkg", "elevation.tif"):
        (tmp_path / data).symlink_to(demo_project().parent / data)
    server = build_server(
        Settings(projects=[project], plugins=["lw_dotted:setup"], load_entry_points=False),
        environ={},
    )
    assert [r.name for r in server.plugins if "lw_dotted" in r.name] == ["lw_dotted:setup"]
    assert call(server, "/ows?SERVICE=WMS").headers["X-Count"] == "d"


def test_a_plugin_that_registers_nothing_is_warned_about(
    tmp_path: Path, cleanup: None, capsys: pytest.CaptureFixture[str]
) -> None:
    _folder(
        tmp_path,
        "lw_idle",
        """
        class Idle:
            def __init__(self, iface):
                self.iface = iface  # keeps the interface, registers nothing

        def serverClassFactory(iface):
            return Idle(iface)
    """,
    )
    _folder(tmp_path, "lw_busy", FILTER.replace("{entry}", "serverClassFactory"))
    records = {r.name: r for r in make_server(plugin_paths=[tmp_path]).plugins}
    message = (
        "serverClassFactory() registered nothing (no filter, service, access control, "
        "cache filter or route): the plugin has no effect"
    )
    assert records["lw_idle"].status == "loaded" and records["lw_idle"].warnings == [message]
    assert records["lw_busy"].warnings == []
    for name in ("lw_idle", "lw_busy"):
        sys.modules.pop(name, None)
    assert main(["plugins", "--plugins", str(tmp_path)]) == 0
    assert f"    warning: {message}" in capsys.readouterr().out


def test_check_loads_the_plugins_and_reports_them(
    tmp_path: Path, cleanup: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # `ogcserve check` catches what breaks at run time: a plugin that registers nothing or is
    # found twice is a warning (the check passes), one that fails to load an error.
    _folder(tmp_path / "a", "lw_idle_check", "def serverClassFactory(iface):\n    return iface\n")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "lw_idle_check").symlink_to(tmp_path / "a" / "lw_idle_check")
    demo = str(demo_project())
    assert (
        main(["check", demo, "--plugins", str(tmp_path / "a"), "--plugins", str(tmp_path / "b")])
        == 0
    )
    err = capsys.readouterr().err.splitlines()
    where = f"plugin lw_idle_check ({tmp_path / 'a' / 'lw_idle_check'})"
    idle = (
        f"{where}: warning: serverClassFactory() registered nothing (no filter, service, "
        "access control, cache filter or route): the plugin has no effect"
    )
    assert idle in err, err
    assert any(line.startswith(f"{where}: warning: found again in ") for line in err), err
    _folder(tmp_path / "c", "lw_broken_check", "raise ImportError('lw gone')\n")
    assert main(["check", demo, "--plugins", str(tmp_path / "c")]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"plugin lw_broken_check ({tmp_path / 'c' / 'lw_broken_check'}): ImportError: lw gone"
        " (`ogcserve plugins` shows the traceback)"
    ]
