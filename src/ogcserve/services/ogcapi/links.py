"""URLs of OGC API resources as the client sees them (behind proxies too) and the links
between them (OGC API - Features Part 1 §7.2: every resource links to itself and to its
other encodings)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from .negotiation import MEDIA_TYPES, Format

if TYPE_CHECKING:
    from ogcserve.context import RequestContext

_TITLES = {Format.JSON: "as JSON", Format.GEOJSON: "as GeoJSON", Format.HTML: "as HTML"}


def _first(value: str) -> str:
    # A proxy chain sends "a, b": the first is what the client asked for.
    return value.split(",")[0].strip()


def origin(ctx: RequestContext) -> str:
    """`scheme://host/prefix` of this request, honouring X-Forwarded-Proto/Host/Prefix."""
    url = urlsplit(ctx.request.url)
    headers = ctx.request.headers
    scheme = _first(headers.get("X-Forwarded-Proto", "")) or url.scheme
    host = _first(headers.get("X-Forwarded-Host", "")) or url.netloc
    prefix = _first(headers.get("X-Forwarded-Prefix", "")).rstrip("/")
    return f"{scheme}://{host}{quote(prefix)}"


def api_root(ctx: RequestContext) -> str:
    """The landing page's URL: `.../ogcapi/<project>`."""
    assert ctx.project is not None
    return f"{origin(ctx)}/ogcapi/{quote(ctx.project.name)}"


def here(ctx: RequestContext, **changes: str | None) -> str:
    """This request's URL with its query parameters as the client wrote them, some changed
    (None drops one); names match without case, so `f=` replaces `F=`."""
    url = urlsplit(ctx.request.url)
    upper = {k.upper(): k for k in changes}
    pairs = []
    for name, value in parse_qsl(url.query, keep_blank_values=True):
        if name.upper() in upper:
            continue
        pairs.append((name, value))
    pairs += [(k, v) for k, v in changes.items() if v is not None]
    query = urlencode(pairs)
    return f"{origin(ctx)}{quote(url.path)}" + (f"?{query}" if query else "")


def link(href: str, rel: str, media_type: str, title: str = "") -> dict[str, Any]:
    """One link object."""
    out: dict[str, Any] = {"href": href, "rel": rel, "type": media_type}
    if title:
        out["title"] = title
    return out


def self_links(ctx: RequestContext, current: Format, offered: tuple[Format, ...]) -> list[Any]:
    """`self` in the answer's format and `alternate` in each other one."""
    out = []
    for fmt in offered:
        rel = "self" if fmt is current else "alternate"
        # The paging position stays: the alternate of a page is the same page.
        href = here(ctx) if fmt is current else here(ctx, f=fmt.value)
        out.append(link(href, rel, MEDIA_TYPES[fmt], f"This document {_TITLES[fmt]}"))
    return out
