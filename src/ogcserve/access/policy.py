"""The default access policy: what the project file says, applied as an access-control filter.

It is registered first (lowest priority) through the same API plugins use, so plugins refine
what the project already restricts: they receive only published attributes, and their
permissions are ANDed with the layer's `wfs` edit flags.
"""

from __future__ import annotations

from ogcserve.plugins.access import AccessControlFilter, LayerPermissions
from ogcserve.projects import Layer

POLICY_PRIORITY = -1_000_000


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

    def authorized_layer_attributes(self, layer: Layer, attributes: list[str]) -> list[str]:
        """Drop the attributes the project does not publish."""
        return [name for name in attributes if layer.publishes_field(name)]
