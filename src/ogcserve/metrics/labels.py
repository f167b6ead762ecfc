"""Label values a client cannot choose: what is not known collapses to a fixed word, so that
no request can add a series (a per-URL or per-parameter label would let any client fill the
server's memory and Prometheus's)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ogcserve.plugins.targets import RouteTarget, ServiceTarget, Target

if TYPE_CHECKING:
    from ogcserve.context import RequestContext

OTHER = "other"  # a value outside the known set
NONE = "none"  # no project / service (the request failed before it was known)

# The operations of the OGC services ogcserve and QGIS Server speak, in their usual spelling;
# REQUEST is matched against them without regard to case.
OPERATIONS = {
    name.upper(): name
    for name in (
        "GetCapabilities",
        "GetMap",
        "GetFeatureInfo",
        "GetLegendGraphic",
        "GetStyles",
        "DescribeLayer",
        "GetPrint",
        "GetSchemaExtension",
        "GetFeature",
        "GetPropertyValue",
        "DescribeFeatureType",
        "Transaction",
        "LockFeature",
        "GetFeatureWithLock",
        "ListStoredQueries",
        "DescribeStoredQueries",
        "CreateStoredQuery",
        "DropStoredQuery",
        "DescribeCoverage",
        "GetCoverage",
        "GetTile",
    )
}


def request_labels(ctx: RequestContext, target: Target | None) -> tuple[str, str, str]:
    """(project, service, operation) of a request, every one from a bounded set: the served
    projects, the registered services (or a URL route's first segment, `OGCAPI`), the known
    operations or a registered route's path template."""
    project = ctx.project.name if ctx.project is not None else NONE
    if isinstance(target, ServiceTarget):
        operation = OPERATIONS.get(ctx.request.parameter("REQUEST").strip().upper(), OTHER)
        return project, target.service.name.upper() or OTHER, operation
    if isinstance(target, RouteTarget):
        # /ogcapi/{project}/collections -> OGCAPI: the routes are registered, so bounded too.
        path = target.route.path
        return project, path.strip("/").split("/")[0].upper() or "ROOT", path
    return project, NONE, NONE
