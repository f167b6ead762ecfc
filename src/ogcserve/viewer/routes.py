"""The handlers of the viewer's routes: the landing page, the viewer page, its static files and
the project's formatter modules."""

from __future__ import annotations

from contextlib import contextmanager
from importlib import resources
from typing import TYPE_CHECKING

from ogcserve.errors import NotFoundError
from ogcserve.http.conditional import revalidate
from ogcserve.services.ogcapi.links import origin

from . import pages
from .document import document

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ogcserve.context import RequestContext
    from ogcserve.projects.model import Project

_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
_HTML = "text/html; charset=utf-8"
# The pages run only this server's scripts (the viewer's and the project's modules); images,
# such as a formatter's thumbnails, may come from anywhere.
_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src * data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'self'"
)


def landing(ctx: RequestContext) -> None:
    """`/`: the projects with at least one layer the caller may read, with their services."""
    root = origin(ctx)
    entries = []
    for name in ctx.server.projects.names():
        project = ctx.server.projects.get(name)
        with _for_project(ctx, project):
            if ctx.server.access.readable_layers(ctx, project):
                entries.append(pages.ProjectEntry(project, _services(ctx, project, root)))
    _html(ctx, pages.landing(entries, root))


def viewer(ctx: RequestContext) -> None:
    """`/viewer/<project>`: the map page, the caller's configuration inlined."""
    project = _project(ctx)
    root = origin(ctx)
    config = document(ctx, project, root)
    if not config["layers"]:
        # Nothing the caller may read: as absent as on the landing page.
        raise NotFoundError("The requested project is not served")
    _html(ctx, pages.viewer(config, root))


def static(ctx: RequestContext) -> None:
    """`/viewer/-/static/<name>`: one of the package's own files (only those: no paths)."""
    name = ctx.request.route.get("name", "")
    folder = resources.files(__package__).joinpath("static")
    files = {item.name: item for item in folder.iterdir() if item.is_file()}
    suffix = name[name.rfind(".") :] if "." in name else ""
    if name not in files or suffix not in _TYPES:
        raise NotFoundError(f"Nothing is served at {ctx.request.path}")
    _send(ctx, files[name].read_bytes(), _TYPES[suffix], ctx.server.started)


def module(ctx: RequestContext) -> None:
    """`/viewer/<project>/modules/<n>.js`: the n-th file the project's `viewer.modules` names
    (the request chooses a number, never a path)."""
    project = _project(ctx)
    index = ctx.request.route.get("index", "").removesuffix(".js")
    files = [m for m in enumerate(project.viewer.modules) if not m[1].startswith("/")]
    chosen = next((m for i, m in files if str(i) == index), None)
    missing = NotFoundError(f"Nothing is served at {ctx.request.path}")
    if chosen is None:
        raise missing
    try:
        body = (project.base_dir / chosen).read_bytes()
    except OSError:
        raise missing from None
    _send(ctx, body, _TYPES[".js"], max(project.mtime, ctx.server.started))


def _project(ctx: RequestContext) -> Project:
    if ctx.project is None:
        raise NotFoundError("No project is served here")
    return ctx.project


@contextmanager
def _for_project(ctx: RequestContext, project: Project) -> Iterator[None]:
    # Access rules may look at the request's project: ask about each as if it were that one.
    saved = ctx.project
    ctx.project = project
    try:
        yield
    finally:
        ctx.project = saved


def _services(ctx: RequestContext, project: Project, root: str) -> list[tuple[str, str]]:
    """(label, URL) of each service that answers for the project."""
    ows = f"{root}/ows/{project.name}"
    out = []
    for name in ("WMS", "WFS", "WCS", "WMTS"):
        if ctx.server.services.get(name) is not None:
            out.append((name, f"{ows}?SERVICE={name}&REQUEST=GetCapabilities"))
    if ctx.server.services.match_route(f"/ogcapi/{project.name}") is not None:
        out.append(("OGC API", f"{root}/ogcapi/{project.name}"))
    return out


def _html(ctx: RequestContext, text: str) -> None:
    ctx.response.set_header("Content-Security-Policy", _POLICY)
    _send(ctx, text.encode(), _HTML, ctx.server.started)


def _send(ctx: RequestContext, body: bytes, media: str, modified: float) -> None:
    ctx.response.set_header("Content-Type", media)
    ctx.response.write(body)
    revalidate(ctx.request, ctx.response, modified)
