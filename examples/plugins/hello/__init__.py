"""SERVICE=HELLO answers text/plain "HelloServer!": a filter answering a service nobody has."""

from ogcserve.context import RequestContext
from ogcserve.plugins import RequestFilter, ServerInterface


class HelloFilter(RequestFilter):
    """Replaces the core's "unknown service" error with a greeting."""

    def on_response_complete(self, ctx: RequestContext) -> bool:
        if ctx.request.parameter("SERVICE").upper() == "HELLO":
            ctx.response.clear()
            ctx.response.set_header("Content-Type", "text/plain")
            ctx.response.write("HelloServer!")
        return True


def serverClassFactory(server_iface: ServerInterface) -> HelloFilter:
    hello = HelloFilter()
    server_iface.register_filter(hello, priority=100)
    return hello
