"""A plugin that holds its worker's start while the file named by OGCSERVE_TEST_GATE exists,
as a slow import or a large project would: the worker is alive but not ready. It leaves
`<gate>.<pid>` behind when it starts waiting, so that the test knows the worker is held."""

import os
import time
from pathlib import Path

from ogcserve.context import RequestContext
from ogcserve.plugins import RequestFilter, ServerInterface

PATIENCE = 300.0  # never hold a worker for ever, whatever the test does


class Pid(RequestFilter):
    def on_response_complete(self, ctx: RequestContext) -> bool:
        ctx.response.set_header("X-Worker", str(os.getpid()))
        return True


def serverClassFactory(server_iface: ServerInterface) -> Pid:
    gate = Path(os.environ["OGCSERVE_TEST_GATE"])
    if gate.exists():
        Path(f"{gate}.{os.getpid()}").touch()
        limit = time.monotonic() + PATIENCE
        while gate.exists() and time.monotonic() < limit:
            time.sleep(0.05)
    pid = Pid()
    server_iface.register_filter(pid, priority=100)
    return pid
