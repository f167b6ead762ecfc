"""The command line: `ogcserve serve | reload | check | plugins | explain | tiles`."""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import logging
import math
import os
import socket
import sys
from collections.abc import Sequence
from importlib import metadata
from importlib.resources import files
from pathlib import Path

import uvicorn
from pydantic import ValidationError

from ogcserve.http import dispatch, reload
from ogcserve.http.protocol import DEFAULT_LIMITS
from ogcserve.http.shutdown import GracefulServer
from ogcserve.logs import log_config
from ogcserve.settings import Settings


def demo_project() -> Path:
    """The built-in demo project (Natural Earth data shipped in the package)."""
    return Path(str(files("ogcserve") / "demo" / "demo.yaml"))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `ogcserve` console script."""
    parser = argparse.ArgumentParser(prog="ogcserve", description=__doc__)
    parser.add_argument("--version", action="version", version=f"ogcserve {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="serve projects over HTTP",
        epilog=settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "projects", nargs="*", type=Path, help="project files (default: the built-in demo)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=1, help="worker processes")
    serve.add_argument(
        "--plugins",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="a folder of plugin folders (repeatable)",
    )
    serve.add_argument(
        "--log-level",
        type=str.upper,
        default=None,
        choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
        help="level of every logger, plugins' included (default: the log_level setting, INFO)",
    )
    serve.add_argument(
        "--no-access-log",
        action="store_true",
        help="no line per request (default: the access_log setting, on)",
    )

    reload_ = commands.add_parser(
        "reload", help="reload a running server (new workers; the old ones finish first)"
    )
    reload_.add_argument(
        "--pid-file", type=Path, default=None, help="the server's pid file (setting pid_file)"
    )
    reload_.add_argument("--timeout", type=float, default=None, help="seconds to wait")

    check = commands.add_parser("check", help="validate project files and open their sources")
    check.add_argument("projects", nargs="+", type=Path)
    check.add_argument(
        "--plugins",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="a folder of plugin folders (repeatable): once the projects pass, also load the"
        " plugins as serve would and report each failure and warning",
    )

    plugins = commands.add_parser("plugins", help="list loaded and failed plugins")
    plugins.add_argument("projects", nargs="*", type=Path)
    plugins.add_argument("--plugins", action="append", type=Path, default=[], metavar="DIR")
    plugins.add_argument("--json", action="store_true", help="print the report as JSON")

    explain = commands.add_parser(
        "explain", help="tell which access control decided what on each layer of a request"
    )
    explain.add_argument("project", type=Path, help="the project file")
    explain.add_argument("query", help="the request's query string, e.g. 'SERVICE=WFS&...'")
    explain.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a header of the request (repeatable), e.g. 'X-Role: user'",
    )
    explain.add_argument("--plugins", action="append", type=Path, default=[], metavar="DIR")
    explain.add_argument("--json", action="store_true", help="print the report as JSON")

    from ogcserve.services.tiles import command as tiles_command

    tiles_command.add_parser(commands)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "tiles":
        return tiles_command.run(args)
    if args.command == "serve":
        return _serve(args)
    if args.command == "check":
        return _check(args.projects) or _check_plugins(args.projects, args.plugins)
    if args.command == "explain":
        return _explain(args)
    if args.command == "reload":
        return _reload(args)
    return _plugins(args)


class _NoDelayConfig(uvicorn.Config):
    """uvicorn's config, with Nagle's algorithm off on the shared listening socket.

    With several workers, uvicorn hands the workers a socket that asyncio does not treat as
    TCP, so accepted connections keep Nagle on and a response written as headers then body
    waits ~40 ms for the client's delayed ACK (uvicorn issue #3149). Linux passes TCP_NODELAY
    from the listening socket on to every connection it accepts.
    """

    # (max_url_length, max_header_bytes), read by the HTTP protocol (http/protocol.py).
    ogcserve_head_limits: tuple[int, int] = DEFAULT_LIMITS

    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


# glibc hands freed memory back to the OS eagerly: a map's pixel buffers (3 MB at 1024x768) are
# mmapped and unmapped on every request, and the heap's top is trimmed after each, so the next
# request faults the same pages in again. Keeping up to these amounts cut a dense 1024x768
# GetMap from 66 to 61 ms (docs/performance.md). Variables a user sets win.
_MALLOC = {"MALLOC_MMAP_THRESHOLD_": (-3, 32 << 20), "MALLOC_TRIM_THRESHOLD_": (-1, 256 << 20)}


def _tune_allocator() -> None:
    """Apply `_MALLOC` here (mallopt) and to the worker processes (environment, read by glibc
    when they start). Without glibc (musl, macOS) nothing changes."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    for name, (option, value) in _MALLOC.items():
        if name not in os.environ:
            os.environ[name] = str(value)
            mallopt(option, value)


