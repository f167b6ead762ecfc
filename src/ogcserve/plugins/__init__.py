"""The plugin API: everything a plugin author implements or calls.

| kind             | base class            | registered with                               |
|------------------|-----------------------|-----------------------------------------------|
| request filter   | `RequestFilter`       | `server_iface.register_filter(f, priority)`   |
| access control   | `AccessControlFilter` | `server_iface.register_access_control(f, p)`  |
| cache            | `CacheFilter`         | `server_iface.register_cache(f, priority)`    |
| service          | `Service`             | `server_iface.register_service(s)`            |
| route            | a function of `ctx`   | `server_iface.add_route("/x/{y}", handler)`   |
"""

from ogcserve.context import RequestContext
from ogcserve.plugins.access import AccessControlFilter, LayerPermissions
from ogcserve.plugins.cache import CachedResponse, CacheFilter, CacheKind
from ogcserve.plugins.filters import Hook, RequestFilter
from ogcserve.plugins.interface import ServerInterface
from ogcserve.plugins.services import Route, Service

__all__ = [
    "AccessControlFilter",
    "CacheFilter",
    "CacheKind",
    "CachedResponse",
    "Hook",
    "LayerPermissions",
    "RequestContext",
    "RequestFilter",
    "Route",
    "ServerInterface",
    "Service",
]
