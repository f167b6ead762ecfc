"""Discovery: plugin folders, entry points, dotted paths; failures listed and skipped."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from ogcserve.testing import call, client, make_server

METADATA = "[general]\nname={name}\nversion=1.0\nserver={server}\n"


def _plugin(
    root: Path, name: str, init: str, server: str = "True", metadata: str | None = None
) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "metadata.txt").write_text(
        metadata if metadata is not None else METADATA.format(name=name, server=server)
    )
    (folder / "__init__.py").write_text(textwrap.dedent(init))
    return folder


GOOD = """
    from ogcserve.plugins import RequestFilter

    class Mark(RequestFilter):
        def on_response_complete(self, ctx):
            ctx.response.set_header("X-{name}", "1")

    def serverClassFactory(iface):
        iface.register_filter(Mark(), 10)
        return "started"
"""


@pytest.fixture
def plugin_root(tmp_path: Path):  # type: ignore[no-untyped-def]
    root = tmp_path / "plugins"
    root.mkdir()
    yield root
    for name in [m for m in sys.modules if m.startswith("lp_")]:
        del sys.modules[name]


def _records(server):  # type: ignore[no-untyped-def]
    return {r.name: r for r in server.plugins}


def test_folder_plugin_is_loaded_and_its_filters_run(plugin_root: Path) -> None:
    _plugin(plugin_root, "lp_good", GOOD.replace("{name}", "Good"))
    server = make_server(plugin_paths=[plugin_root])
    record = _records(server)["lp_good"]
    assert record.status == "loaded" and record.instance == "started"
    assert record.metadata["name"] == "lp_good"
    assert call(server, "/ows?SERVICE=WMS").headers["X-Good"] == "1"


def test_failures_are_listed_with_traceback_and_skipped(plugin_root: Path) -> None:
    _plugin(plugin_root, "lp_good", GOOD.replace("{name}", "Good"))
    _plugin(plugin_root, "lp_syntax", "def serverClassFactory(iface):\n    return (\n")
    _plugin(plugin_root, "lp_import", "import module_that_does_not_exist\n")
    _plugin(plugin_root, "lp_nofactory", "X = 1\n")
    _plugin(
        plugin_root,
        "lp_raises",
        """
        from ogcserve.plugins import RequestFilter

        def serverClassFactory(iface):
            iface.register_filter(RequestFilter(), 1)
            raise RuntimeError("cannot start")
    """,
    )
    _plugin(plugin_root, "lp_exit", "import sys\nsys.exit(3)\n")
    server = make_server(plugin_paths=[plugin_root])
    records = _records(server)
    assert records["lp_good"].status == "loaded"
    for name, needle in [
        ("lp_syntax", "SyntaxError"),
        ("lp_import", "ModuleNotFoundError"),
        ("lp_nofactory", "serverClassFactory"),
        ("lp_raises", "cannot start"),
        ("lp_exit", "SystemExit"),
    ]:
        assert records[name].status == "failed", name
        assert needle in (records[name].error or ""), name
    # the failed plugin's registrations are gone; only the good one's filter remains
    assert [e.owner for e in server.filters] == ["lp_good"]
    report = client(server).get("/-/plugins").json()
    failed = {p["name"] for p in report["plugins"] if p["status"] == "failed"}
    assert failed == {"lp_syntax", "lp_import", "lp_nofactory", "lp_raises", "lp_exit"}


@pytest.mark.parametrize(
    "metadata",
    [
        "this is not an ini file\n[general\nserver=True",
        "[general]\nserver=True\nserver=False\n",  # duplicate option
        b"\xff\xfe[general]\nserver=True".decode("latin-1"),
    ],
)
def test_malformed_metadata_is_a_failed_plugin(plugin_root: Path, metadata: str) -> None:
    folder = _plugin(plugin_root, "lp_meta", GOOD.replace("{name}", "Meta"), metadata="")
    (folder / "metadata.txt").write_bytes(metadata.encode("latin-1"))
    record = _records(make_server(plugin_paths=[plugin_root]))["lp_meta"]
    assert record.status in ("failed", "skipped")
    assert record.error


def test_server_flag_rules(plugin_root: Path) -> None:
    _plugin(plugin_root, "lp_lower", GOOD.replace("{name}", "Lower"), server="true")
    _plugin(plugin_root, "lp_desktop", GOOD.replace("{name}", "Desk"), server="False")
    _plugin(
        plugin_root, "lp_nokey", GOOD.replace("{name}", "Nokey"), metadata="[general]\nname=x\n"
    )
    records = _records(make_server(plugin_paths=[plugin_root]))
    assert records["lp_lower"].status == "loaded"
    assert any("server=True" in w for w in records["lp_lower"].warnings)
    assert records["lp_desktop"].status == "skipped"
    assert records["lp_nokey"].status == "skipped"


def test_folder_without_metadata_or_init_is_ignored(plugin_root: Path) -> None:
    (plugin_root / "lp_nometa").mkdir()
    (plugin_root / "lp_nometa" / "__init__.py").write_text("raise SystemExit")
    (plugin_root / "lp_noinit").mkdir()
    (plugin_root / "lp_noinit" / "metadata.txt").write_text("[general]\nserver=True\n")
    assert make_server(plugin_paths=[plugin_root]).plugins == []


def test_first_path_wins_and_env_paths_are_read(tmp_path: Path, plugin_root: Path) -> None:
    other = tmp_path / "other"
    _plugin(plugin_root, "lp_same", GOOD.replace("{name}", "First"))
    _plugin(other, "lp_same", GOOD.replace("{name}", "Second"))
    _plugin(other, "lp_envonly", GOOD.replace("{name}", "Env"))
    server = make_server(plugin_paths=[plugin_root], environ={"QGIS_PLUGINPATH": str(other)})
    records = _records(server)
    assert records["lp_same"].location == str(plugin_root / "lp_same")
    assert records["lp_envonly"].status == "loaded"
    headers = call(server, "/ows?SERVICE=WMS").headers
    assert headers.get("X-First") == "1" and "X-Second" not in headers


def test_hook_typos_are_warned(plugin_root: Path) -> None:
    _plugin(
        plugin_root,
        "lp_typo",
        """
        from ogcserve.plugins import RequestFilter

        class Typo(RequestFilter):
            def on_request_redy(self, ctx):
                pass

            def responsecomplete(self, ctx):
                pass

        def serverClassFactory(iface):
            iface.register_filter(Typo())
    """,
    )
    record = _records(make_server(plugin_paths=[plugin_root]))["lp_typo"]
    assert record.status == "loaded"
    assert any("on_request_redy" in w for w in record.warnings)
    assert any("responsecomplete" in w for w in record.warnings)


def test_entry_point_plugins(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "lp_pip_plugin").mkdir(parents=True)
    (site / "lp_pip_plugin" / "__init__.py").write_text(
        textwrap.dedent("""
        from ogcserve.plugins import RequestFilter

        class Pip(RequestFilter):
            def on_response_complete(self, ctx):
                ctx.response.set_header("X-Pip", "yes")

        def setup(iface):
            iface.register_filter(Pip())
    """)
    )
    dist = site / "lp_pip_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: lp-pip-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[ogcserve.plugins]\npip = lp_pip_plugin:setup\n")
    sys.path.insert(0, str(site))
    try:
        server = make_server(load_entry_points=True)
        record = _records(server)["pip"]
        assert record.origin == "entry-point" and record.status == "loaded"
        assert call(server, "/ows?SERVICE=WMS").headers["X-Pip"] == "yes"
    finally:
        sys.path.remove(str(site))
        sys.modules.pop("lp_pip_plugin", None)


def test_dotted_path_plugins_from_settings(tmp_path: Path) -> None:
    from ogcserve.app import build_server
    from ogcserve.cli import demo_project
    from ogcserve.settings import Settings

    (tmp_path / "lp_dotted.py").write_text(
        textwrap.dedent("""
        from ogcserve.plugins import RequestFilter

        class Dotted(RequestFilter):
            def on_response_complete(self, ctx):
                ctx.response.set_header("X-Dotted", "yes")

        def install(iface):
            iface.register_filter(Dotted())
    """)
    )
    sys.path.insert(0, str(tmp_path))
    try:
        settings = Settings(
            projects=[demo_project()],
            load_entry_points=False,
            plugins=["lp_dotted:install", "lp_missing_module:setup"],
        )
        server = build_server(settings, environ={})
        records = _records(server)
        assert records["lp_dotted:install"].status == "loaded"
        assert records["lp_missing_module:setup"].status == "failed"
        assert call(server, "/ows?SERVICE=WMS").headers["X-Dotted"] == "yes"
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("lp_dotted", None)


def test_failed_plugin_loses_its_services_and_routes(plugin_root: Path) -> None:
    _plugin(
        plugin_root,
        "lp_halfway",
        """
        from ogcserve.plugins import Service

        class S(Service):
            name, version = "HALF", "1.0"

            def execute(self, ctx):
                ctx.response.write("half")

        def serverClassFactory(iface):
            iface.register_service(S())
            iface.add_route("/half", lambda ctx: None)
            raise RuntimeError("late failure")
    """,
    )
    server = make_server(plugin_paths=[plugin_root])
    assert _records(server)["lp_halfway"].status == "failed"
    routes = [route.path for route, owner in server.services.routes() if owner != "ogcserve"]
    assert server.services.get("HALF") is None and routes == []
