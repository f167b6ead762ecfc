"""Servers over the demo project with each cache backend, and a rule plugin keyed on X-Role."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ogcserve.plugins import AccessControlFilter, LayerPermissions, ServerInterface
from ogcserve.projects.model import Layer
from ogcserve.server import Server
from ogcserve.testing import make_server

REDIS_URL = "redis://127.0.0.1:6379/0"
BACKENDS = ("memory", "disk", "redis")


def redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


def backend_settings(kind: str, tmp: Path) -> dict[str, Any]:
    """Settings for a server caching in `kind` (a private prefix in the shared Redis)."""
    if kind == "redis":
        if not redis_answers():
            pytest.skip("no Redis at 127.0.0.1:6379 (.ci/run starts one)")
        prefix = f"test-{uuid.uuid4().hex}:"
        return {
            "cache_backend": "redis",
            "cache_redis_url": REDIS_URL,
            "cache_redis_prefix": prefix,
        }
    if kind == "disk":
        return {"cache_backend": "disk", "cache_dir": tmp / "tiles"}
    return {"cache_backend": "memory"}


@dataclass
class RoleRules(AccessControlFilter):
    """Per role: the layers it may read and a filter expression per layer. `cache_key()` stays
    empty on purpose: the fingerprint alone must keep roles apart."""

    iface: ServerInterface
    readable: dict[str, set[str]] = field(default_factory=dict)
    filters: dict[str, dict[str, str]] = field(default_factory=dict)

    def role(self) -> str:
        return self.iface.env("HTTP_X_ROLE")

    def layer_permissions(self, layer: Layer) -> LayerPermissions:
        if layer.is_group:
            return LayerPermissions()
        can = layer.name in self.readable.get(self.role(), set())
        return LayerPermissions(can, False, False, False)

    def layer_filter_expression(self, layer: Layer) -> str | None:
        return self.filters.get(self.role(), {}).get(layer.name)


@dataclass
class KeyedRoleRules(RoleRules):
    """The same rules, with the promise that the answers follow `cache_key()`, which holds the
    role and that role's rules: the access decisions are then remembered across requests
    (`ogcserve.access.memo`), and a change of the rules is a new key."""

    decisions_follow_cache_key = True

    def cache_key(self) -> str:
        role = self.role()
        mine = (sorted(self.readable.get(role, set())), sorted(self.filters.get(role, {}).items()))
        return f"{role}:{mine!r}"


def rules_server(keyed: bool = False, **settings: Any) -> tuple[Server, RoleRules]:
    """The demo with a `RoleRules` plugin (`KeyedRoleRules` if `keyed`) the test changes at
    will."""
    holder: list[RoleRules] = []

    def setup(iface: ServerInterface) -> None:
        holder.append(KeyedRoleRules(iface) if keyed else RoleRules(iface))
        iface.register_access_control(holder[0], priority=10)

    plugins: list[Callable[[ServerInterface], None]] = [setup]
    server = make_server(plugins=plugins, **settings)
    return server, holder[0]
