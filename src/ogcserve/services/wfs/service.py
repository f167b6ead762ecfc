"""The WFS service: one `WFSService` per version, each with its operation table and error format."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ogcserve.plugins.cache import CacheKind
from ogcserve.services.ows.service import Operation, OWSService

from .describe_feature_type import describe_feature_type
from .get_capabilities import get_capabilities
from .get_feature import get_feature
from .get_property_value import get_property_value
from .params import VERSIONS
from .stored_queries import describe_stored_queries, list_stored_queries
from .transaction import transaction

if TYPE_CHECKING:
    from ogcserve.context import RequestContext

# WFS 2.0.0 reports errors as OWS 1.1 ExceptionReport, 1.1.0 as OWS 1.0, and 1.0.0 as the OGC
# ServiceExceptionReport 1.2.0.
EXCEPTION_FORMATS = {
    "2.0.0": ("ows", "1.1.0"),
    "1.1.0": ("ows", "1.0.0"),
    "1.0.0": ("sxr", "1.2.0"),
}
_CACHEABLE = ("GETCAPABILITIES", "DESCRIBEFEATURETYPE")


class WFSService(OWSService):
    """One WFS version; capabilities and schemas are cached per access fingerprint."""

    def __init__(self, version: str) -> None:
        super().__init__("WFS", version, VERSIONS, operations(version), EXCEPTION_FORMATS[version])

    def cache_kind(self, ctx: RequestContext) -> CacheKind | None:
        """Capabilities and DescribeFeatureType are documents the pipeline may cache."""
        request = ctx.request.parameter("REQUEST").strip().upper()
        return CacheKind.DOCUMENT if request in _CACHEABLE else None


def operations(version: str) -> dict[str, Operation]:
    """The operations of one version."""
    ops: dict[str, Operation] = {
        "GetCapabilities": get_capabilities,
        "DescribeFeatureType": describe_feature_type,
        "GetFeature": get_feature,
        "Transaction": transaction,
    }
    if version == "2.0.0":
        ops |= {
            "GetPropertyValue": get_property_value,
            "ListStoredQueries": list_stored_queries,
            "DescribeStoredQueries": describe_stored_queries,
        }
    return ops
