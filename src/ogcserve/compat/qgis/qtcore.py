"""The few Qt classes plugins use with server objects (`qgis.PyQt.QtCore` under the shim when
PyQt5 is not installed).

Only what crosses the server API: bodies (`QByteArray`), OGC API handler paths
(`QRegularExpression`) and URLs (`QUrl`). For QImage, QPainter and the rest of Qt, install the
`qt` extra: `qgis.PyQt` is then real PyQt5 (qt.py), and `byte_array` / `url` make the objects
the facade hands to plugins (`body()`, `data()`, `url()`) PyQt5's as well, so a plugin sees one
QByteArray type whichever way it got one.
"""

from __future__ import annotations

import re
import sys
from typing import Any, TypeVar
from urllib.parse import urlsplit

_B = TypeVar("_B", bound=bytearray)


def byte_array(data: bytes | bytearray = b"") -> QByteArray:
    """A QByteArray of the Qt that plugins import: PyQt5's under the qt extra (or with
    PyQGIS), else this module's. Both offer the methods plugins call on bodies."""
    made: QByteArray = _qt_class("QByteArray", QByteArray)(bytes(data))
    return made


def url(text: str) -> QUrl:
    """A QUrl of the Qt that plugins import (see `byte_array`)."""
    made: QUrl = _qt_class("QUrl", QUrl)(text)
    return made


def _qt_class(name: str, fallback: type) -> Any:
    # `qgis.PyQt.QtCore` as plugins import it: PyQt5's module, or the shim's copy of this one.
    module = sys.modules.get("qgis.PyQt.QtCore")
    found = vars(module).get(name) if module is not None else None
    return found if isinstance(found, type) else fallback


class QByteArray(bytearray):
    """Qt's byte array: a `bytearray` with the Qt methods plugins call on bodies."""

    def data(self) -> bytes:
        """The bytes (PyQt's `QByteArray.data()`)."""
        return bytes(self)

    def size(self) -> int:
        """The length in bytes."""
        return len(self)

    def length(self) -> int:
        """The length in bytes."""
        return len(self)

    def isEmpty(self) -> bool:
        """True when there are no bytes."""
        return len(self) == 0

    def isNull(self) -> bool:
        """True when there are no bytes (Qt's null and empty arrays are not told apart)."""
        return len(self) == 0

    def append(self, data: bytes | str) -> QByteArray:  # type: ignore[override]
        """Append bytes (or UTF-8 text); returns the array, as Qt does."""
        return _extend_bytes(self, data)


def _extend_bytes(array: _B, data: bytes | str) -> _B:
    """Append bytes or UTF-8 text to `array`; return it (Qt's chaining style)."""
    array.extend(data.encode("utf-8") if isinstance(data, str) else data)
    return array


class QRegularExpressionMatch:
    """The result of `QRegularExpression.match`."""

    def __init__(self, groups: dict[str, str] | None, captured: tuple[str, ...]) -> None:
        self._groups = groups
        self._captured = captured

    def hasMatch(self) -> bool:
        """Whether the expression matched."""
        return self._groups is not None

    def captured(self, name_or_index: str | int = 0) -> str:
        """A captured group by name or number ('' when absent)."""
        return _captured(self._groups, self._captured, name_or_index)

    def named(self) -> dict[str, str]:
        """Core side: the named groups (empty when there was no match)."""
        return dict(self._groups or {})


def _captured(groups: dict[str, str] | None, numbered: tuple[str, ...], key: str | int) -> str:
    """A captured group by name or number, '' when absent."""
    if groups is None:
        return ""
    if isinstance(key, str):
        return groups.get(key, "")
    return numbered[key] if 0 <= key < len(numbered) else ""


class QRegularExpression:
    """A PCRE pattern as Qt spells it (`(?<name>...)` named groups), run with Python's `re`."""

    def __init__(self, pattern: str = "") -> None:
        self._pattern = pattern
        self.regex = _compile_qt_regex(pattern)

    def pattern(self) -> str:
        """The pattern as given."""
        return self._pattern

    def isValid(self) -> bool:
        """Always True: an invalid pattern already raised in the constructor."""
        return self.regex is not None

    def match(self, subject: str) -> QRegularExpressionMatch:
        """Search `subject` (unanchored, as Qt does unless the pattern anchors itself)."""
        return _regex_match(self.regex, subject)


def _compile_qt_regex(pattern: str) -> re.Pattern[str]:
    """Qt/PCRE `(?<name>...)` named groups are `(?P<name>...)` in Python."""
    return re.compile(re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", pattern))


def _regex_match(regex: re.Pattern[str], subject: str) -> QRegularExpressionMatch:
    """Search `subject` and wrap the result."""
    found = regex.search(subject)
    if found is None:
        return QRegularExpressionMatch(None, ())
    groups = {k: v or "" for k, v in found.groupdict().items()}
    return QRegularExpressionMatch(groups, (found.group(0), *(g or "" for g in found.groups())))


class QUrl:
    """A URL: the parts plugins read."""

    def __init__(self, url: str = "") -> None:
        self._url = url

    def toString(self) -> str:
        """The whole URL."""
        return self._url

    def path(self) -> str:
        """The path."""
        return urlsplit(self._url).path

    def query(self) -> str:
        """The query string, without '?'."""
        return urlsplit(self._url).query

    def host(self) -> str:
        """The host name."""
        return urlsplit(self._url).hostname or ""

    def scheme(self) -> str:
        """The scheme (http, https)."""
        return urlsplit(self._url).scheme

    def isValid(self) -> bool:
        """Whether the URL is not empty."""
        return bool(self._url)


__all__ = ["QByteArray", "QRegularExpression", "QRegularExpressionMatch", "QUrl"]
