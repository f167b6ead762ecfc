"""A plugin that sleeps or raises in the hook a request names, for tests/e2e/test_faults.py.

`NAP=<hook>` sleeps $SLEEPY_SECONDS in that hook; `BREAK=raise:<hook>` raises there. Hooks:
request_ready, project_ready, send_response, response_complete, layer_permissions,
layer_filter_expression, layer_filter_subset_string, authorized_layer_attributes,
allow_to_edit, cache_key, cache_get, cache_set.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from ogcserve.context import current_context
from ogcserve.plugins import AccessControlFilter, CacheFilter, LayerPermissions, RequestFilter

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.features import Feature
    from ogcserve.plugins import ServerInterface
    from ogcserve.plugins.cache import CachedResponse, CacheKind
    from ogcserve.projects import Layer

SECRET = "sleepy-internal-detail"


def misbehave(hook: str) -> None:
    """Sleep or raise if the current request asks for it in `hook`."""
    ctx = current_context.get()
    if ctx is None:
        return
    if ctx.parameter("NAP") == hook:
        time.sleep(float(os.environ.get("SLEEPY_SECONDS", "3")))
    if ctx.parameter("BREAK") == f"raise:{hook}":
        raise RuntimeError(SECRET)


class SleepyFilter(RequestFilter):
    def on_request_ready(self, ctx: RequestContext) -> None:
        misbehave("request_ready")

    def on_project_ready(self, ctx: RequestContext) -> None:
        misbehave("project_ready")

    def on_send_response(self, ctx: RequestContext) -> None:
        misbehave("send_response")

    def on_response_complete(self, ctx: RequestContext) -> None:
        misbehave("response_complete")


class SleepyAccess(AccessControlFilter):
    def layer_permissions(self, layer: Layer) -> LayerPermissions:
        misbehave("layer_permissions")
        return LayerPermissions()

    def layer_filter_expression(self, layer: Layer) -> str | None:
        misbehave("layer_filter_expression")
        return None

    def layer_filter_subset_string(self, layer: Layer) -> str | None:
        misbehave("layer_filter_subset_string")
        return None

    def authorized_layer_attributes(self, layer: Layer, attributes: list[str]) -> list[str]:
        misbehave("authorized_layer_attributes")
        return attributes

    def allow_to_edit(self, layer: Layer, feature: Feature) -> bool:
        misbehave("allow_to_edit")
        return True

    def cache_key(self) -> str:
        misbehave("cache_key")
        return ""


class SleepyCache(CacheFilter):
    def get(self, kind: CacheKind, project: str, key: str) -> CachedResponse | None:
        misbehave("cache_get")
        return None

    def set(self, kind: CacheKind, project: str, key: str, value: CachedResponse) -> bool:
        misbehave("cache_set")
        return False


def setup(server_iface: ServerInterface) -> None:
    """Register the filter, the access control and the cache filter."""
    server_iface.register_filter(SleepyFilter(), priority=50)
    server_iface.register_access_control(SleepyAccess())
    server_iface.register_cache(SleepyCache())
