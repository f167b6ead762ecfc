"""The routes of OGC API - Features under `/ogcapi/<project>`, registered through the plugin
API as a plugin registers its own (plugins may add routes beside them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ogcserve.errors import MethodNotAllowedError

from . import collections, edits, items, openapi

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.plugins.interface import ServerInterface
    from ogcserve.plugins.services import RouteHandler

ROOT = "/ogcapi/{project}"
_READ = ("GET", "HEAD")


# --- Part 4 (create, replace, update, delete) ----------------------------------------------
# Write methods reach OGC API here: `edits` (Part 4) answers POST on items and PUT / PATCH /
# DELETE on an item. Reads never come here.
_WRITE_METHODS = {"items": ("POST",), "item": ("PUT", "PATCH", "DELETE")}


def _write(kind: str, method: str) -> RouteHandler | None:
    """The handler of a write method on `kind` ("items" or "item"); None: not served."""
    return edits.HANDLERS.get((kind, method))


def _dispatch(kind: str, read: RouteHandler) -> RouteHandler:
    def handle(ctx: RequestContext) -> None:
        method = ctx.request.method
        if method in _READ:
            return read(ctx)
        write = _write(kind, method)
        if write is None:
            allow = (*_READ, *(m for m in _WRITE_METHODS[kind] if _write(kind, m)))
            raise MethodNotAllowedError(f"{method} is not allowed here", allow)
        return write(ctx)

    return handle


# -------------------------------------------------------------------------------------------


def setup(server: ServerInterface) -> None:
    """Register every OGC API - Features route."""
    routes: tuple[tuple[str, RouteHandler], ...] = (
        ("", collections.landing_page),
        ("/conformance", collections.conformance),
        ("/api", openapi.api),
        ("/collections", collections.collections),
        ("/collections/{collection}", collections.collection),
        ("/collections/{collection}/queryables", collections.queryables),
        ("/collections/{collection}/sortables", collections.sortables),
        ("/collections/{collection}/schema", collections.schema),
    )
    for path, handler in routes:
        server.add_route(ROOT + path, handler, _READ)
    for kind, path, read in (
        ("items", "/collections/{collection}/items", items.items),
        ("item", "/collections/{collection}/items/{feature}", items.item),
    ):
        server.add_route(ROOT + path, _dispatch(kind, read), (*_READ, *_WRITE_METHODS[kind]))
