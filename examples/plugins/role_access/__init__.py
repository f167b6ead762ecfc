"""Access by role: the caller's role comes from the `X-Role` header (set it in your proxy).

- `admin`: everything, and whatever edits the project's `wfs` flags allow;
- `user`: no `nc_counties`; only African and European countries; `pop_est` hidden;
- anyone else: like `user`, and no `nyc_boroughs` either.
"""

from ogcserve.features import Feature
from ogcserve.plugins import (
    AccessControlFilter,
    LayerPermissions,
    ServerInterface,
)
from ogcserve.projects import Layer


class RoleAccess(AccessControlFilter):
    """Hides a layer, filters rows and hides an attribute for every role but admin."""

    def __init__(self, server_iface: ServerInterface) -> None:
        self.server_iface = server_iface

    def role(self) -> str:
        return self.server_iface.env("HTTP_X_ROLE") or "anonymous"

    def layer_permissions(self, layer: Layer) -> LayerPermissions:
        role = self.role()
        if role == "admin":
            return LayerPermissions()
        hidden = {"nc_counties"} if role == "user" else {"nc_counties", "nyc_boroughs"}
        return LayerPermissions(
            can_read=layer.name not in hidden, can_insert=False, can_update=False, can_delete=False
        )

    def layer_filter_expression(self, layer: Layer) -> str | None:
        if layer.name == "countries" and self.role() != "admin":
            return "\"continent\" IN ('Africa', 'Europe')"
        return None

    def authorized_layer_attributes(self, layer: Layer, attributes: list[str]) -> list[str]:
        if self.role() == "admin":
            return attributes
        return [a for a in attributes if a != "pop_est"]

    def allow_to_edit(self, layer: Layer, feature: Feature) -> bool:
        return self.role() == "admin"

    def cache_key(self) -> str:
        return self.role()


def serverClassFactory(server_iface: ServerInterface) -> RoleAccess:
    access = RoleAccess(server_iface)
    server_iface.register_access_control(access, priority=100)
    return access