def _serve(args: argparse.Namespace) -> int:
    _tune_allocator()
    with contextlib.ExitStack() as stack:
        if _settings().metrics:
            # The workers' metrics are shared through files (ogcserve/metrics/multiprocess.py).
            from ogcserve.metrics import multiprocess

            path = stack.enter_context(multiprocess.shared_directory())
            args.on_worker_exit = multiprocess.worker_exits(path)
        return _serve_with(args)


def _serve_with(args: argparse.Namespace) -> int:
    projects = [p.resolve() for p in args.projects] or [demo_project()]
    # Worker processes build their own server from these variables (plugins load per process).
    os.environ["OGCSERVE_PROJECTS"] = json.dumps([str(p) for p in projects])
    os.environ["OGCSERVE_PLUGIN_PATHS"] = json.dumps([str(p.resolve()) for p in args.plugins])
    settings = _settings()
    level = args.log_level or settings.log_level
    access_log = settings.access_log and not args.no_access_log
    os.environ["OGCSERVE_LOG_LEVEL"] = level
    os.environ["OGCSERVE_ACCESS_LOG"] = "true" if access_log else "false"
    _check_or_exit(projects)
    # uvicorn applies the logging configuration in this process and in every worker.
    config = _NoDelayConfig(
        "ogcserve.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        log_level=level.lower(),
        access_log=False,
        log_config=log_config(level, access_log),
        # Then the running requests are cancelled (http/shutdown.py).
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace),
        http="ogcserve.http.protocol:OgcHttpToolsProtocol",  # the request head bounded
    )
    config.ogcserve_head_limits = (settings.max_url_length, settings.max_header_bytes)
    if dispatch.SUPPORTED:  # also with one worker: reloads and replacing a worker that died
        with reload.pid_file(settings):
            dispatch.serve(
                config,
                args.workers,
                reload.options(settings),
                getattr(args, "on_worker_exit", None),
            )
    elif args.workers > 1:
        raise SystemExit(
            "--workers above 1 needs Linux (epoll); elsewhere run one worker "
            "per port behind a proxy"
        )
    else:
        GracefulServer(config).run()
    return 0


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        raise SystemExit(f"invalid settings (OGCSERVE_* variables):\n{error}") from None


def _reload(args: argparse.Namespace) -> int:
    settings = _settings()
    pid_file = args.pid_file or settings.pid_file
    if pid_file is None:
        raise SystemExit("ogcserve reload: name the server's pid file (--pid-file or pid_file)")
    timeout = args.timeout if args.timeout is not None else settings.reload_timeout + 10
    status, message = reload.request_reload(pid_file, timeout)
    print(message, file=sys.stdout if status == 0 else sys.stderr)
    return status


def _check_or_exit(projects: list[Path]) -> None:
    if _check(projects, quiet=True, serving=True) != 0:
        raise SystemExit(2)


def _check(projects: Sequence[Path], quiet: bool = False, serving: bool = False) -> int:
    """Print each project's issues; 1 if any. `serving`: a database that cannot be reached now
    is a warning (the server starts and answers 503 for its layers), not an issue."""
    from ogcserve.access import AccessLayer
    from ogcserve.projects import check_project

    data = AccessLayer()
    opener = data.check_source_if_reachable if serving else data.check_source
    failures = 0
    for path in projects:
        issues = check_project(path, opener)
        for issue in issues:
            print(issue, file=sys.stderr)
        # A QGIS project serves without its refused layers; warnings never fail a check.
        failing = {"error"} if serving else {"error", "refused"}
        failures += sum(issue.severity in failing for issue in issues)
        warnings = sum(issue.severity == "warning" for issue in issues)
        if len(issues) == warnings and not quiet:
            print(f"{path}: ok" + (f" ({warnings} warnings)" if warnings else ""))
    return 1 if failures else 0


