"""The WCS service: one `WCSService` per version, each with its operations and error format."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ogcserve.errors import VersionNegotiationFailedError
from ogcserve.plugins.cache import CacheKind
from ogcserve.services.ows.service import Operation, OWSService

from . import get_coverage_111, get_coverage_201, v100, v111, v201

if TYPE_CHECKING:
    from ogcserve.context import RequestContext

VERSIONS = ("2.0.1", "1.1.1", "1.0.0")
# WCS 2.0.1 reports errors as OWS 2.0 ExceptionReport, 1.1.1 as OWS 1.1, 1.0.0 as the OGC
# ServiceExceptionReport 1.2.0 (WCS 1.0.0 §A.6).
EXCEPTION_FORMATS = {
    "2.0.1": ("ows", "2.0.0"),
    "1.1.1": ("ows", "1.1.0"),
    "1.0.0": ("sxr", "1.2.0"),
}
_OPERATIONS: dict[str, dict[str, Operation]] = {
    "2.0.1": {
        "GetCapabilities": v201.get_capabilities,
        "DescribeCoverage": v201.describe_coverage,
        "GetCoverage": get_coverage_201.get_coverage,
    },
    "1.1.1": {
        "GetCapabilities": v111.get_capabilities,
        "DescribeCoverage": v111.describe_coverage,
        "GetCoverage": get_coverage_111.get_coverage,
    },
    "1.0.0": {
        "GetCapabilities": v100.get_capabilities,
        "DescribeCoverage": v100.describe_coverage,
        "GetCoverage": v100.get_coverage,
    },
}
_CACHEABLE = ("GETCAPABILITIES", "DESCRIBECOVERAGE")


class WCSService(OWSService):
    """One WCS version; capabilities and descriptions are cached per access fingerprint."""

    def __init__(self, version: str) -> None:
        operations = dict(_OPERATIONS[version])
        operations["GetCapabilities"] = self._capabilities
        super().__init__("WCS", version, VERSIONS, operations, EXCEPTION_FORMATS[version])

    def cache_kind(self, ctx: RequestContext) -> CacheKind | None:
        """Capabilities and DescribeCoverage are documents the pipeline may cache."""
        request = ctx.request.parameter("REQUEST").strip().upper()
        return CacheKind.DOCUMENT if request in _CACHEABLE else None

    def _capabilities(self, ctx: RequestContext) -> None:
        """OWS §7.3.2: ACCEPTVERSIONS picks the first version we have; else this one."""
        version = self.version
        accept = ctx.request.parameter("ACCEPTVERSIONS").strip()
        if accept:
            offered = [v.strip() for v in accept.split(",") if v.strip() in VERSIONS]
            if not offered:
                raise VersionNegotiationFailedError(
                    f"None of {accept!r} is supported", locator="AcceptVersions"
                )
            version = offered[0]
        build: Callable[[RequestContext], None] = _OPERATIONS[version]["GetCapabilities"]
        build(ctx)
