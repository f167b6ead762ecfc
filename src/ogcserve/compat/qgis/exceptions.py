"""QGIS Server's exceptions, as `ServiceError`s the pipeline renders.

QGIS keeps the HTTP status and the OGC code on the instance; ogcserve keeps them on the class.
`service_error()` gives the pipeline a `ServiceError` carrying the instance's values.
"""

from __future__ import annotations

from ogcserve.errors import ServiceError


class QgsServerException(ServiceError):  # noqa: N818 (QGIS names)
    """`QgsServerException(message, responseCode=500)`: a server error with an HTTP status."""

    def __init__(self, message: str, responseCode: int = 500) -> None:
        super().__init__(message)
        _set_error_status(self, responseCode)

    def responseCode(self) -> int:
        """The HTTP status."""
        return self.status

    def what(self) -> str:
        """The message."""
        return self.message

    def service_error(self) -> ServiceError:
        """Itself: it already is a `ServiceError`."""
        return self


def _set_error_status(error: ServiceError, status: int) -> None:
    """Give one error instance its own HTTP status (the core keeps it on the class)."""
    vars(error)["status"] = status


class QgsOgcServiceException(Exception):  # noqa: N818 (QGIS names)
    """`QgsOgcServiceException(code, message, locator='', responseCode=200, version='1.3.0')`.

    Not a `ServiceError` itself: QGIS's `code()` method would hide the class attribute the
    renderers read. `service_error()` converts it.
    """

    def __init__(
        self,
        code: str,
        message: str,
        locator: str = "",
        responseCode: int = 200,
        version: str = "1.3.0",
    ) -> None:
        super().__init__(message)
        self._code, self._message, self._locator = code, message, locator
        self._status, self._version = responseCode, version

    def code(self) -> str:
        """The OGC exception code."""
        return self._code

    def message(self) -> str:
        """The message."""
        return self._message

    def locator(self) -> str:
        """The locator ('' if none)."""
        return self._locator

    def version(self) -> str:
        """The version of the exception report."""
        return self._version

    def responseCode(self) -> int:
        """The HTTP status (200 by default, as in QGIS)."""
        return self._status

    def service_error(self) -> ServiceError:
        """The `ServiceError` the pipeline renders: same code, message, locator and status."""
        return _ogc_error(self._code, self._message, self._locator, self._status)


def _ogc_error(code: str, message: str, locator: str, status: int) -> ServiceError:
    """A `ServiceError` with this instance's OGC code and HTTP status."""
    error = ServiceError(message, locator=locator or None)
    vars(error)["code"] = code
    vars(error)["status"] = status
    return error


class QgsMapServiceException(QgsOgcServiceException):
    """`QgsMapServiceException(code, message)`: the WMS exception of the QGIS 2 cookbook."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)


class QgsServerApiBadRequestException(ServiceError):  # noqa: N818 (QGIS names)
    """An OGC API request error (400, JSON)."""

    code = "Bad request error"
    status = 400

    def service_error(self) -> ServiceError:
        """Itself."""
        return self


class QgsServerApiInternalServerError(ServiceError):
    """An OGC API server error (500, JSON)."""

    code = "Internal server error"
    status = 500

    def service_error(self) -> ServiceError:
        """Itself."""
        return self


class QgsServerApiNotFoundError(ServiceError):
    """An OGC API resource that does not exist (404, JSON)."""

    code = "API not found error"
    status = 404

    def service_error(self) -> ServiceError:
        """Itself."""
        return self


class QgsServerApiPermissionDeniedException(ServiceError):  # noqa: N818 (QGIS names)
    """An OGC API request the caller may not make (403, JSON)."""

    code = "Forbidden"
    status = 403

    def service_error(self) -> ServiceError:
        """Itself."""
        return self
