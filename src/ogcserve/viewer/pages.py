"""The HTML of the landing page and of the viewer page (every value escaped)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from ogcserve.projects.model import Project

_HEAD = '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
_VIEWPORT = '<meta name="viewport" content="width=device-width, initial-scale=1">'


@dataclass(frozen=True)
class ProjectEntry:
    """A project on the landing page and the (label, URL) of its services."""

    project: Project
    services: list[tuple[str, str]]


def landing(entries: list[ProjectEntry], root: str) -> str:
    """The list of projects, each with its services and its viewer."""
    css = f"{root}/viewer/-/static/viewer.css"
    items = "".join(_entry(entry, root) for entry in entries)
    body = f'<ul class="projects">{items}</ul>' if items else "<p>No project is served to you.</p>"
    return (
        f"{_HEAD}{_VIEWPORT}<title>ogcserve</title>"
        f'<link rel="stylesheet" href="{escape(css)}"></head>'
        f'<body class="landing"><h1>ogcserve</h1>{body}</body></html>\n'
    )


def _entry(entry: ProjectEntry, root: str) -> str:
    project = entry.project
    viewer = f"{root}/viewer/{quote(project.name)}"
    links = " ".join(
        f'<a class="service" href="{escape(url)}">{escape(label)}</a>'
        for label, url in entry.services
    )
    abstract = f"<p>{escape(project.abstract)}</p>" if project.abstract else ""
    return (
        f'<li data-project="{escape(project.name)}"><h2>{escape(project.title)}</h2>{abstract}'
        f'<p><a class="viewer" href="{escape(viewer)}">Open the map</a> {links}</p></li>'
    )


def viewer(config: dict[str, Any], root: str) -> str:
    """The map page: the configuration as JSON in the page, the application as modules."""
    static = f"{root}/viewer/-/static"
    data = json.dumps(config, separators=(",", ":"))
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return (
        f"{_HEAD}{_VIEWPORT}<title>{escape(str(config['title']))}</title>"
        '<link rel="icon" href="data:,">'
        f'<link rel="stylesheet" href="{escape(static)}/viewer.css">'
        f'<link rel="modulepreload" href="{escape(static)}/map.js">'
        f'</head><body class="viewer">'
        f'<header><button id="menu" aria-label="Layers and search">&#9776;</button>'
        f"<h1>{escape(str(config['title']))}</h1></header>"
        '<aside id="panel"><section id="tree"></section><section id="searches"></section></aside>'
        '<main id="map" tabindex="0" aria-label="Map"></main>'
        '<aside id="results" hidden></aside>'
        f'<script type="application/json" id="config">{data}</script>'
        f'<script type="module" src="{escape(static)}/main.js"></script>'
        "</body></html>\n"
    )
