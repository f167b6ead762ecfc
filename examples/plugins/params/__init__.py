"""Injects a parameter before the service runs and checks it is still there afterwards."""

import logging

from ogcserve.context import RequestContext
from ogcserve.plugins import RequestFilter, ServerInterface

log = logging.getLogger("ogcserve.plugins.params")


class ParamsFilter(RequestFilter):
    """Adds TEST_NEW_PARAM=ParamsFilter; reports in a header whether it survived."""

    def on_request_ready(self, ctx: RequestContext) -> bool:
        ctx.request.params["TEST_NEW_PARAM"] = "ParamsFilter"
        return True

    def on_response_complete(self, ctx: RequestContext) -> bool:
        ok = ctx.request.parameter("TEST_NEW_PARAM") == "ParamsFilter"
        if ok:
            log.info("SUCCESS - ParamsFilter.on_response_complete")
        else:
            log.critical("FAIL    - ParamsFilter.on_response_complete")
        ctx.response.set_header("X-Params-Filter", "SUCCESS" if ok else "FAIL")
        return True


def serverClassFactory(server_iface: ServerInterface) -> ParamsFilter:
    params = ParamsFilter()
    server_iface.register_filter(params, priority=50)
    return params
