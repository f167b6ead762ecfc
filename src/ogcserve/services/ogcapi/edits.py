"""The HTTP side of Part 4 (Create, Replace, Update, Delete): the handlers the router gives the
write methods of `/collections/{id}/items[/{featureId}]`. They read the request (media type,
body, `If-Match`, `Content-Crs`), call `transactions`, and answer as Part 4 says: 201 with
`Location` and `ETag` for a POST, 204 with the new `ETag` for a PUT or PATCH, 204 for a DELETE.

The collection is resolved first, as for reads: one the caller may not read is 404, worded as
one that does not exist. Every check and the write itself are in `transactions`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from . import transactions
from .collections import collection_layer, collection_url
from .negotiation import check_parameters

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.plugins.services import RouteHandler
    from ogcserve.projects.model import Layer


def _content_crs(ctx: RequestContext) -> str | None:
    return ctx.request.headers.get("Content-Crs")


def _if_match(ctx: RequestContext) -> str | None:
    return ctx.request.headers.get("If-Match")


def _item_id(ctx: RequestContext) -> str:
    return ctx.request.route.get("feature", "")


def _no_content(ctx: RequestContext, etag: str | None) -> None:
    ctx.response.status = 204
    if etag is not None:
        ctx.response.set_header("ETag", etag)


def _collection(ctx: RequestContext, body: str | None) -> Layer:
    """What every write checks first: no query parameters, a collection the caller may read
    (else 404), and for a write with a body (`body`: "feature" or "patch") its media type."""
    check_parameters(ctx, ())
    layer = collection_layer(ctx)
    if body is not None:
        media = ctx.request.headers.get("Content-Type")
        transactions.check_content_type(media, patch=body == "patch")
    return layer


def post_item(ctx: RequestContext) -> None:
    """POST on items: create one feature."""
    layer = _collection(ctx, "feature")
    fid = transactions.create_item(ctx, layer, ctx.request.body, _content_crs(ctx))
    ctx.response.status = 201
    ctx.response.set_header("Location", f"{collection_url(ctx, layer)}/items/{quote(str(fid))}")
    ctx.response.set_header("ETag", transactions.current_etag(ctx, layer, str(fid)))


def put_item(ctx: RequestContext) -> None:
    """PUT on an item: replace it."""
    layer = _collection(ctx, "feature")
    body, crs = ctx.request.body, _content_crs(ctx)
    etag = transactions.replace_item(ctx, layer, _item_id(ctx), body, _if_match(ctx), crs)
    _no_content(ctx, etag)


def patch_item(ctx: RequestContext) -> None:
    """PATCH on an item: a JSON merge patch of it."""
    layer = _collection(ctx, "patch")
    body, crs = ctx.request.body, _content_crs(ctx)
    etag = transactions.update_item(ctx, layer, _item_id(ctx), body, _if_match(ctx), crs)
    _no_content(ctx, etag)


def delete_item(ctx: RequestContext) -> None:
    """DELETE on an item."""
    layer = _collection(ctx, None)
    transactions.delete_item(ctx, layer, _item_id(ctx), _if_match(ctx))
    _no_content(ctx, None)


HANDLERS: dict[tuple[str, str], RouteHandler] = {
    ("items", "POST"): post_item,
    ("item", "PUT"): put_item,
    ("item", "PATCH"): patch_item,
    ("item", "DELETE"): delete_item,
}
