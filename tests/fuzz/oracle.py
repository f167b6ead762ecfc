"""The properties every answer to a hostile request must have, whatever the input.

- A parser returns a value or raises the project's own error (`ServiceError`, whose
  `FilterError` is one): never another exception.
- Through the whole app: no 5xx, an OGC exception report (or a regular answer), no Python
  exception text, traceback or file path in the body or headers, an answer within a generous
  bound (a hang, not a performance measure).
- SQL translated from a filter carries no text of the filter: every literal is a parameter.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from hypothesis import settings
from lxml import etree

from ogcserve import pipeline
from ogcserve.errors import ServiceError
from ogcserve.expressions import ColumnMap, SqlDialect, SqlFragment
from ogcserve.expressions.functions import FUNCTIONS
from ogcserve.http.request import RequestNotWellFormedError, ServerRequest, XMLLimits
from ogcserve.http.response import BufferSink
from ogcserve.server import Server
from ogcserve.testing import Result

T = TypeVar("T")

# Far above any honest request on the demo data: passing it means a hang or a runaway loop.
HANG_SECONDS = 30.0

# Text only Python's own exceptions and tracebacks write: none of it may reach a client.
_TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+")
_LEAKS = re.compile(
    r"\.py\b|site-packages|/work/|/usr/lib|\b(?:Type|Key|Attribute|Index|Value|Zero[dD]ivision"
    r"|Recursion|Assertion|Runtime|Overflow|Unicode(?:En|De)code|Lookup|Name|NotImplemented)Error\b"
    r"|object has no attribute|NoneType|not subscriptable|unsupported operand|positional argument"
    r"|object is not (?:callable|iterable)|can't multiply|can only concatenate|unhashable type"
    r"|invalid literal for|could not convert string|<(?:class|function|bound method|built-in"
    r"|module|lxml\.|pygeofilter\.|ogcserve\.)|\bast\.[A-Z]|\blark\.|Tree\(Token"
)
# What a message quotes is the client's own text (its value, echoed with repr): not checked.
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_REPORT_ROOTS = ("ServiceExceptionReport", "ExceptionReport")


def examples(fraction: float) -> int:
    """A share of the loaded hypothesis profile's examples, for the tests whose examples are
    slow (whole requests): the profile still scales them."""
    return max(5, int(settings.default.max_examples * fraction))


def parses_or_refuses(function: Callable[..., T], *args: Any, **kwargs: Any) -> T | ServiceError:
    """Call a parser: its value, or the ServiceError it raised; any other exception fails."""
    try:
        return function(*args, **kwargs)
    except ServiceError as error:
        check_error_text(error.message)
        return error


def check_error_text(text: str) -> None:
    """An error message says what is wrong in the client's terms, not Python's."""
    found = _TRACEBACK.search(text) or _LEAKS.search(_QUOTED.sub("''", text))
    assert found is None, f"exception text leaks to the client: {found.group(0)!r} in {text!r}"


def timed_call(
    server: Server,
    url: str,
    *,
    method: str = "GET",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> Result:
    """One request through the whole app (the pipeline, as `ogcserve.testing.call`), checked."""
    start = time.monotonic()
    result = app_call(server, url, method=method, body=body, headers=headers or {})
    elapsed = time.monotonic() - start
    assert elapsed < HANG_SECONDS, f"{method} {url[:200]} took {elapsed:.0f} s"
    check_answer(result, method)
    return result


def app_call(
    server: Server, url: str, *, method: str, body: bytes, headers: dict[str, str]
) -> Result:
    """`ogcserve.testing.call`, with a body that does not parse handed to the pipeline as its
    error, as the ASGI edge does."""
    full = f"http://testserver{url}"
    path = urlsplit(full).path
    route = {"endpoint": "ows" if path == "/ows" or path.startswith("/ows/") else "path"}
    if path.startswith("/ows/"):
        route["project"] = path.removeprefix("/ows/")
    settings = server.settings
    limits = XMLLimits(
        settings.xml_max_attributes, settings.xml_max_depth, settings.xml_max_elements
    )
    error: ServiceError | None = None
    try:
        request = ServerRequest.build(
            method, full, headers=headers, body=body, route=route, xml_limits=limits
        )
    except RequestNotWellFormedError as malformed:
        error = malformed
        request = ServerRequest.build(method, full, headers=headers, route=route)
    sink = BufferSink()
    ctx = pipeline.handle(server, request, sink, error)
    return Result(sink.status, dict(sink.headers), sink.chunks, sink.aborted, ctx)


def check_answer(result: Result, method: str = "GET") -> None:
    """No 5xx; an error is one OGC exception report; nothing leaks Python's internals."""
    status = result.status or 0
    assert 200 <= status < 500, f"status {status}: {result.body[:300]!r}"
    for name, value in result.headers.items():
        check_error_text(f"{name}: {value}")
    if status < 400 or method == "HEAD":  # a HEAD answer has no body
        return
    body = result.body
    assert body, f"status {status} with an empty body"
    content_type = result.headers.get("content-type", result.headers.get("Content-Type", ""))
    if content_type.startswith("image/"):
        return  # EXCEPTIONS=INIMAGE / BLANK: the message is drawn, or there is none
    if content_type.startswith("application/json"):  # OGC API: {"code", "description"}
        document = json.loads(body)
        assert isinstance(document.get("code"), str), body[:300]
        check_error_text(str(document.get("description", "")))
        return
    if content_type.startswith("text/html"):
        check_error_text(body.decode("utf-8", "replace"))
        return
    root = etree.fromstring(body)
    assert etree.QName(root).localname in _REPORT_ROOTS, body[:300]
    messages = [
        str(t)
        for t in root.xpath(
            "//*[local-name()='ExceptionText' or local-name()='ServiceException']/text()"
        )
    ]
    assert messages, body[:300]
    for message in messages:
        check_error_text(message)


