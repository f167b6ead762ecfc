"""The default access policy: what the project file says, applied as an access-control filter.

It is registered first (lowest priority) through the same API plugins use, so plugins refine
what the project already restricts: they receive only published attributes, and their
permissions are ANDed with the layer's `wfs` edit flags.

A layer may hide attributes from one service only (`fields: exclude_wms / exclude_wfs`, QGIS's
"hide from WMS/WFS"): the service is the current request's, WMS for what WMS draws (WMS,
WMTS, tiles), WFS for WFS and OGC API - Features. A request of no known service sees only the
attributes every service publishes.
"""

from __future__ import annotations

from ogcserve.context import RequestContext, current_context
from ogcserve.plugins.access import AccessControlFilter, LayerPermissions
from ogcserve.projects import Layer

POLICY_PRIORITY = -1_000_000

_DRAWN = ("/wmts/", "/tiles/")  # routes answered by drawing the layers (WMS's settings apply)


class ProjectPolicy(AccessControlFilter):
    """Layer `filter`, `fields` and `wfs` edit flags from the project file."""

    decisions_follow_cache_key = True  # the project file alone decides

    def layer_permissions(self, layer: Layer) -> LayerPermissions:
        """Reading is open; edits only where the layer's `wfs` block allows them."""
        wfs = layer.wfs
        return LayerPermissions(True, wfs.insert, wfs.update, wfs.delete)

    def layer_filter_expression(self, layer: Layer) -> str | None:
        """The layer's own row filter."""
        return layer.filter

    def cache_key(self) -> str:
        """The service whose publication settings apply: the attributes decided differ by it,
        so decisions kept across requests (`access/memo.py`) are kept per service."""
        ctx = current_context.get()
        return "" if ctx is None else publishing_service(ctx) or ""

    def authorized_layer_attributes(self, layer: Layer, attributes: list[str]) -> list[str]:
        """Drop the attributes the project does not publish in the request's service."""
        ctx = current_context.get()
        service = None if ctx is None else publishing_service(ctx)
        return [name for name in attributes if layer.publishes_field(name, service)]


def publishing_service(ctx: RequestContext) -> str | None:
    """Whose publication settings apply to the request: "WMS", "WFS" or None (unknown)."""
    name = ctx.request.parameter("SERVICE").strip().upper()
    if name:
        return {"WMS": "WMS", "WMTS": "WMS", "WFS": "WFS"}.get(name)
    path = ctx.request.path
    if path.startswith(_DRAWN) or (path.startswith("/ogcapi/") and "/tiles" in path):
        return "WMS"
    if path.startswith("/ogcapi/"):
        return "WFS"
    return None
