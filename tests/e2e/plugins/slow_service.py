"""A plugin whose SERVICE=SLOW works until something stops it, for the tests that bound a
request's work (tests/e2e/test_bounded.py).

MODE=read reads the countries again and again through the access layer, as a heavy service
would: every batch read is a point where the work may be stopped. MODE=stuck sleeps in one
call that never checks anything (a query without a timeout). Each request leaves a file named
after its process and thread in $SLOW_PLUGIN_DIR saying `running`, then `stopped`.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ogcserve.access import Read
from ogcserve.plugins.services import Service

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.plugins.interface import ServerInterface


class SlowService(Service):
    """Works until its deadline stops it."""

    name = "SLOW"
    version = "1.0"

    def execute(self, ctx: RequestContext) -> None:
        """Read, read, read (or sleep)."""
        marker = Path(os.environ["SLOW_PLUGIN_DIR"]) / f"{os.getpid()}-{threading.get_ident()}"
        marker.write_text("running")
        try:
            if ctx.parameter("MODE") == "stuck":
                time.sleep(3600)
            assert ctx.project is not None
            data = ctx.server.access
            layer = data.layer(ctx, ctx.project, "countries")
            while True:
                for _ in data.features(ctx, layer, Read(properties=["name"])):
                    pass
        finally:
            marker.write_text("stopped")


def setup(server_iface: ServerInterface) -> None:
    """Register SERVICE=SLOW."""
    server_iface.register_service(SlowService())