def _check_plugins(projects: Sequence[Path], plugin_paths: Sequence[Path]) -> int:
    """With `--plugins`: load the plugins as `serve` would (those folders, the plugin variables,
    entry points, the projects' own) and print each failure and warning, `plugin <name>
    (<location>): <message>`; 1 if one failed to load. Warnings (found twice, registered
    nothing) never fail the check."""
    if not plugin_paths:
        return 0
    from ogcserve.app import build_server
    from ogcserve.http.plugin_report import plugin_report

    settings = Settings(
        projects=[p.resolve() for p in projects],
        plugin_paths=list(plugin_paths),
        metrics=False,
        plugin_errors_fatal=False,
    )
    logging.disable(logging.CRITICAL)  # the loader logs what is printed below
    try:
        server = build_server(settings)
    except ValueError as error:  # projects that cannot be served together
        print(f"the projects cannot be served together: {error}", file=sys.stderr)
        return 1
    finally:
        logging.disable(logging.NOTSET)
    try:
        report = plugin_report(server)
    finally:
        server.close()
    failed = 0
    for record in report["plugins"]:
        where = f"plugin {record['name']} ({record['location']})"
        for warning in record["warnings"]:
            print(f"{where}: warning: {warning}", file=sys.stderr)
        if record["status"] == "failed":
            failed += 1
            last = (record["error"] or "failed").strip().splitlines()[-1]
            print(f"{where}: {last} (`ogcserve plugins` shows the traceback)", file=sys.stderr)
    return 1 if failed else 0


def _plugins(args: argparse.Namespace) -> int:
    from ogcserve.app import build_server
    from ogcserve.http.plugin_report import plugin_report

    settings = Settings(
        projects=[p.resolve() for p in args.projects] or [demo_project()], plugin_paths=args.plugins
    )
    report = plugin_report(build_server(settings))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for record in report["plugins"]:
        print(f"{record['name']}  [{record['status']}]  {record['origin']}: {record['location']}")
        for f in record.get("filters", []):
            print(f"    filter {f['class']} priority={f['priority']} hooks={','.join(f['hooks'])}")
        for kind in ("access_controls", "caches"):
            for f in record.get(kind, []):
                print(f"    {kind[:-1].replace('_', ' ')} {f['class']} priority={f['priority']}")
        for service in record.get("services", []):
            print(f"    service {service}")
        for route in record.get("routes", []):
            print(f"    route {route}")
        for warning in record["warnings"]:
            print(f"    warning: {warning}")
        if record["error"]:
            print("    " + record["error"].rstrip().replace("\n", "\n    "))
    if not report["plugins"]:
        print("no plugins found")
    return 0


def _version() -> str:
    try:
        return metadata.version("ogcserve")
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


def settings_help() -> str:
    """Every setting with its variable, default and description (from the settings model)."""
    lines = ["settings (environment variables; `ogcserve serve` options above win):"]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        shown = json.dumps(default, default=str) if not isinstance(default, str) else default
        lines.append(f"  OGCSERVE_{name.upper()} (default: {shown})")
        lines.append(f"      {field.description or ''}")
    return "\n".join(lines)


def _explain(args: argparse.Namespace) -> int:
    from ogcserve.access.explain import as_text, explain, explain_headers
    from ogcserve.app import build_server

    try:
        headers = explain_headers(args.header)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    project = args.project.resolve()
    _check_or_exit([project])
    settings = Settings(projects=[project], plugin_paths=args.plugins, metrics=False)
    server = build_server(settings)
    try:
        report = explain(server, server.projects.names()[0], args.query.lstrip("?"), headers)
    finally:
        server.close()
    print(json.dumps(report, indent=2) if args.json else as_text(report))
    return 1 if "refused" in report else 0
