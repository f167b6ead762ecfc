"""The projects a server serves, by name, re-read when their file changes."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from ogcserve.errors import ProjectNotFoundError
from ogcserve.projects.loader import ProjectError, ProjectIssue, load_project
from ogcserve.projects.model import Project

ProjectLoader = Callable[[Path], Project]
"""Reads one project file; raises `ProjectError` when it is not valid."""


class ProjectStore:
    """Loaded projects by name; the first one added is the default (served without MAP=).

    Thread-safe: request threads call `get` while a reload may be swapping a project in. A failed
    reload keeps serving the previous version (a half-saved file must not take a project down).
    """

    def __init__(
        self, projects: Iterable[Project] = (), *, loader: ProjectLoader = load_project
    ) -> None:
        self._lock = threading.Lock()
        self._loader = loader
        self._projects: dict[str, Project] = {}
        # mtime of a file version that failed to load, so it is not re-parsed on every check.
        self._failed_mtime: dict[str, float] = {}
        for project in projects:
            self.add(project)

    @classmethod
    def from_paths(
        cls, paths: Iterable[str | os.PathLike[str]], *, loader: ProjectLoader = load_project
    ) -> ProjectStore:
        """Load every file (raising `ProjectError` for the first bad one) into a new store."""
        return cls((loader(Path(path)) for path in paths), loader=loader)

    def add(self, project: Project) -> None:
        """Serve `project`; `ValueError` if another project already has its name."""
        with self._lock:
            if project.name in self._projects:
                raise ValueError(f"two projects are named '{project.name}'")
            self._projects[project.name] = project

    def get(self, name: str) -> Project:
        """The project called `name`; `ProjectNotFoundError` if there is none."""
        with self._lock:
            project = self._projects.get(name)
        if project is None:
            raise ProjectNotFoundError(f"no project named '{name}'", locator="MAP")
        return project

    def default(self) -> Project:
        """The first project added; `ProjectNotFoundError` if the store is empty."""
        with self._lock:
            first = next(iter(self._projects.values()), None)
        if first is None:
            raise ProjectNotFoundError("no project is served", locator="MAP")
        return first

    def names(self) -> list[str]:
        """Project names, the default first."""
        with self._lock:
            return list(self._projects)

    def reload_if_changed(self, name: str) -> Project | None:
        """Re-read project `name` if its file's mtime changed; return the new version, else None.

        A caller seeing a project returned drops whatever it cached for the old one. If the file
        is gone (an editor saving by rename) nothing changes; if the new version does not load,
        `ProjectError` is raised once for that version and the old project stays in service.
        """
        # Every request asks: the file is looked at without the lock, which is taken only when
        # it changed (and held while loading, so two threads noticing it load it once).
        seen = self._projects.get(name)
        if seen is not None:
            try:
                mtime = os.stat(seen.path).st_mtime
            except OSError:
                return None
            if mtime == seen.mtime or mtime == self._failed_mtime.get(name):
                return None
        with self._lock:
            current = self._projects.get(name)
            if current is None:
                raise ProjectNotFoundError(f"no project named '{name}'", locator="MAP")
            try:
                mtime = current.path.stat().st_mtime
            except OSError:
                return None
            if mtime == current.mtime or mtime == self._failed_mtime.get(name):
                return None
            try:
                project = self._loader(current.path)
            except ProjectError:
                self._failed_mtime[name] = mtime
                raise
            if project.name != name:
                # The store (and every URL) knows the project by its old name; renaming needs
                # a restart rather than a project silently changing identity under clients.
                self._failed_mtime[name] = mtime
                issue = ProjectIssue(
                    str(current.path),
                    None,
                    "name",
                    f"the project was renamed from '{name}' to '{project.name}'; restart to rename",
                )
                raise ProjectError([issue])
            self._failed_mtime.pop(name, None)
            self._projects[name] = project
            return project
