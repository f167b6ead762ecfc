"""What a request asks of an OGC API endpoint beyond its path: the format (`f` or `Accept`),
and that every query parameter is one the endpoint knows (OGC API - Features Part 1
§7.8 /req/core/query-param-unknown: an unknown parameter is a 400, never ignored).

Parameters are read from `ctx.request.params`, after the request filters ran (a plugin may
rewrite them, as in QGIS Server); their keys are upper-cased there, so the spelling the client
used is looked up in the URL for messages and links.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from enum import StrEnum
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from ogcserve.errors import InvalidParameterValueError

if TYPE_CHECKING:
    from ogcserve.context import RequestContext


class Format(StrEnum):
    """The encodings an endpoint answers in (the values of `f`)."""

    JSON = "json"
    GEOJSON = "geojson"
    HTML = "html"


JSON = "application/json"
GEOJSON = "application/geo+json"
HTML = "text/html; charset=utf-8"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
SCHEMA = "application/schema+json"

MEDIA_TYPES = {Format.JSON: JSON, Format.GEOJSON: GEOJSON, Format.HTML: HTML}
# Accepted values of `f` besides the enum's: the media types themselves.
_ALIASES = {"application/json": Format.JSON, "application/geo+json": Format.GEOJSON}
_ALIASES |= {"text/html": Format.HTML, "geo+json": Format.GEOJSON}


def negotiate(ctx: RequestContext, offered: tuple[Format, ...]) -> Format:
    """The format of the answer: `f` when given (400 naming `f` if it is not offered), else the
    first offered one the `Accept` header prefers, else the first offered (JSON)."""
    given = ctx.request.parameter("F").strip().lower()
    if given:
        wanted = _ALIASES.get(given) or (given if given in Format.__members__.values() else None)
        # GeoJSON is JSON: f=json on items means GeoJSON (and f=geojson on metadata, JSON).
        for fmt in offered:
            if wanted == fmt or {wanted, fmt} == {Format.JSON, Format.GEOJSON}:
                return fmt
        names = ", ".join(f.value for f in offered)
        raise InvalidParameterValueError(
            f"Unknown format f={given!r}; this resource is offered as: {names}", locator="f"
        )
    # The answer depends on a header: caches must key it (RFC 9110 §12.5.5).
    ctx.response.set_header("Vary", "Accept")
    return _by_accept(ctx.request.headers.get("Accept", ""), offered)


def _by_accept(accept: str, offered: tuple[Format, ...]) -> Format:
    ranked: list[tuple[float, int, Format]] = []
    for position, part in enumerate(accept.split(",")):
        media, _, rest = part.strip().partition(";")
        quality = 1.0
        for param in rest.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        fmt = _ALIASES.get(media.strip().lower())
        if fmt is not None and quality > 0:
            if fmt not in offered and Format.JSON in offered and fmt is Format.GEOJSON:
                fmt = Format.JSON
            if fmt not in offered and Format.GEOJSON in offered and fmt is Format.JSON:
                fmt = Format.GEOJSON
            if fmt in offered:
                ranked.append((-quality, position, fmt))
    return min(ranked)[2] if ranked else offered[0]


def spelled(ctx: RequestContext, key: str) -> str:
    """How the client spelled the parameter `key` (upper-cased in `ctx.request.params`)."""
    for name, _ in parse_qsl(urlsplit(ctx.request.url).query, keep_blank_values=True):
        if name.upper() == key.upper():
            return name
    return key.lower()


def check_parameters(
    ctx: RequestContext, known: Collection[str], also: Iterable[str] = ()
) -> list[str]:
    """Refuse parameters that are neither `known` (upper-case names) nor `also` (property
    names, matched without case); returns the upper-case keys of the `also` ones given."""
    extra = {name.upper() for name in also}
    others = []
    for key in ctx.request.params:
        if key in known:
            continue
        if key in extra:
            others.append(key)
            continue
        name = spelled(ctx, key)
        raise InvalidParameterValueError(f"Unknown query parameter {name!r}", locator=name)
    return others
