"""Validators for the answers the pipeline may cache (capabilities, schemas, legends), and the
304 answer to a client whose copy is still current (RFC 9110 §13).

The ETag is a digest of the document itself, as sent to this caller: two callers whose rights
give them different documents get different tags, so one caller's tag never validates
another's document. Last-Modified is the project file's modification time, or the server's
start when later: a restart with other settings or plugins may change a document whose file did
not (a client that validates by date alone must not get a 304 for it). The pipeline's
`Cache-Control: no-cache` (on every answer) makes every cache ask again before reusing a copy;
with the ETag, a 304 costs little.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.utils import formatdate, parsedate_to_datetime

from ogcserve.http.request import ServerRequest
from ogcserve.http.response import ServerResponse


def revalidate(request: ServerRequest, response: ServerResponse, modified: float) -> None:
    """Give a 200 its validators; make it a bodiless 304 if the request's conditions say so."""
    digest = hashlib.blake2b(response.content_type.encode(), digest_size=16)
    digest.update(response.body)
    tag = f'"{digest.hexdigest()}"'
    response.set_header("ETag", tag)
    response.set_header("Last-Modified", formatdate(int(modified), usegmt=True))
    if request.method in ("GET", "HEAD") and _not_modified(request, tag, int(modified)):
        response.status = 304
        response.clear_body()
        response.headers.pop("Content-Type", None)


def _not_modified(request: ServerRequest, tag: str, modified: int) -> bool:
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:  # when present, If-Modified-Since is ignored (§13.2.2)
        return etag_matches(if_none_match, tag)
    since = _http_date(request.headers.get("If-Modified-Since", ""))
    return since is not None and modified <= since


def etag_matches(if_none_match: str, tag: str) -> bool:
    """Whether an If-None-Match header names `tag` (or is `*`): the weak comparison that
    RFC 9110 §13.1.2 asks for, so `W/"x"` names `"x"`."""
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or tag in tags


def _http_date(value: str) -> int | None:
    try:
        when: datetime = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return int(when.timestamp()) if when.tzinfo is not None else None
