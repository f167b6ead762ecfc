"""A plugin that tells its version in a header (tests/e2e/test_reload.py rewrites VERSION)."""

import time

from ogcserve.context import RequestContext
from ogcserve.plugins import RequestFilter, ServerInterface

VERSION = "1"


class Versioned(RequestFilter):
    def on_request_ready(self, ctx: RequestContext) -> None:
        nap = ctx.request.parameter("NAP")  # NAP=<seconds>: a long request
        if nap:
            time.sleep(min(float(nap), 10.0))

    def on_response_complete(self, ctx: RequestContext) -> bool:
        ctx.response.set_header("X-Plugin-Version", VERSION)
        return True


def serverClassFactory(server_iface: ServerInterface) -> Versioned:
    versioned = Versioned()
    server_iface.register_filter(versioned, priority=100)
    return versioned
