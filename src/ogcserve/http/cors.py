"""Cross-origin reads from browsers (CORS): pages on other sites draw our maps into a canvas,
read capabilities and features with fetch(). ASGI middleware around the whole application.

A request with `Origin` from an allowed origin gets `Access-Control-Allow-Origin`: `*` when any
origin is allowed, else the origin itself with `Vary: Origin`. A preflight (OPTIONS with
`Access-Control-Request-Method`) is answered here, 204, with the allowed methods and headers.
Credentials are allowed only with explicit origins (Settings refuses them with `*`). A response
that already has `Access-Control-Allow-Origin` (a plugin's) is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ogcserve.settings import Settings


@dataclass(frozen=True)
class CorsPolicy:
    """Who may read what, from the settings."""

    origins: frozenset[str]  # empty: any origin
    methods: str
    headers: str
    max_age: int
    credentials: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> CorsPolicy | None:
        """The policy, or None when CORS is off (no origins)."""
        if not settings.cors_origins:
            return None
        explicit = frozenset(o for o in settings.cors_origins if o != "*")
        return cls(
            explicit,
            ", ".join(m.upper() for m in settings.cors_methods),
            ", ".join(settings.cors_headers),
            settings.cors_max_age,
            settings.cors_allow_credentials and bool(explicit),
        )

    def allow_origin(self, origin: str) -> str | None:
        """The Access-Control-Allow-Origin value for `origin`, None if it is not allowed."""
        if not self.origins:
            return "*"
        return origin if origin in self.origins else None


class CorsMiddleware:
    """Adds CORS headers to answers and answers preflights."""

    def __init__(self, app: ASGIApp, policy: CorsPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])  # ASGI header names are lower-case
        origin = headers.get(b"origin", b"").decode("latin-1")
        if not origin and not self.policy.origins:
            await self.app(scope, receive, send)  # nothing to add: the common case
            return
        allowed = self.policy.allow_origin(origin) if origin else None
        if scope["method"] == "OPTIONS" and origin and b"access-control-request-method" in headers:
            await self._preflight(send, allowed)
            return
        extra = self._headers(allowed)

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _merged(list(message.get("headers", [])), extra)
            await send(message)

        await self.app(scope, receive, send_with_cors)

    def _headers(self, allowed: str | None) -> list[tuple[bytes, bytes]]:
        extra: list[tuple[bytes, bytes]] = []
        if allowed is not None:
            extra.append((b"access-control-allow-origin", allowed.encode("latin-1")))
            if self.policy.credentials:
                extra.append((b"access-control-allow-credentials", b"true"))
        if self.policy.origins:  # the answer depends on the Origin header
            extra.append((b"vary", b"Origin"))
        return extra

    async def _preflight(self, send: Send, allowed: str | None) -> None:
        headers = self._headers(allowed)
        if allowed is not None:
            headers += [
                (b"access-control-allow-methods", self.policy.methods.encode("latin-1")),
                (b"access-control-allow-headers", self.policy.headers.encode("latin-1")),
                (b"access-control-max-age", str(self.policy.max_age).encode()),
            ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


def _merged(
    headers: list[tuple[bytes, bytes]], extra: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    names = {k.lower() for k, _ in headers}
    if b"access-control-allow-origin" in names:
        return headers  # a plugin answered CORS itself
    for name, value in extra:
        if name != b"vary" or name not in names:
            headers.append((name, value))
        else:  # add Origin to the Vary the answer has
            headers = [
                (k, v + b", Origin" if k.lower() == b"vary" and b"origin" not in v.lower() else v)
                for k, v in headers
            ]
    return headers
