"""The request as QGIS plugins see it: `QgsRequestHandler` for filters, `QgsServerRequest` and
`QgsServerResponse` for services. Thin views over the `RequestContext` of the current request."""

from __future__ import annotations

import logging
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from ogcserve.compat.qgis import qt, qtcore
from ogcserve.compat.qgis.qtcore import QByteArray, QUrl

if TYPE_CHECKING:
    from ogcserve.compat.qgis.exceptions import QgsOgcServiceException, QgsServerException
    from ogcserve.context import RequestContext
    from ogcserve.http.response import ServerResponse


class QgsRequestHandler:
    """What `serverInterface().requestHandler()` returns: parameters, headers, body, status."""

    def __init__(self, ctx: RequestContext) -> None:
        self.ctx = ctx

    # --- parameters ---------------------------------------------------------------------

    def parameterMap(self) -> dict[str, str]:
        """Every parameter, keys upper-cased."""
        return self.ctx.parameter_map()

    def parameter(self, key: str) -> str:
        """One parameter ('' if absent); keys are case-insensitive."""
        return self.ctx.parameter(key)

    def setParameter(self, key: str, value: str) -> None:
        """Add or replace a parameter (ignored if key or value is empty)."""
        self.ctx.set_parameter(key, value)

    def removeParameter(self, key: str) -> None:
        """Drop a parameter."""
        self.ctx.remove_parameter(key)

    # --- request ------------------------------------------------------------------------

    def setRequestHeader(self, name: str, value: str) -> None:
        """Set a request header (later filters and the service see it)."""
        self.ctx.request.headers[name] = value

    def removeRequestHeader(self, name: str) -> None:
        """Drop a request header."""
        self.ctx.request.headers.pop(name, None)

    def requestHeader(self, name: str) -> str:
        """One request header ('' if absent); names are case-insensitive."""
        return self.ctx.request.headers.get(name, "")

    def requestHeaders(self) -> dict[str, str]:
        """Every request header."""
        return dict(self.ctx.request.headers)

    def data(self) -> QByteArray:
        """The request body (POST, PUT, PATCH)."""
        return qtcore.byte_array(self.ctx.request.body)

    def url(self) -> str:
        """The full request URL."""
        return self.ctx.request.url

    def path(self) -> str:
        """The URL path."""
        return self.ctx.request.path

    # --- response -----------------------------------------------------------------------

    def setResponseHeader(self, name: str, value: str) -> None:
        """Set a response header (ignored once headers are sent)."""
        self.ctx.response.set_header(name, value)

    def removeResponseHeader(self, name: str) -> None:
        """Drop a response header."""
        self.ctx.response.headers.pop(name, None)

    def responseHeader(self, name: str) -> str:
        """One response header ('' if absent)."""
        return self.ctx.response.headers.get(name, "")

    def responseHeaders(self) -> dict[str, str]:
        """Every response header."""
        return dict(self.ctx.response.headers)

    def setHeader(self, name: str, value: str) -> None:
        """QGIS 2 name of `setResponseHeader` (the old cookbook's HelloFilter uses it)."""
        self.ctx.response.set_header(name, value)

    def clearHeaders(self) -> None:
        """QGIS 2: drop every response header; the status, a header in QGIS 2, goes back to 200."""
        _clear_headers(self.ctx.response)

    def appendBody(self, body: bytes | str | QByteArray) -> None:
        """Append to the unsent body (text is written as UTF-8; any Qt QByteArray is taken)."""
        self.ctx.response.write(qt.body_bytes(body))

    def clearBody(self) -> None:
        """Drop the unsent body."""
        self.ctx.response.clear_body()

    def body(self) -> QByteArray:
        """The unsent body: while streaming, only the current chunk."""
        return qtcore.byte_array(self.ctx.response.body)

    def clear(self) -> None:
        """Drop unsent body and headers, and reset the status to 200 (QGIS keeps the status)."""
        self.ctx.response.clear()

    def statusCode(self) -> int:
        """The HTTP status."""
        return self.ctx.response.status

    def setStatusCode(self, code: int) -> None:
        """Set the HTTP status: any from 200 to 999 (no effect once headers are sent)."""
        self.ctx.response.status = code

    def headersSent(self) -> bool:
        """True after the first chunk went out."""
        return self.ctx.response.headers_sent

    def sendResponse(self) -> None:
        """Send the unsent body now, without running send-response hooks."""
        self.ctx.response.send()

    def setServiceException(self, ex: QgsServerException | QgsOgcServiceException) -> None:
        """Answer with `ex`; in requestReady this skips project and service."""
        self.ctx.set_service_exception(ex.service_error())

    def exceptionRaised(self) -> bool:
        """True once an error answers this request (a plugin's, or the service's own)."""
        return self.ctx.exception_raised

    def format(self) -> str:
        """INFO_FORMAT, else FORMAT shortened to PNG, JPG, SVG, PDF."""
        return self.ctx.format

    def infoFormat(self) -> str:
        """QGIS 2: the INFO_FORMAT parameter (the old cookbook's watermark logs it)."""
        return self.ctx.info_format


