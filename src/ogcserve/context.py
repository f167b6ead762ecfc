"""The state of one request, bound in a ContextVar so that `request_handler()` works anywhere."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ogcserve.deadline import Deadline
from ogcserve.errors import ServiceError
from ogcserve.http.request import ServerRequest
from ogcserve.http.response import ServerResponse

if TYPE_CHECKING:
    from ogcserve.access.rules import RequestAccess
    from ogcserve.metrics.tally import Tally
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
    # When the work must stop (time budget, client gone, shutdown): checked at loop points.
    deadline: Deadline = field(default_factory=Deadline)
    # Plugin calls and feature reads, added up for the metrics (None: metrics are off).
    tally: Tally | None = field(default=None, repr=False)
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

    def parameter(self, key: str, default: str = "") -> str:
        """One request parameter (case-insensitive key)."""
        return self.request.params.get(key, default)

    def set_parameter(self, key: str, value: str) -> None:
        """Add or replace a parameter (empty keys or values are ignored, as in QGIS)."""
        if key and value:
            self.request.params[key] = value

    def remove_parameter(self, key: str) -> None:
        """Drop a parameter if present."""
        self.request.params.pop(key, None)

    def parameter_map(self) -> dict[str, str]:
        """Every parameter, keys upper-cased."""
        return dict(self.request.params)

    @property
    def format(self) -> str:
        """INFO_FORMAT if given, else FORMAT shortened to PNG, JPG, SVG, PDF, ... (as QGIS)."""
        info = self.request.params.get("INFO_FORMAT", "")
        if info:
            return info
        value = self.request.params.get("FORMAT", "").lower()
        short = value.split(";")[0].split("/")[-1].split("+")[0]
        return {"jpeg": "JPG", "svg": "SVG"}.get(short, short.upper())

    @property
    def info_format(self) -> str:
        """The INFO_FORMAT parameter."""
        return self.request.params.get("INFO_FORMAT", "")

    def is_operation(self, service: str, request: str) -> bool:
        """Whether this is SERVICE=`service` and REQUEST=`request` (case-insensitive)."""
        params = self.request.params
        return (
            params.get("SERVICE", "").upper() == service.upper()
            and params.get("REQUEST", "").upper() == request.upper()
        )


current_context: ContextVar[RequestContext | None] = ContextVar("ogcserve_request", default=None)
