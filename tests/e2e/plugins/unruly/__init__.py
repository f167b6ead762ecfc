"""An ogcserve plugin that misbehaves on request (BREAK=<misdeed>, see ../misdeeds.py)."""

import logging

from misdeeds import BODIES, HEADERS, STATUSES, misbehave  # the plugin path is on sys.path
from ogcserve.context import RequestContext, current_context
from ogcserve.plugins import (
    AccessControlFilter,
    CacheFilter,
    LayerPermissions,
    RequestFilter,
    ServerInterface,
    Service,
)


def _asked() -> str:
    ctx = current_context.get()
    return ctx.parameter("BREAK") if ctx is not None else ""


class Unruly(RequestFilter):
    def on_request_ready(self, ctx: RequestContext) -> None:
        misbehave(_asked(), "request_ready")

    def on_project_ready(self, ctx: RequestContext) -> None:
        misbehave(_asked(), "project_ready")

    def on_send_response(self, ctx: RequestContext) -> None:
        misbehave(_asked(), "send_response")

    def on_response_complete(self, ctx: RequestContext) -> None:
        what = _asked()
        misbehave(what, "response_complete")
        if what == "log":
            logger = logging.getLogger("unruly.native")
            logger.debug("native says debug")
            logger.info("native says info")
            logger.warning("native says warning")
        if what in STATUSES:
            ctx.response.status = STATUSES[what]
        if what in HEADERS:
            ctx.response.set_header(*HEADERS[what])
        if what in BODIES:
            ctx.response.clear_body()
            ctx.response.write(BODIES[what])


class UnrulyAccess(AccessControlFilter):
    def layer_permissions(self, layer):  # type: ignore[no-untyped-def]
        misbehave(_asked(), "layer_permissions")
        return LayerPermissions()

    def layer_filter_expression(self, layer):  # type: ignore[no-untyped-def]
        misbehave(_asked(), "layer_filter_expression")
        return None

    def layer_filter_subset_string(self, layer):  # type: ignore[no-untyped-def]
        misbehave(_asked(), "layer_filter_subset_string")
        return None

    def authorized_layer_attributes(self, layer, attributes):  # type: ignore[no-untyped-def]
        misbehave(_asked(), "authorized_layer_attributes")
        return attributes

    def allow_to_edit(self, layer, feature):  # type: ignore[no-untyped-def]
        misbehave(_asked(), "allow_to_edit")
        return True

    def cache_key(self) -> str:
        misbehave(_asked(), "cache_key")
        return ""


class UnrulyCache(CacheFilter):
    def get(self, kind, project, key):  # type: ignore[no-untyped-def]
        misbehave(_asked(), "cache_get")
        return None

    def set(self, kind, project, key, value):  # type: ignore[no-untyped-def]
        misbehave(_asked(), "cache_set")
        return False


class UnrulyService(Service):
    """SERVICE=UNRULY: REQUEST=Stream flushes three chunks; BREAK=raise:service raises."""

    name, version = "UNRULY", "1.0.0"

    def execute(self, ctx: RequestContext) -> None:
        what = _asked()
        misbehave(what, "service")
        ctx.response.set_header("Content-Type", "text/plain")
        if what in STATUSES:
            ctx.response.status = STATUSES[what]
        if what in BODIES:
            ctx.response.write(BODIES[what])
        for part in ("one\n", "two\n", "three\n"):
            ctx.response.write(part)
            if ctx.parameter("REQUEST") == "Stream":
                ctx.response.flush()


def unruly_route(ctx: RequestContext) -> None:
    """GET /unruly-route: a plugin's own URL (BREAK=raise:route raises)."""
    misbehave(_asked(), "route")
    ctx.response.set_header("Content-Type", "text/plain")
    ctx.response.write("route")


def serverClassFactory(server_iface: ServerInterface) -> Unruly:
    unruly = Unruly()
    server_iface.register_filter(unruly, priority=50)
    server_iface.register_access_control(UnrulyAccess())
    server_iface.register_cache(UnrulyCache())
    server_iface.register_service(UnrulyService())
    server_iface.add_route("/unruly-route", unruly_route)
    return unruly
