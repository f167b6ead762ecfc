"""OGC API - Features Part 4 (Create, Replace, Update, Delete) on the items of one collection,
as functions the router calls once it has resolved the collection to a layer.

The rights are WFS-T's, through the same access layer: the layer's `wfs` edit flags and the
access-control plugins give the permissions, and the `Editor` of `ctx.server.access.edit` judges
every feature (row rules and `allow_to_edit`, before and after an update), refuses attributes
the caller may not see (as unknown ones: a hidden attribute is never revealed) and reports
constraints. Each write is one source transaction: a failure writes nothing.

A collection the caller may not read is 404, as if it did not exist; one they may read without
the permission to make this change is 403.

Optimistic locking (`If-Match`, RFC 9110 §13.1.1, over `etag.item_etag` of the caller's view):
the item is read and its tag compared inside the edit transaction, before the write, so a stale
tag is answered 412 before anything else is judged; and compared again after the write, still
inside the transaction, which is what makes check and write atomic. In a GeoPackage the
transaction holds the file's write lock from its start, so no other writer can land in between.
In PostgreSQL the write takes the row's lock and waits for any other writer of that row to
commit; the committed row read afterwards (on another connection) is then the very version this
write replaced, and no one can change it before this transaction ends. A tag that does not
match it rolls the write back: of two writers holding the same tag, the second gets 412.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ogcserve.errors import (
    InvalidParameterValueError,
    NotFoundError,
    PreconditionFailedError,
    SecurityError,
)
from ogcserve.features import Feature, Schema

from .etag import item_etag
from .geojson_in import (
    check_content_type,
    check_geometry_type,
    check_values,
    merge_patch,
    read_crs,
    read_feature,
    read_geometry,
    read_object,
    write_geometry,
)

if TYPE_CHECKING:
    from ogcserve.access import Editor
    from ogcserve.context import RequestContext
    from ogcserve.projects.model import Layer

__all__ = [
    "check_content_type",
    "create_item",
    "current_etag",
    "delete_item",
    "replace_item",
    "update_item",
]


def create_item(ctx: RequestContext, layer: Layer, body: bytes, content_crs: str | None) -> Any:
    """Insert the GeoJSON feature of a POST; return its id (typed as the source types it).

    The body's `id` member is ignored: the source gives the id. The key given among the
    `properties`, where the caller may see it, becomes the id, as in a WFS-T Insert.
    """
    _require(ctx, layer, "can_insert")
    document = read_feature(body)
    schema = ctx.server.access.schema(ctx, layer)
    properties = _checked(document.properties, schema)
    geometry = _geometry(ctx, layer, schema, document.geometry, content_crs, required=False)
    with ctx.server.access.edit(ctx, layer) as editor:
        ids = editor.insert([Feature(None, geometry, properties)])
    return ids[0]


def replace_item(
    ctx: RequestContext,
    layer: Layer,
    item_id: str,
    body: bytes,
    if_match: str | None,
    content_crs: str | None,
) -> str:
    """Replace an item by the GeoJSON feature of a PUT (attributes it leaves out become null);
    return the item's new ETag."""
    _require(ctx, layer, "can_update")
    document = read_feature(body)
    if document.id is not None and not _same_id(document.id, item_id):
        raise InvalidParameterValueError(f"The id of item {item_id!r} cannot change", locator="id")
    schema = ctx.server.access.schema(ctx, layer)
    given = _checked(document.properties, schema)
    # The key keeps its value unless given (the Editor refuses a different one).
    properties = {name: given.get(name) for name in schema.field_names() if name != schema.key}
    if schema.key in given:
        properties[schema.key] = given[schema.key]
    geometry = _geometry(ctx, layer, schema, document.geometry, content_crs, required=True)
    with ctx.server.access.edit(ctx, layer) as editor:
        fid = _current(ctx, layer, item_id, if_match).id
        editor.update(fid, properties, geometry)
        _require_match(ctx, layer, fid, if_match)
        return _new_etag(editor, fid)


def update_item(
    ctx: RequestContext,
    layer: Layer,
    item_id: str,
    body: bytes,
    if_match: str | None,
    content_crs: str | None,
) -> str:
    """Apply a PATCH, a JSON merge patch (RFC 7396) of the item's GeoJSON feature; return the
    item's new ETag. Only the attributes the patch names are written."""
    _require(ctx, layer, "can_update")
    patch = read_object(body)
    schema = ctx.server.access.schema(ctx, layer)
    changes = _patched_names(patch, item_id, schema)
    with ctx.server.access.edit(ctx, layer) as editor:
        before = _current(ctx, layer, item_id, if_match)
        properties = {n: merge_patch(before.properties.get(n), v) for n, v in changes.items()}
        check_values(properties)
        geometry = None
        if "geometry" in patch:
            target = _geometry_document(ctx, layer, before, content_crs)
            merged = merge_patch(target, patch["geometry"])
            geometry = _geometry(ctx, layer, schema, merged, content_crs, required=True)
        editor.update(before.id, properties, geometry)
        _require_match(ctx, layer, before.id, if_match)
        return _new_etag(editor, before.id)


def delete_item(ctx: RequestContext, layer: Layer, item_id: str, if_match: str | None) -> None:
    """Delete an item."""
    _require(ctx, layer, "can_delete")
    with ctx.server.access.edit(ctx, layer) as editor:
        fid = _current(ctx, layer, item_id, if_match).id
        editor.delete([fid])
        _require_match(ctx, layer, fid, if_match)


