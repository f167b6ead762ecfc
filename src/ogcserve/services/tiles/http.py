"""A tile as HTTP: ETag, Cache-Control with the layer's max-age, 304 when the client's copy is
current.

Tiles depend on the caller's rights, so they are `private`: a shared cache (a CDN, a proxy)
must not hand one caller's tile to another; the browser's own cache may keep it `max-age`
seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ogcserve.http.conditional import etag_matches

if TYPE_CHECKING:
    from ogcserve.context import RequestContext

    from .tile import Tile


def write_tile(ctx: RequestContext, tile: Tile) -> None:
    """The tile, or a bodiless 304 when If-None-Match names its ETag."""
    response = ctx.response
    response.set_header("ETag", tile.etag)
    response.set_header("Cache-Control", f"private, max-age={tile.max_age}")
    response.set_header("X-Cache", "HIT" if tile.cached else "MISS")
    wanted = ctx.request.headers.get("If-None-Match")
    fresh = wanted is not None and etag_matches(wanted, tile.etag)
    if fresh and ctx.request.method in ("GET", "HEAD"):
        response.status = 304
        return
    response.set_header("Content-Type", tile.content_type)
    response.write(tile.body)
