"""What the plugins loaded and registered: `/-/plugins` and `ogcserve plugins`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ogcserve.server import Server


def plugin_report(server: Server) -> dict[str, Any]:
    """Loaded and failed plugins with what each registered (for /-/plugins and the CLI)."""

    def owned(owner: str) -> dict[str, Any]:
        return {
            "filters": [
                {
                    "class": type(e.item).__name__,
                    "priority": e.priority,
                    "hooks": server.filters.hooks_of(e.item),
                }
                for e in server.filters
                if e.owner == owner
            ],
            "access_controls": [
                {"class": type(e.item).__name__, "priority": e.priority}
                for e in server.access_controls
                if e.owner == owner
            ],
            "caches": [
                {"class": type(e.item).__name__, "priority": e.priority}
                for e in server.caches
                if e.owner == owner
            ],
            "services": [
                f"{name} {version}"
                for name in server.services.names()
                for version in server.services.versions(name)
                if server.services.owner(server.services.get(name, version))  # type: ignore[arg-type]
                == owner
            ],
            "routes": [r.path for r, o in server.services.routes() if o == owner],
        }

    return {
        "plugins": [
            {
                "name": r.name,
                "origin": r.origin,
                "location": r.location,
                "status": r.status,
                "error": r.error,
                "warnings": r.warnings,
                "metadata": r.metadata,
                **(owned(r.name) if r.status == "loaded" else {}),
            }
            for r in server.plugins
        ],
        "core": owned("ogcserve"),
    }


def dumps(report: dict[str, Any]) -> str:
    """The plugin report as indented JSON."""
    return json.dumps(report, indent=2)
