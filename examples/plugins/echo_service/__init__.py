"""A custom OWS-style service and an OGC-API-style route, registered by a plugin.

- `SERVICE=ECHO&REQUEST=Echo&TEXT=hi` echoes TEXT (version 1.0.0, the default; 2.0.0 upper-cases);
- `SERVICE=ECHO&REQUEST=Count&N=3` streams N lines, one flushed chunk per line;
- `GET /echo/{word}` answers JSON.
"""

import json

from ogcserve.context import RequestContext
from ogcserve.errors import InvalidParameterValueError, OperationNotSupportedError
from ogcserve.plugins import ServerInterface, Service


class EchoService(Service):
    """SERVICE=ECHO."""

    name = "ECHO"

    def __init__(self, version: str) -> None:
        self.version = version

    def execute(self, ctx: RequestContext) -> None:
        request = ctx.request.parameter("REQUEST").upper()
        response = ctx.response
        if request == "ECHO":
            text = ctx.request.parameter("TEXT")
            response.set_header("Content-Type", "text/plain; charset=utf-8")
            response.write(text.upper() if self.version == "2.0.0" else text)
        elif request == "COUNT":
            try:
                count = int(ctx.request.parameter("N", "3"))
            except ValueError:
                raise InvalidParameterValueError("N must be an integer", locator="N") from None
            if not 0 <= count <= 10_000:
                raise InvalidParameterValueError("N must be between 0 and 10000", locator="N")
            response.set_header("Content-Type", "text/plain; charset=utf-8")
            for line in range(count):
                response.write(f"line {line}\n")
                response.flush()
            response.write("end\n")
        else:
            raise OperationNotSupportedError(
                f"{request!r} is not an ECHO request", locator="REQUEST"
            )


def echo_route(ctx: RequestContext) -> None:
    ctx.response.set_header("Content-Type", "application/json")
    ctx.response.write(json.dumps({"word": ctx.request.route["word"]}))


def serverClassFactory(server_iface: ServerInterface) -> None:
    server_iface.register_service(EchoService("1.0.0"))
    server_iface.register_service(EchoService("2.0.0"))
    server_iface.add_route("/echo/{word}", echo_route)
