"""What every OWS service (WMS, WFS, WCS) shares: operation dispatch, versions, error format."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ogcserve.errors import (
    InvalidParameterValueError,
    MissingParameterValueError,
    OperationNotSupportedError,
    ServiceError,
)
from ogcserve.exception_reports import ows_exception_report, service_exception_report
from ogcserve.plugins.services import Service

if TYPE_CHECKING:
    from ogcserve.context import RequestContext

Operation = Callable[["RequestContext"], None]

# Parameters that name layers (WMS GetMap, GetFeatureInfo, GetLegendGraphic; WFS).
_LAYER_LISTS = ("LAYERS", "QUERY_LAYERS", "LAYER", "TYPENAMES", "TYPENAME")


def check_layer_count(params: Mapping[str, str], limit: int) -> None:
    """Refuse a request naming more than `limit` layers in any layer list (setting
    `max_layers`, as QGIS Server's and MapServer's own caps): each costs a lookup, an access
    decision and a read."""
    for key in _LAYER_LISTS:
        value = params.get(key, "")
        # WFS TYPENAMES may group names in parentheses: (a,b)(c).
        count = len([n for n in re.split(r"[,()]", value) if n.strip()])
        if count > limit:
            raise InvalidParameterValueError(
                f"{key} names {count} layers; at most {limit} are allowed per request",
                locator=key,
            )


class OWSService(Service):
    """One version of an OWS service: a table of operations and an exception format.

    One instance is registered per version (as QGIS registers WMS 1.3.0 and 1.1.1); the
    registry hands a request with an unknown VERSION to the default (first) one, which answers
    GetCapabilities (OWS version negotiation) and refuses every other operation.
    """

    def __init__(
        self,
        name: str,
        version: str,
        versions: tuple[str, ...],
        operations: Mapping[str, Operation],
        exception_format: tuple[str, str],
        unversioned: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.version = version
        self.versions = versions  # every version of this service, for negotiation
        self.operations = {op.upper(): fn for op, fn in operations.items()}
        self._operation_names = {op.upper(): op for op in operations}
        self._exception_format = exception_format  # ("sxr", "1.3.0") or ("ows", "1.1.0")
        # Operations besides GetCapabilities that answer without VERSION, in the default version.
        self._unversioned = {op.upper() for op in unversioned}

    def execute(self, ctx: RequestContext) -> None:
        """Check REQUEST and VERSION, then run the operation."""
        request = ctx.request.parameter("REQUEST").strip()
        if not request:
            raise MissingParameterValueError("The REQUEST parameter is missing", locator="REQUEST")
        operation = self.operations.get(request.upper())
        if operation is None:
            raise OperationNotSupportedError(
                f"Request {request!r} is not supported by {self.name} {self.version}",
                locator="REQUEST",
            )
        version = ctx.request.parameter("VERSION").strip()
        if request.upper() != "GETCAPABILITIES" and (
            version or request.upper() not in self._unversioned
        ):
            # OWS Common §7.3.1: VERSION is mandatory on every operation but GetCapabilities
            # (and those a service lets go without it, as QGIS Server does).
            if not version:
                raise MissingParameterValueError(
                    "The VERSION parameter is missing", locator="VERSION"
                )
            if version not in self.versions:
                raise InvalidParameterValueError(
                    f"Version {version!r} of {self.name} is not supported "
                    f"(supported: {', '.join(self.versions)})",
                    locator="VERSION",
                )
        check_layer_count(ctx.request.params, ctx.server.settings.max_layers)
        operation(ctx)

    def render_error(self, error: ServiceError, ctx: RequestContext) -> tuple[bytes, str]:
        """ServiceExceptionReport or OWS ExceptionReport, per the service and version."""
        kind, version = self._exception_format
        if kind == "sxr":
            return service_exception_report(error, version)
        return ows_exception_report(error, version, self.version)
