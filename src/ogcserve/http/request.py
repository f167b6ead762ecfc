"""The request as the pipeline sees it: sans-IO, built once by the ASGI edge (or by tests)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from lxml import etree

from ogcserve.errors import ServiceError
from ogcserve.http.xml_body import RequestNotWellFormedError, XMLLimits, parse_xml

__all__ = [
    "Headers",
    "Parameters",
    "RequestNotWellFormedError",
    "ServerRequest",
    "TooManyParametersError",
    "XMLLimits",
    "header_environ",
]


class TooManyParametersError(ServiceError):
    """The query string or form body holds more parameters than `max_parameters` allows."""

    code = "InvalidParameterValue"


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
    """HTTP headers: case-insensitive lookup, the spelling of the last set kept for output.

    Built from a request's header lines, a header sent more than once holds all its values,
    joined with ", " in the order received (RFC 9110 §5.3; "; " for Cookie): never one value
    chosen among them, which a client could pick by sending its own first or last.
    `X-Role` and `X_Role` are different names.
    """

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._data: dict[str, tuple[str, str]] = {}
        for key, value in items:
            self.add(key, value)

    def add(self, key: str, value: str) -> None:
        """Add one header line: a repeated name gets the values joined, none is dropped."""
        known = self._data.get(key.lower())
        if known is None:
            self[key] = value
        else:
            separator = "; " if key.lower() == "cookie" else ", "
            self._data[key.lower()] = (known[0], known[1] + separator + value)

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
        allow_underscore_headers: bool = False,
        max_parameters: int | None = None,
    ) -> ServerRequest:
        """Parse the query string and, for OWS POSTs, the body into parameters.

        An XML body gives REQUEST (its root element), SERVICE/VERSION/... (its root attributes)
        and REQUEST_BODY (the document); a form body is read as KVP. Headers enter the
        environment as in `header_environ`; an `environ` given here wins over them. More
        than `max_parameters` in the query string or the form body raise
        TooManyParametersError, counted before any is parsed.
        """
        hdrs = Headers(headers.items() if isinstance(headers, Mapping) else headers)
        limits = xml_limits or XMLLimits()
        query = urlsplit(url).query
        _count_parameters(query.count("&") + 1, max_parameters)
        params = Parameters(parse_qsl(query, keep_blank_values=True))
        content_type = hdrs.get("content-type", "").split(";")[0].strip().lower()
        if method.upper() == "POST" and body:
            if content_type == "application/x-www-form-urlencoded":
                _count_parameters(body.count(b"&") + 1, max_parameters)
                params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            elif content_type in ("text/xml", "application/xml") or body.lstrip()[:1] == b"<":
                params.update(_xml_parameters(body, limits))
        env = header_environ(hdrs, allow_underscores=allow_underscore_headers)
        env.update(environ or {})
        return cls(method.upper(), url, params, hdrs, body, env, dict(route or {}), limits)


def _count_parameters(count: int, limit: int | None) -> None:
    if limit is not None and count > limit:
        raise TooManyParametersError(
            f"The request holds more than {limit} parameters (setting max_parameters)"
        )


def header_environ(headers: Headers, *, allow_underscores: bool = False) -> dict[str, str]:
    """The CGI variables of the headers: `X-Role` is HTTP_X_ROLE.

    A name with an underscore would map to the same variable as its hyphenated twin, so a
    client's `X_Role` could pass for the proxy's `X-Role`: such headers are left out (as nginx
    and Apache do) unless `allow_underscores`; then twins are joined with ", " like repeated
    headers, in the order received, and neither is chosen.
    """
    env: dict[str, str] = {}
    for name, value in headers.items():
        if "_" in name and not allow_underscores:
            continue
        key = "HTTP_" + name.upper().replace("-", "_")
        env[key] = env[key] + ", " + value if key in env else value
    return env


def _xml_parameters(body: bytes, limits: XMLLimits) -> dict[str, str]:
    root = parse_xml(body, limits)
    params = {str(k): str(v) for k, v in root.attrib.items() if "}" not in str(k)}
    params["REQUEST"] = etree.QName(root).localname
    params["REQUEST_BODY"] = body.decode("utf-8", "replace")
    return params
