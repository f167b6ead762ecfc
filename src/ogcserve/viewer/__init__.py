"""The built-in web pages: `/`, a landing page listing the projects the caller may see, and
`/viewer/<project>`, a map viewer with a layer tree, identify, search panels and result
formatters (`ogcserve.projects.viewer`).

The pages are routes registered through the plugin API, as OGC API's are, and every piece of
data they hold or fetch (layer tree, extents, formatters, searches, then GetMap,
GetFeatureInfo, GetLegendGraphic and OGC API items) goes through `ctx.server.access`: the
browser only ever receives what the caller may read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import routes

if TYPE_CHECKING:
    from ogcserve.plugins.interface import ServerInterface


def setup(server: ServerInterface) -> None:
    """Register the landing page, the viewer page, its static files and project modules."""
    server.add_route("/", routes.landing)
    server.add_route("/viewer/-/static/{name}", routes.static)
    server.add_route("/viewer/{project}", routes.viewer)
    server.add_route("/viewer/{project}/modules/{index}", routes.module)
