"""OGC API - Features (Parts 1-4) at `/ogcapi/<project>`, registered as routes the way a plugin
registers them, reading and writing through the access layer (`ctx.server.access`)."""

from .router import setup

__all__ = ["setup"]
