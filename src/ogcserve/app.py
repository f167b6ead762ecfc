"""`create_app(settings)`: the only composition root. Nothing is built at import time."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from functools import partial

from starlette.types import ASGIApp

from ogcserve.access import AccessLayer
from ogcserve.access.policy import POLICY_PRIORITY, ProjectPolicy
from ogcserve.cache import BackendCache
from ogcserve.compat.qgis import folder_interface
from ogcserve.http.asgi import asgi_app
from ogcserve.http.status import allow_any_status
from ogcserve.plugins.interface import ServerInterface
from ogcserve.plugins.loader import PluginsFailedError, load_plugins, plugin_folders
from ogcserve.projects import ProjectStore, load_project
from ogcserve.server import Server
from ogcserve.services import builtin
from ogcserve.settings import Settings


def build_server(settings: Settings, environ: Mapping[str, str] | None = None) -> Server:
    """Load the projects, register the built-ins the way plugins register, then load plugins."""
    environ = os.environ if environ is None else environ
    logging.getLogger("ogcserve").setLevel(settings.log_level.upper())
    # Projects load as `ogcserve check` checks them: sources open, field names are theirs (but a
    # database that is down now does not keep the server from starting).
    access = AccessLayer(limits=settings.source_limits())
    loader = partial(load_project, opener=access.check_source_if_reachable)
    server = Server(settings, ProjectStore.from_paths(settings.projects, loader=loader))
    core = ServerInterface(server, "ogcserve")
    builtin.setup(core)
    core.register_access_control(ProjectPolicy(), POLICY_PRIORITY)
    core.register_cache(BackendCache(server.cache_backend), priority=1_000_000)
    dotted = [("setting", path) for path in settings.plugins]
    for name in server.projects.names():
        dotted += [("project", path) for path in server.projects.get(name).plugins]
    server.plugins = load_plugins(
        server,
        plugin_folders(settings.plugin_paths, dict(environ)),
        dotted,
        entry_points=settings.load_entry_points,
        folder_interface=folder_interface,  # QGIS plugins get QgsServerInterface and `qgis`
    )
    failed = [r for r in server.plugins if r.status == "failed"]
    if failed and settings.plugin_errors_fatal:
        raise PluginsFailedError(failed)
    return server


def create_app(settings: Settings | None = None) -> ASGIApp:
    """The ASGI application serving `settings.projects` (settings from OGCSERVE_* if omitted).

    This is the factory uvicorn calls in each serving process, so it also lets uvicorn write
    the statuses plugins may set (`ogcserve.http.status`).
    """
    allow_any_status()
    return asgi_app(build_server(settings or Settings()))
