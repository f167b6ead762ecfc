"""The HTML encoding (Part 1 §7.3 conf/html): small readable pages, no script, with the links
of the JSON documents and, for features, an inline SVG map of their geometries."""

from __future__ import annotations

from html import escape as escape
from typing import Any
from urllib.parse import quote

import shapely

_STYLE = (
    "body{font-family:sans-serif;margin:1.5em;max-width:70em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .5em;"
    "text-align:left;vertical-align:top}th{background:#f3f3f3}"
    "svg{border:1px solid #ccc;background:#f8fbff;width:100%;max-width:40em;height:auto}"
    "nav a{margin-right:1em}"
)


def _text(value: Any) -> str:
    return escape("" if value is None else str(value))


def _html_href(href: str) -> str:
    """The HTML alternate of a JSON link of ours (an `f=json` becomes `f=html`)."""
    for fmt in ("f=json", "f=geojson"):
        if fmt in href:
            return href.replace(fmt, "f=html")
    return href


def page(title: str, body: str, crumbs: list[tuple[str, str]]) -> str:
    """A whole page: a breadcrumb trail of (label, href), a heading, the body."""
    trail = " / ".join(f'<a href="{escape(h)}">{escape(label)}</a>' for label, h in crumbs)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<nav>{trail}</nav><h1>{escape(title)}</h1>{body}</body></html>\n"
    )


def links(items: list[dict[str, Any]]) -> str:
    """A list of links, HTML ones first-class (JSON ones offered as downloads)."""
    rows = []
    for item in items:
        label = item.get("title") or item.get("rel", "")
        href = item["href"]
        rows.append(
            f'<li><a href="{escape(href)}">{_text(label)}</a> '
            f"<small>({_text(item.get('rel'))}, {_text(item.get('type'))})</small></li>"
        )
    return f"<h2>Links</h2><ul>{''.join(rows)}</ul>"


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A table of already-escaped cells."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def anchor(href: str, label: Any) -> str:
    """An escaped link to the HTML form of `href`."""
    return f'<a href="{escape(_html_href(href))}">{_text(label)}</a>'


def paragraph(text: Any) -> str:
    """An escaped paragraph (nothing for an empty text)."""
    return f"<p>{_text(text)}</p>" if text else ""


def collections_table(collections: list[dict[str, Any]]) -> str:
    """One row per collection: its page, its items, its description."""
    rows = []
    for c in collections:
        own = next((x["href"] for x in c["links"] if x["rel"] == "self"), "")
        items = next((x["href"] for x in c["links"] if x["rel"] == "items"), "")
        rows.append(
            [
                anchor(own, c.get("title") or c["id"]),
                anchor(items, "items"),
                _text(c.get("description", "")),
            ]
        )
    return table(["Collection", "Items", "Description"], rows)


def properties_table(schema: dict[str, Any]) -> str:
    """The properties of a JSON Schema (queryables, sortables, schema)."""
    rows = [
        [_text(name), _text(p.get("type", "")), _text(p.get("format", ""))]
        for name, p in schema.get("properties", {}).items()
    ]
    return table(["Property", "Type", "Format"], rows)


def features_table(features: list[dict[str, Any]], item_href: str) -> str:
    """One row per feature (id linking to its page, then its properties)."""
    names: list[str] = []
    for feature in features:
        names.extend(n for n in feature.get("properties", {}) if n not in names)
    rows = [
        [anchor(f"{item_href}/{quote(str(f['id']), safe='')}?f=html", f["id"])]
        + [_text(f["properties"].get(n)) for n in names]
        for f in features
    ]
    return table(["id", *names], rows)


def svg_map(geometries: list[Any], width: int = 600) -> str:
    """The geometries (x/y, any CRS) drawn into an SVG sized to their bounds, north up."""
    shapes = [g for g in geometries if g is not None and not g.is_empty]
    if not shapes:
        return ""
    minx, miny, maxx, maxy = shapely.total_bounds(shapes)
    span = max(maxx - minx, maxy - miny) or 1.0
    pad = span * 0.05
    minx, miny, maxx, maxy = minx - pad, miny - pad, maxx + pad, maxy + pad
    w, h = maxx - minx, maxy - miny
    scale = max(w, h) / width
    drawn = "".join(g.svg(scale_factor=scale) for g in shapes)
    # SVG's y runs down: the group mirrors the map's northing.
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{minx} {-maxy} {w} {h}" '
        f'width="{width}" height="{round(width * h / w)}" role="img" aria-label="map">'
        f'<g transform="scale(1,-1)">{drawn}</g></svg>'
    )
