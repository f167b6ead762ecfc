"""Status lines for every final status a plugin may set, 200 to 999.

uvicorn builds its status lines (httptools) and reason phrases (h11) for 100-599 only, in
tables looked up by code: a response with status 999 (QGIS's plugin tests set it) raises
KeyError after the response counts as started, and uvicorn drops the connection. The tables
are given a default here (reason phrase empty, which RFC 9112 allows), once per process that
serves (`create_app`).
"""

from __future__ import annotations

import http
import importlib
from typing import Any


class _AnyStatus(dict[int, bytes]):
    """A table of status lines or phrases that builds the missing ones."""

    def __init__(self, table: dict[int, bytes], line: bool) -> None:
        super().__init__(table)
        self.line = line

    def __missing__(self, status: int) -> bytes:
        try:
            phrase = http.HTTPStatus(status).phrase.encode()
        except ValueError:
            phrase = b""
        value = b"HTTP/1.1 %d %s\r\n" % (status, phrase) if self.line else phrase
        self[status] = value
        return value


def allow_any_status() -> None:
    """Let uvicorn's HTTP protocols write any status code (idempotent)."""
    for module_name, table, line in (
        ("uvicorn.protocols.http.httptools_impl", "STATUS_LINE", True),
        ("uvicorn.protocols.http.h11_impl", "STATUS_PHRASES", False),
    ):
        try:
            module: Any = importlib.import_module(module_name)
        except ImportError:  # httptools or h11 not installed: that protocol is not used
            continue
        current = getattr(module, table, None)
        if isinstance(current, dict) and not isinstance(current, _AnyStatus):
            setattr(module, table, _AnyStatus(current, line))
