"""Access control of bench/soak.py, keyed on the `X-Role` header.

- `admin`: everything, every edit the projects allow;
- `user`: countries of Africa and Europe only, `pop_est` hidden; reads every site but edits
  only the sites whose name starts with `soak-user`;
- anyone else (anonymous): like `user` for countries, no `nc_counties`, no edits at all.
"""

from __future__ import annotations

from ogcserve.features import Feature
from ogcserve.plugins import AccessControlFilter, LayerPermissions, ServerInterface
from ogcserve.projects import Layer


class SoakAccess(AccessControlFilter):
    """Three roles: a row filter, a hidden attribute, a hidden layer and edit rules."""

    def __init__(self, server_iface: ServerInterface) -> None:
        self.server_iface = server_iface

    def role(self) -> str:
        role = self.server_iface.env("HTTP_X_ROLE")
        return role if role in ("admin", "user") else "anonymous"

    def layer_permissions(self, layer: Layer) -> LayerPermissions:
        role = self.role()
        if role == "admin":
            return LayerPermissions()
        if role == "user":
            return LayerPermissions(
                can_read=True,
                can_insert=layer.name == "sites",
                can_update=layer.name == "sites",
                can_delete=layer.name == "sites",
            )
        return LayerPermissions(
            can_read=layer.name != "nc_counties",
            can_insert=False,
            can_update=False,
            can_delete=False,
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
        role = self.role()
        if role == "admin":
            return True
        name = feature.attribute("name")
        return role == "user" and isinstance(name, str) and name.startswith("soak-user")

    def cache_key(self) -> str:
        return self.role()


def serverClassFactory(server_iface: ServerInterface) -> SoakAccess:  # noqa: N802
    access = SoakAccess(server_iface)
    server_iface.register_access_control(access, priority=100)
    return access
