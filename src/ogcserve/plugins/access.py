"""Access control as plugins write it: `AccessControlFilter` and the `LayerPermissions` it
answers with. How several filters combine is `ogcserve.access.rules`.

| method                                        | default     | several filters combine by |
|-----------------------------------------------|-------------|----------------------------|
| `layer_permissions(layer)`                    | all allowed | AND, per permission        |
| `layer_filter_expression(layer)` (CQL2/QGIS)  | None        | AND                        |
| `layer_filter_subset_string(layer)` (SQL)     | None        | AND                        |
| `authorized_layer_attributes(layer, attrs)`   | `attrs`     | chained, in priority order |
| `allow_to_edit(layer, feature)`               | True        | AND                        |
| `cache_key()`                                 | ""          | all keys enter the fingerprint |

Plugins are asked once per layer and request, never across requests (their answers may depend
on the caller), unless every registered filter sets `decisions_follow_cache_key`: then the
answers are kept per project version and cache keys (`ogcserve.access.memo`). The access layer
(`ogcserve.access`) is the only caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ogcserve.features import Feature
    from ogcserve.projects.model import Layer


@dataclass(frozen=True, slots=True)
class LayerPermissions:
    """What the caller may do with a layer."""

    can_read: bool = True
    can_insert: bool = True
    can_update: bool = True
    can_delete: bool = True

    def __and__(self, other: LayerPermissions) -> LayerPermissions:
        return LayerPermissions(
            self.can_read and other.can_read,
            self.can_insert and other.can_insert,
            self.can_update and other.can_update,
            self.can_delete and other.can_delete,
        )


class AccessControlFilter:
    """Base class for access-control plugins; override only what you restrict."""

    #: A promise: every answer of this filter depends only on the layer (and the project file)
    #: and on what `cache_key()` returns for the request (QGIS's cacheKey contract, made
    #: explicit). When every registered filter makes it, the answers are remembered across
    #: requests per cache key, which makes cached tiles and documents much cheaper to serve.
    #: Leave it False if any answer reads something the key does not hold (a header, the
    #: time): the filter is then asked on every request.
    decisions_follow_cache_key: bool = False

    def layer_permissions(self, layer: Layer) -> LayerPermissions:
        """Read/insert/update/delete rights on `layer`."""
        return LayerPermissions()

    def layer_filter_expression(self, layer: Layer) -> str | None:
        """A CQL2 (or QGIS-expression) row filter for `layer`, or None."""
        return None

    def layer_filter_subset_string(self, layer: Layer) -> str | None:
        """A SQL WHERE fragment for the layer's own database (trusted code only), or None."""
        return None

    def authorized_layer_attributes(self, layer: Layer, attributes: list[str]) -> list[str]:
        """The attributes of `layer` the caller may see, from those given."""
        return attributes

    def allow_to_edit(self, layer: Layer, feature: Feature) -> bool:
        """Whether the caller may write `feature` (checked before and after an update)."""
        return True

    def cache_key(self) -> str:
        """A key for the caller's rights; it enters the access fingerprint of cached documents."""
        return ""
