"""The service's own URL as the client sees it (behind proxies too), for OnlineResource."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode, urlsplit

if TYPE_CHECKING:
    from ogcserve.context import RequestContext


def online_resource(ctx: RequestContext) -> str:
    """`scheme://host/path?` of this request, honouring X-Forwarded-Proto/Host/Prefix, with
    MAP kept when the request named its project that way."""
    url = urlsplit(ctx.request.url)
    headers = ctx.request.headers
    scheme = _first(headers.get("X-Forwarded-Proto", "")) or url.scheme
    host = _first(headers.get("X-Forwarded-Host", "")) or url.netloc
    prefix = _first(headers.get("X-Forwarded-Prefix", "")).rstrip("/")
    base = f"{scheme}://{host}{quote(prefix)}{url.path}?"
    project = ctx.request.parameter("MAP")
    return base + (urlencode({"MAP": project}) + "&" if project else "")


def operation_url(ctx: RequestContext, version: str, request: str, **params: str) -> str:
    """A KVP URL of this service, e.g. the GetLegendGraphic of a layer."""
    query = {"SERVICE": "WMS", "VERSION": version, "REQUEST": request, **params}
    return online_resource(ctx) + urlencode(query)


def _first(value: str) -> str:
    # A proxy chain sends "a, b": the first is what the client asked for.
    return value.split(",")[0].strip()
