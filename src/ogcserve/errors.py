"""Errors reported to clients as OGC exceptions: the code and HTTP status live on the class.

Services, sources and plugins raise these; each service renders them in its own format
(`Service.render_error`), so no code builds an error document by hand.
"""

from __future__ import annotations

import copy
from typing import ClassVar


class ServiceError(Exception):
    """An error reported to the client as an OGC exception."""

    code: ClassVar[str] = "NoApplicableCode"
    status: ClassVar[int] = 400

    def __init__(self, message: str, *, locator: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.locator = locator

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, locator={self.locator!r})"

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers the error response carries besides Content-Type."""
        return {}

    def relabelled(self, message: str, *, locator: str | None = None) -> ServiceError:
        """The same error (class and extras such as Retry-After kept) with another message, and
        another locator if one is given."""
        other = copy.copy(self)
        other.message = message
        other.args = (message,)
        if locator is not None:
            other.locator = locator
        return other


class InternalError(ServiceError):
    """Something failed on our side; the message never carries internals."""

    status = 500


class ServiceUnavailableError(ServiceError):
    """A resource the request needs is down or saturated: 503, with Retry-After."""

    status = 503

    def __init__(self, message: str, *, locator: str | None = None, retry_after: int = 1) -> None:
        super().__init__(message, locator=locator)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        """Retry-After, in whole seconds."""
        return {"Retry-After": str(self.retry_after)}


class OperationNotSupportedError(ServiceError):
    """REQUEST names an operation the service does not have."""

    code = "OperationNotSupported"
    # QGIS answers 501; a request for an operation we lack is the client's mistake: 4xx.
    status = 400


class MethodNotAllowedError(ServiceError):
    """An HTTP method the resource does not take: 405, with the ones it does in `Allow`
    (RFC 9110 §15.5.6)."""

    code = "OperationNotSupported"
    status = 405

    def __init__(self, message: str, allow: tuple[str, ...]) -> None:
        super().__init__(message)
        self.allow = allow

    @property
    def headers(self) -> dict[str, str]:
        """Allow: the methods the resource takes."""
        return {"Allow": ", ".join(self.allow)}


class ServiceNotSupportedError(ServiceError):
    """SERVICE names no registered service."""

    code = "InvalidParameterValue"
    status = 400


class MissingParameterValueError(ServiceError):
    """A mandatory parameter is absent or empty."""

    code = "MissingParameterValue"


class InvalidParameterValueError(ServiceError):
    """A parameter has a value the operation cannot use."""

    code = "InvalidParameterValue"


class VersionNegotiationFailedError(ServiceError):
    """No version of the service matches the one asked for."""

    code = "VersionNegotiationFailed"


class InvalidFormatError(ServiceError):
    """The requested output format is not offered."""

    code = "InvalidFormat"


class InvalidCRSError(ServiceError):
    """The requested CRS is unknown or not offered."""

    code = "InvalidCRS"


class LayerNotDefinedError(ServiceError):
    """The request names a layer that does not exist (or that the caller may not see)."""

    code = "LayerNotDefined"

    @classmethod
    def named(cls, name: str) -> LayerNotDefinedError:
        """The one answer for a name the caller cannot use, whether it is unknown or names
        something the caller may not see any of: the two must not be told apart."""
        return cls(f"The layer {name!r} does not exist", locator=name)


class FilterError(InvalidParameterValueError):
    """A filter expression does not parse or names unknown properties."""


class SecurityError(ServiceError):
    """The caller may not do this: named a layer they may not read, or an edit they may not make."""

    code = "Security"
    status = 403


class NotFoundError(ServiceError):
    """A resource (feature, collection, project) does not exist."""

    code = "NotFound"
    status = 404


class PreconditionFailedError(ServiceError):
    """A conditional write's `If-Match` names a version of the resource that is not the current
    one (RFC 9110 §13.1.1): the caller read it before someone else changed it."""

    code = "PreconditionFailed"
    status = 412


class UnsupportedMediaTypeError(ServiceError):
    """A request body in a media type the operation does not read."""

    code = "UnsupportedMediaType"
    status = 415


class ProjectNotFoundError(NotFoundError):
    """MAP or the URL names no served project."""

    code = "InvalidParameterValue"
