"""`Server`: the registries a running server holds. Behaviour lives in pipeline.py and services/."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from ogcserve.access import AccessLayer
from ogcserve.access.rules import AccessControl
from ogcserve.cache import open_backend
from ogcserve.errors import ProjectNotFoundError
from ogcserve.plugins.cache import CacheChain
from ogcserve.plugins.filters import FilterChain
from ogcserve.plugins.services import ServiceRegistry
from ogcserve.projects import Project, ProjectError, ProjectStore
from ogcserve.settings import Settings

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.metrics.registry import Metrics
    from ogcserve.plugins.loader import PluginRecord

log = logging.getLogger("ogcserve.server")


class Server:
    """Filters, access controls, caches, services, projects, the access layer and plugin records."""

    def __init__(self, settings: Settings, projects: ProjectStore) -> None:
        self.settings = settings
        # Prometheus metrics (None: switched off); shared by the worker processes under serve.
        self.metrics = _metrics() if settings.metrics else None
        self.filters = FilterChain(trace=settings.trace_filters)
        self.access_controls = AccessControl()
        self.caches = CacheChain()
        # Documents, images (through the built-in cache filter) and tiles live here.
        self.cache_backend = open_backend(settings, self.metrics)
        self.services = ServiceRegistry()
        self.projects = projects
        self.access = AccessLayer(
            max_features=settings.max_features, limits=settings.source_limits()
        )
        self.plugins: list[PluginRecord] = []
        # Documents depend on the settings and plugins too, not only on the project file: none
        # is older than this server (the Last-Modified of cached answers, see http/conditional).
        self.started = time.time()

    def projects_for_request(self, ctx: RequestContext) -> Project | None:
        """The project a request is for: a filter's choice, /ows/<name>, MAP, or the default.

        A project whose file changed since it was loaded is re-read first, and its cached
        documents and open sources are dropped (unless the setting `project_reread` is off:
        then only a reload, with new workers, takes the change).
        """
        wanted = (
            ctx.config_file_path or ctx.request.route.get("project") or ctx.request.parameter("MAP")
        )
        if not self.projects.names():
            return None
        project = self._find(wanted) if wanted else self.projects.default()
        try:
            reread = self.settings.project_reread
            reloaded = self.projects.reload_if_changed(project.name) if reread else None
        except ProjectError as error:
            log.error(
                "project %s changed but does not load, still serving the old one:\n%s",
                project.name,
                error,
            )
            reloaded = None
        if reloaded is not None:
            self.caches.clear(project.name)
            self.access_controls.memo.clear()
            self.cache_backend.drop_tree(f"{project.name}/tile")
            self.access.release(project)
            project = reloaded
        ctx.config_file_path = str(project.path)
        return project

    def _find(self, wanted: str) -> Project:
        for name in self.projects.names():
            project = self.projects.get(name)
            if wanted in (name, str(project.path), project.path.name):
                return project
        # The name is not echoed: it may be a path, and paths tell a caller about our files.
        raise ProjectNotFoundError("The requested project is not served", locator="MAP")

    def close(self) -> None:
        """Release sources."""
        self.access.close()


def _metrics() -> Metrics:
    # Imported here, not at the top: prometheus_client decides when it is first imported
    # whether values are shared between processes, and `serve` sets that up first (cli.py).
    from ogcserve.metrics.registry import Metrics

    return Metrics()
