"""The request as the pipeline sees it: sans-IO, built once by the ASGI edge (or by tests)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from lxml import etree

from ogcserve.http.xml_body import RequestNotWellFormedError, XMLLimits, parse_xml

__all__ = ["Headers", "Parameters", "RequestNotWellFormedError", "ServerRequest", "XMLLimits"]


class Parameters(MutableMapping[str, str]):
    """Request parameters with case-insensitive keys, stored upper-cased as QGIS does."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._data: dict[str, str] = {}
        for key, value in items:
            self[key] = value

    def __getitem__(self, key: str) -> str:
        return self._data[key.upper()]

    def __setitem__(self, key: str, value: str) -> None:
        self._data[key.upper()] = value

    def __delitem__(self, key: str) -> None:
        del self._data[key.upper()]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.upper() in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Parameters({self._data!r})"


class Headers(MutableMapping[str, str]):
    """HTTP headers: case-insensitive lookup, the spelling of the last set kept for output."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._data: dict[str, tuple[str, str]] = {}
        for key, value in items:
            self[key] = value

    def __getitem__(self, key: str) -> str:
        return self._data[key.lower()][1]

    def __setitem__(self, key: str, value: str) -> None:
        self._data[key.lower()] = (key, value)

    def __delitem__(self, key: str) -> None:
        del self._data[key.lower()]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._data

    def __iter__(self) -> Iterator[str]:
        return (spelled for spelled, _ in self._data.values())

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


@dataclass
class ServerRequest:
    """An HTTP request: method, URL, parameters, headers, body and the CGI-like environment."""

    method: str
    url: str
    params: Parameters = field(default_factory=Parameters)
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    environ: dict[str, str] = field(default_factory=dict)
    route: dict[str, str] = field(default_factory=dict)  # captures of the matched URL route
    xml_limits: XMLLimits = field(default_factory=XMLLimits)  # for any XML the request holds

    @property
    def path(self) -> str:
        """The URL path."""
        return urlsplit(self.url).path

    def parameter(self, key: str, default: str = "") -> str:
        """One parameter (case-insensitive key), or `default`."""
        return self.params.get(key, default)

    @classmethod
    def build(
        cls,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        environ: Mapping[str, str] | None = None,
        route: Mapping[str, str] | None = None,
        xml_limits: XMLLimits | None = None,
    ) -> ServerRequest:
        """Parse the query string and, for OWS POSTs, the body into parameters.

        An XML body gives REQUEST (its root element), SERVICE/VERSION/... (its root attributes)
        and REQUEST_BODY (the document); a form body is read as KVP.
        """
        hdrs = Headers(headers.items() if isinstance(headers, Mapping) else headers)
        limits = xml_limits or XMLLimits()
        params = Parameters(parse_qsl(urlsplit(url).query, keep_blank_values=True))
        content_type = hdrs.get("content-type", "").split(";")[0].strip().lower()
        if method.upper() == "POST" and body:
            if content_type == "application/x-www-form-urlencoded":
                params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            elif content_type in ("text/xml", "application/xml") or body.lstrip()[:1] == b"<":
                params.update(_xml_parameters(body, limits))
        env = dict(environ or {})
        for key, value in hdrs.items():
            env.setdefault("HTTP_" + key.upper().replace("-", "_"), value)
        return cls(method.upper(), url, params, hdrs, body, env, dict(route or {}), limits)


def _xml_parameters(body: bytes, limits: XMLLimits) -> dict[str, str]:
    root = parse_xml(body, limits)
    params = {str(k): str(v) for k, v in root.attrib.items() if "}" not in str(k)}
    params["REQUEST"] = etree.QName(root).localname
    params["REQUEST_BODY"] = body.decode("utf-8", "replace")
    return params