def _clear_headers(response: ServerResponse) -> None:
    """QGIS 2's clearHeaders: the headers go, and the status (a header in QGIS 2) is 200."""
    if not response.headers_sent:
        response.headers.clear()
        response.status = 200


class QgsServerRequest:
    """The request a `QgsService` or OGC API handler receives."""

    class Method(IntEnum):
        """HTTP methods."""

        HeadMethod = 0
        PutMethod = 1
        GetMethod = 2
        PostMethod = 3
        DeleteMethod = 4
        PatchMethod = 5

    HeadMethod = Method.HeadMethod
    PutMethod = Method.PutMethod
    GetMethod = Method.GetMethod
    PostMethod = Method.PostMethod
    DeleteMethod = Method.DeleteMethod
    PatchMethod = Method.PatchMethod

    def __init__(self, ctx: RequestContext) -> None:
        self.ctx = ctx

    def url(self) -> QUrl:
        """The request URL."""
        return qtcore.url(self.ctx.request.url)

    def originalUrl(self) -> QUrl:
        """The request URL as received."""
        return qtcore.url(self.ctx.request.url)

    def method(self) -> QgsServerRequest.Method:
        """The HTTP method."""
        return QgsServerRequest.Method[self.ctx.request.method.title() + "Method"]

    def parameters(self) -> dict[str, str]:
        """Every parameter, keys upper-cased."""
        return self.ctx.parameter_map()

    def parameter(self, key: str, defaultValue: str = "") -> str:
        """One parameter, or `defaultValue`."""
        return self.ctx.parameter(key, defaultValue)

    def queryParameter(self, name: str, defaultValue: str = "") -> str:
        """One parameter, or `defaultValue`."""
        return self.ctx.parameter(name, defaultValue)

    def setParameter(self, key: str, value: str) -> None:
        """Add or replace a parameter."""
        self.ctx.set_parameter(key, value)

    def removeParameter(self, key: str) -> None:
        """Drop a parameter."""
        self.ctx.remove_parameter(key)

    def header(self, name: str) -> str:
        """One request header ('' if absent)."""
        return self.ctx.request.headers.get(name, "")

    def setHeader(self, name: str, value: str) -> None:
        """Set a request header."""
        self.ctx.request.headers[name] = value

    def removeHeader(self, name: str) -> None:
        """Drop a request header."""
        self.ctx.request.headers.pop(name, None)

    def headers(self) -> dict[str, str]:
        """Every request header."""
        return dict(self.ctx.request.headers)

    def data(self) -> QByteArray:
        """The request body."""
        return qtcore.byte_array(self.ctx.request.body)


class QgsServerResponse:
    """The response a `QgsService` or OGC API handler writes."""

    def __init__(self, ctx: RequestContext) -> None:
        self.ctx = ctx

    def setHeader(self, key: str, value: str) -> None:
        """Set a header (ignored once headers are sent)."""
        self.ctx.response.set_header(key, value)

    def removeHeader(self, key: str) -> None:
        """Drop a header."""
        self.ctx.response.headers.pop(key, None)

    def header(self, key: str) -> str:
        """One header ('' if absent)."""
        return self.ctx.response.headers.get(key, "")

    def headers(self) -> dict[str, str]:
        """Every header."""
        return dict(self.ctx.response.headers)

    def headersSent(self) -> bool:
        """True after the first chunk went out."""
        return self.ctx.response.headers_sent

    def setStatusCode(self, code: int) -> None:
        """Set the HTTP status: any from 200 to 999 (no effect once headers are sent)."""
        self.ctx.response.status = code

    def statusCode(self) -> int:
        """The HTTP status."""
        return self.ctx.response.status

    def sendError(self, code: int, message: str) -> None:
        """Replace the response by `message` as text/plain with status `code` (if not sent)."""
        _send_error(self.ctx.response, code, message)

    def write(self, data: bytes | str | QgsServerException) -> None:
        """Append bytes or text; a QgsServerException replaces the response by its report."""
        _write_response(self.ctx, data)

    def flush(self) -> None:
        """Send the buffer as one chunk, after the send-response hooks (streaming)."""
        self.ctx.response.flush()

    def clear(self) -> None:
        """Drop unsent body and headers."""
        self.ctx.response.clear()

    def data(self) -> QByteArray:
        """The unsent body."""
        return qtcore.byte_array(self.ctx.response.body)

    def truncate(self) -> None:
        """Drop the unsent body."""
        self.ctx.response.clear_body()

    def finish(self) -> None:
        """Nothing to do: the server finishes the response after the response-complete hooks."""
        return None


def _send_error(response: ServerResponse, status: int, message: str) -> None:
    """QgsServerResponse.sendError: replace everything by a text/plain message."""
    if response.headers_sent:
        logging.getLogger("qgis").error("sendError(%s) after headers were sent", status)
        return
    response.clear()
    response.status = status
    response.set_header("Content-Type", "text/plain; charset=utf-8")
    response.write(message)


def _write_response(ctx: RequestContext, data: Any) -> None:
    """QgsServerResponse.write: bytes and text are appended; an exception answers instead."""
    if hasattr(data, "service_error"):
        ctx.set_service_exception(data.service_error())
    else:
        ctx.response.write(qt.body_bytes(data))
