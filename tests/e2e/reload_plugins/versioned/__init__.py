"""A plugin that tells its version in a header (tests/e2e/test_reload.py rewrites VERSION)."""

import os
import time
from pathlib import Path

from ogcserve.context import RequestContext
from ogcserve.plugins import RequestFilter, ServerInterface

VERSION = "1"


class Versioned(RequestFilter):
    def on_request_ready(self, ctx: RequestContext) -> None:
        nap = ctx.request.parameter("NAP")  # NAP=<seconds>: a long request
        if nap:
            time.sleep(min(float(nap), 10.0))
        hold = os.environ.get("OGCSERVE_TEST_HOLD")
        if hold and ctx.request.parameter("HOLD"):  # HOLD=1: a request running until the
            Path(f"{hold}.running").touch()  # test removes the file OGCSERVE_TEST_HOLD names
            limit = time.monotonic() + 120
            while Path(hold).exists() and time.monotonic() < limit:
                time.sleep(0.05)

    def on_response_complete(self, ctx: RequestContext) -> bool:
        ctx.response.set_header("X-Plugin-Version", VERSION)
        return True


def serverClassFactory(server_iface: ServerInterface) -> Versioned:
    versioned = Versioned()
    server_iface.register_filter(versioned, priority=100)
    return versioned
