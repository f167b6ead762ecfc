"""`explain`: for one request, which access-control filter decided what on each layer.

The request is taken as far as the pipeline takes it before a service runs (request-ready
filters, project, project-ready filters), then the access layer's own combination
(`rules.RequestAccess`) is asked about each layer the request names, with a trace that notes
every filter's answer. The combined results and the cache fingerprint are the ones a real
request gets; the trace only says whose answers they came from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ogcserve.access.rules import Decision
from ogcserve.context import RequestContext, current_context
from ogcserve.deadline import Deadline
from ogcserve.errors import ServiceError
from ogcserve.http.request import ServerRequest
from ogcserve.http.response import BufferSink, ServerResponse
from ogcserve.plugins.filters import Hook
from ogcserve.sources.limits import SourceDownError

if TYPE_CHECKING:
    from ogcserve.projects.model import Layer, Project
    from ogcserve.server import Server

# The parameters that name layers, in WMS, WFS and WCS (and OGC API's {collection}).
_LAYER_PARAMETERS = ("LAYERS", "QUERY_LAYERS", "LAYER", "TYPENAMES", "TYPENAME", "COVERAGEID")
_PERMISSIONS = ("read", "insert", "update", "delete")


def explain(
    server: Server, project: str | None, query: str, headers: Iterable[tuple[str, str]] = ()
) -> dict[str, Any]:
    """The access decisions for `query` (a KVP query string) on `project` (None: as the
    request says, MAP or the default), asked with `headers`."""
    route = {"endpoint": "ows", **({"project": project} if project else {})}
    path = "/ows" + (f"/{quote(project)}" if project else "")
    request = ServerRequest.build(
        "GET", f"http://localhost{path}?{query}", headers=list(headers), route=route
    )
    trace: list[Decision] = []
    ctx = RequestContext(
        server,
        request,
        ServerResponse(BufferSink()),
        deadline=Deadline(server.settings.request_timeout),
    )
    ctx._access = server.access_controls.for_request(trace)
    token = current_context.set(ctx)
    try:
        server.filters.run(Hook.REQUEST_READY, ctx)
        if not ctx.exception_raised:
            ctx.project = server.projects_for_request(ctx)
            server.filters.run(Hook.PROJECT_READY, ctx)
        if ctx.service_error is not None:
            return {"refused": _error(ctx.service_error)}
        if ctx.project is None:
            return {"refused": {"code": "NotFound", "message": "No project is served"}}
        return _report(ctx, ctx.project, trace)
    finally:
        current_context.reset(token)


def _report(ctx: RequestContext, project: Project, trace: list[Decision]) -> dict[str, Any]:
    server = ctx.server
    layers = [_layer(ctx, layer, trace) for layer in _named_layers(ctx, project)]
    unknown = sorted(_requested(ctx) - {layer.name for layer in project.walk()})
    fingerprint = server.access.fingerprint(ctx, project)
    keys = [_by(d) | {"key": str(d.answer or "")} for d in trace if d.method == "cache_key"]
    return {
        "project": project.name,
        "request": dict(ctx.request.params),
        "access_controls": [
            {"plugin": e.owner, "filter": type(e.item).__name__, "priority": e.priority}
            for e in server.access_controls
        ],
        "layers": layers,
        "unknown_layers": unknown,
        "cache": {"keys": keys, "fingerprint": fingerprint},
    }


def _layer(ctx: RequestContext, layer: Layer, trace: list[Decision]) -> dict[str, Any]:
    """The combined rights on `layer` (asked first: the trace fills as they are computed),
    then whose answers they came from."""
    access = ctx.access
    perms = access.permissions(layer)
    readable = perms.can_read and not layer.is_group
    expressions = access.expressions(layer) if readable else ()
    subsets = access.subset_strings(layer) if readable else ()
    fields: tuple[str, ...] | None = None
    if readable and not layer.is_raster:
        try:
            fields = ctx.server.access.source_fields(ctx, layer)
        except SourceDownError:
            fields = None
        else:
            access.attributes(layer, fields)
    asked = [d for d in trace if d.layer == layer.name]
    denied: dict[str, list[str]] = {}
    for d in asked:
        if d.method == "layer_permissions":
            for name, allowed in zip(_PERMISSIONS, _flags(d.answer), strict=True):
                if not allowed:
                    denied.setdefault(name, []).append(_who(d))
    report: dict[str, Any] = {
        "layer": layer.name,
        "permissions": dict(zip(_PERMISSIONS, _flags(perms), strict=True)),
        "denied_by": denied,
    }
    if not readable:
        return report
    report["row_filter"] = {
        "expressions": _strings(asked, "layer_filter_expression"),
        "subsets": _strings(asked, "layer_filter_subset_string"),
        "combined": " AND ".join(f"({text})" for text in (*expressions, *subsets)) or None,
    }
    if not layer.is_raster:
        report["attributes"] = (
            _attributes(ctx, layer, fields, asked)
            if fields is not None
            else {"error": "the layer's database cannot be reached now"}
        )
    return report


def _attributes(
    ctx: RequestContext, layer: Layer, names: tuple[str, ...], asked: list[Decision]
) -> dict[str, Any]:
    visible = ctx.access.attributes(layer, names)  # memoised: the combined answer
    hidden_by: dict[str, str] = {}
    current = list(names)
    for d in asked:
        if d.method == "authorized_layer_attributes":
            for name in current:
                if name not in d.answer:
                    hidden_by.setdefault(name, _who(d))
            current = [n for n in current if n in d.answer]
    hidden = [n for n in names if n not in visible]
    return {"visible": list(visible), "hidden": hidden, "hidden_by": hidden_by}


def _named_layers(ctx: RequestContext, project: Project) -> list[Layer]:
    wanted = _requested(ctx)
    every = list(project.walk())
    return [layer for layer in every if layer.name in wanted] if wanted else every


def _requested(ctx: RequestContext) -> set[str]:
    params = ctx.request.params
    names = {n for key in _LAYER_PARAMETERS for n in params.get(key, "").split(",") if n}
    if "collection" in ctx.request.route:
        names.add(ctx.request.route["collection"])
    # WFS type names may come prefixed (ogcserve:roads)
    return {n.strip().rpartition(":")[2] for n in names if n.strip()}


def _strings(asked: list[Decision], method: str) -> list[dict[str, str]]:
    return [
        _by(d) | {"text": str(d.answer).strip()}
        for d in asked
        if d.method == method and d.answer and str(d.answer).strip()
    ]


def _flags(perms: Any) -> tuple[bool, bool, bool, bool]:
    return (perms.can_read, perms.can_insert, perms.can_update, perms.can_delete)


def _by(d: Decision) -> dict[str, str]:
    return {"plugin": d.plugin, "filter": d.filter}


def _who(d: Decision) -> str:
    return f"{d.plugin} ({d.filter})"


def _error(error: ServiceError) -> dict[str, Any]:
    return {"code": error.code, "message": error.message, "status": error.status}


def explain_headers(lines: Iterable[str]) -> list[tuple[str, str]]:
    """`Name: value` lines (the CLI's --header) as header pairs."""
    pairs = []
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise ValueError(f"{line!r} is not a header (Name: value)")
        pairs.append((name.strip(), value.strip()))
    return pairs


def as_text(report: Mapping[str, Any]) -> str:
    """The report for a terminal."""
    if "refused" in report:
        refused = report["refused"]
        return f"refused before any layer was asked: {refused['code']}: {refused['message']}"
    lines = [f"project {report['project']}"]
    for control in report["access_controls"]:
        lines.append(
            f"  access control {control['plugin']} ({control['filter']}) "
            f"priority={control['priority']}"
        )
    for layer in report["layers"]:
        perms = ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in layer["permissions"].items())
        lines.append(f"layer {layer['layer']}: {perms}")
        for what in _PERMISSIONS:
            if what in layer["denied_by"]:
                lines.append(f"    {what} denied by {', '.join(layer['denied_by'][what])}")
        rows = layer.get("row_filter")
        if rows:
            for kind in ("expressions", "subsets"):
                for item in rows[kind]:
                    lines.append(
                        f"    {kind[:-1]} by {item['plugin']} ({item['filter']}): {item['text']}"
                    )
            lines.append(f"    rows: {rows['combined'] or 'all'}")
        attrs = layer.get("attributes")
        if attrs and "error" in attrs:
            lines.append(f"    attributes: {attrs['error']}")
        elif attrs:
            for name in attrs["hidden"]:
                lines.append(f"    hidden {name} (by {attrs['hidden_by'].get(name, '?')})")
    if report["unknown_layers"]:
        lines.append(f"not in the project: {', '.join(report['unknown_layers'])}")
    cache = report["cache"]
    for key in cache["keys"]:
        lines.append(f"cache key of {key['plugin']} ({key['filter']}): {key['key']!r}")
    lines.append(f"cache fingerprint {cache['fingerprint']}")
    return "\n".join(lines)
