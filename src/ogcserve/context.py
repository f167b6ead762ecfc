"""The state of one request, bound in a ContextVar so that `request_handler()` works anywhere."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ogcserve.errors import ServiceError
from ogcserve.http.request import ServerRequest
from ogcserve.http.response import ServerResponse
from ogcserve.plugins.access import RequestAccess

if TYPE_CHECKING:
    from ogcserve.projects.model import Project
    from ogcserve.server import Server


@dataclass
class RequestContext:
    """What every hook and service receives: request, response, project and server."""

    server: Server
    request: ServerRequest
    response: ServerResponse
    project: Project | None = None
    config_file_path: str | None = None  # a request-ready filter may point this at another project
    service_error: ServiceError | None = None  # set by set_service_exception
    _access: RequestAccess | None = field(default=None, repr=False)

    @property
    def access(self) -> RequestAccess:
        """The combined access-control answers for this request (asked once per layer)."""
        if self._access is None:
            self._access = self.server.access_controls.for_request()
        return self._access

    def set_service_exception(self, error: ServiceError) -> None:
        """Answer with `error`: in request-ready this skips project and service."""
        self.service_error = error

    @property
    def exception_raised(self) -> bool:
        """True once `set_service_exception` was called."""
        return self.service_error is not None

    def is_operation(self, service: str, request: str) -> bool:
        """Whether this is SERVICE=`service` and REQUEST=`request` (case-insensitive)."""
        params = self.request.params
        return (
            params.get("SERVICE", "").upper() == service.upper()
            and params.get("REQUEST", "").upper() == request.upper()
        )


current_context: ContextVar[RequestContext | None] = ContextVar("ogcserve_request", default=None)