# --- SQL -----------------------------------------------------------------------------------------

_SQL_WORDS = frozenset(
    [
        "AND",
        "OR",
        "NOT",
        "BETWEEN",
        "IN",
        "IS",
        "NULL",
        "LIKE",
        "ILIKE",
        "GLOB",
        "CAST",
        "AS",
        "REAL",
        "DOUBLE",
        "PRECISION",
        "NULLIF",
        "numeric",
        "COLLATE",
        "ST_Intersects",
        "ST_Disjoint",
        "ST_Contains",
        "ST_Within",
        "ST_Touches",
        "ST_Crosses",
        "ST_Overlaps",
        "ST_Equals",
        "ST_Relate",
        "ST_DWithin",
        "ST_GeomFromText",
        "ST_SRID",
    ]
    + [name for spec in FUNCTIONS.values() for name in spec.sql.values()]
)
_SQL_FIXED = ("strftime('%Y-%m-%dT%H:%M:%f', ", ' COLLATE "C"')
# A placeholder, typed on PostgreSQL (`%s::text`: psycopg sends text untyped).
_SQL_TOKEN = re.compile(
    r"\s+|%%s|%s(?:::text\b)?|\?|[A-Za-z_][A-Za-z_0-9]*|[01]\b|<>|<=|>=|[-+*/=<>(),]"
)


def check_sql(fragment: SqlFragment, dialect: SqlDialect, columns: ColumnMap) -> None:
    """The fragment is built only from SQL words, the caller's column SQL and placeholders: no
    literal, quote or identifier of the filter's own appears in it."""
    sql = fragment.sql
    # The column SQL is the caller's (quoted by the source); doubled % for PostgreSQL.
    column_sql = [columns.id_column, *columns.columns.values()]
    if columns.geometry_column:
        column_sql.append(columns.geometry_column)
    if dialect is SqlDialect.POSTGRESQL:
        column_sql = [c.replace("%", "%%") for c in column_sql]
    for fixed in sorted([*column_sql, *_SQL_FIXED], key=len, reverse=True):
        sql = sql.replace(fixed, " ")
    placeholder = "?" if dialect is SqlDialect.SQLITE else "%s"
    position = 0
    placeholders = 0
    while position < len(sql):
        match = _SQL_TOKEN.match(sql, position)
        assert match is not None, (
            f"unexpected SQL text {sql[position : position + 40]!r} in {fragment.sql!r}"
        )
        token = match.group(0)
        if token[0].isalpha() or token[0] == "_":
            assert token in _SQL_WORDS, f"{token!r} is not an SQL word we write: {fragment.sql!r}"
        if token == placeholder or (dialect is SqlDialect.POSTGRESQL and token == "%s::text"):
            placeholders += 1
        elif token in ("?", "%s", "%%s", "%s::text"):
            raise AssertionError(f"placeholder {token!r} in a {dialect} fragment: {fragment.sql!r}")
        position = match.end()
    assert placeholders == len(fragment.params), (fragment.sql, fragment.params)