def current_etag(ctx: RequestContext, layer: Layer, item_id: str) -> str:
    """The ETag of an item as the caller sees it (404 when they cannot see it)."""
    _require(ctx, layer, "can_read")
    return item_etag(_current(ctx, layer, item_id, None))


# --- checks -------------------------------------------------------------------------------------


def _require(ctx: RequestContext, layer: Layer, permission: str) -> None:
    """404 for a collection the caller may not read, 403 without `permission` on it. (The
    Editor checks again: this only gives the answer its status before the body is read.)"""
    permissions = ctx.server.access.permissions(ctx, layer)
    if not permissions.can_read:
        raise NotFoundError(f"Collection {layer.name!r} was not found", locator="collectionId")
    if not getattr(permissions, permission):
        what = permission.removeprefix("can_")
        raise SecurityError(f"You may not {what} items of {layer.name!r}", locator=layer.name)


def _current(ctx: RequestContext, layer: Layer, item_id: str, if_match: str | None) -> Feature:
    """The item as the caller sees it, its `If-Match` checked: 404 if they cannot see it (an id
    is one spelling: `03` is not item `3`)."""
    feature = ctx.server.access.get(ctx, layer, item_id)
    if feature is None or str(feature.id) != item_id:
        raise NotFoundError(f"Feature {item_id!r} was not found", locator="featureId")
    _check_tag(feature, if_match)
    return feature


def _require_match(ctx: RequestContext, layer: Layer, fid: Any, if_match: str | None) -> None:
    """After the write, inside its transaction: the committed version it replaced must still be
    the one `If-Match` names (see the module docstring)."""
    if if_match is not None and if_match.strip():
        _check_tag(ctx.server.access.get(ctx, layer, fid), if_match)


def _check_tag(feature: Feature | None, if_match: str | None) -> None:
    """412 unless `If-Match` is absent, `*`, or lists the feature's current strong tag."""
    if if_match is None or not if_match.strip():
        return
    tags = {tag.strip() for tag in if_match.split(",")}
    if feature is not None and ("*" in tags or item_etag(feature) in tags):
        return
    raise PreconditionFailedError(
        "The item has changed since it was read: If-Match does not name its current version",
        locator="If-Match",
    )


def _checked(properties: Mapping[str, Any], schema: Schema) -> dict[str, Any]:
    """The body's attributes, each one the caller may see (others are unknown, hidden or not)
    with a value a column can hold."""
    for name in properties:
        _known(name, schema)
    check_values(properties)
    return dict(properties)


def _known(name: str, schema: Schema) -> None:
    if name not in schema.field_names():
        raise InvalidParameterValueError(f"Unknown property {name!r}", locator=name)


def _patched_names(patch: dict[str, Any], item_id: str, schema: Schema) -> dict[str, Any]:
    """The attributes a merge patch changes, as patches of their values: every one but the key
    when it removes `properties`. A patch may not change the type or the id."""
    if patch.get("type", "Feature") != "Feature":
        raise InvalidParameterValueError("An item stays a GeoJSON Feature", locator="type")
    if "id" in patch and (patch["id"] is None or not _same_id(patch["id"], item_id)):
        raise InvalidParameterValueError(f"The id of item {item_id!r} cannot change", locator="id")
    changes = patch.get("properties", {})
    if changes is None:
        return {name: None for name in schema.field_names() if name != schema.key}
    if not isinstance(changes, dict):
        raise InvalidParameterValueError(
            "The properties must be a JSON object or null", locator="properties"
        )
    # Names only: the values are checked once merged into the item's.
    for name in changes:
        _known(name, schema)
    return changes


def _same_id(value: Any, item_id: str) -> bool:
    return not isinstance(value, bool) and isinstance(value, str | int) and str(value) == item_id


# --- geometry -----------------------------------------------------------------------------------


def _geometry(
    ctx: RequestContext,
    layer: Layer,
    schema: Schema,
    value: Mapping[str, Any] | None,
    crs_text: str | None,
    *,
    required: bool,
) -> Any:
    """The body's geometry in the layer's CRS, of the layer's type. Null is no geometry on an
    insert, and refused on a replace or patch: the Editor can change a geometry, not remove it."""
    if value is None:
        if required and schema.geometry_field is not None:
            raise InvalidParameterValueError(
                f"The geometry of an item of {layer.name!r} cannot be removed", locator="geometry"
            )
        return None
    if schema.geometry_field is None:
        raise InvalidParameterValueError(
            f"The items of {layer.name!r} have no geometry", locator="geometry"
        )
    native = ctx.server.access.crs(ctx, layer)
    geometry = read_geometry(value, read_crs(crs_text), native)
    check_geometry_type(geometry, schema.geometry_type, layer.name)
    return geometry


def _geometry_document(
    ctx: RequestContext, layer: Layer, feature: Feature, crs_text: str | None
) -> dict[str, Any]:
    """The item's geometry as a GeoJSON object in the body's CRS (a patch merges into it)."""
    if feature.geometry is None:
        return {}
    native = ctx.server.access.crs(ctx, layer)
    return write_geometry(feature.geometry, read_crs(crs_text), native)


def _new_etag(editor: Editor, fid: Any) -> str:
    """The item's tag as this write leaves it, read inside its transaction (no other writer
    can have changed it since)."""
    feature = editor.written(fid)
    if feature is None:  # the source lost the row it just wrote
        raise NotFoundError(f"Feature {str(fid)!r} was not found", locator="featureId")
    return item_etag(feature)
