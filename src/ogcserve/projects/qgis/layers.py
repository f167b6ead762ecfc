"""One `<maplayer>` of a QGIS project as a data `Layer`, or the reason it is refused.

A layer is refused, never served otherwise than its author published it, when its source is
not one we read or does not open, or when its provider subset (its row filter) cannot be
translated: QGIS Server would serve the filtered rows, so serving it unfiltered would publish
rows the author kept out. What is approximated or ignored is reported as a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from lxml import etree
from pygeofilter import ast

from ogcserve.errors import FilterError
from ogcserve.expressions import Expression, check_properties, from_ast, parse
from ogcserve.features import Schema
from ogcserve.projects.config import LinkConfig, TilesConfig, WCSConfig, WFSConfig
from ogcserve.projects.model import Layer, freeze
from ogcserve.projects.qgis.publishing import Publishing
from ogcserve.projects.qgis.sources import LayerSource, UnsupportedSourceError, layer_source
from ogcserve.projects.qgis.symbology import layer_style
from ogcserve.rendering.styles import validate_style
from ogcserve.sources.specs import GeoPackageSpec, OGRSpec, RasterSpec

log = logging.getLogger("ogcserve.projects")

OpenSource = Callable[[Any, Path, str | None], object]

_GEOMETRY = {"Point": "point", "Line": "line", "Polygon": "polygon"}
_DEFAULT_WFS_PRECISION = 6  # QGIS Server's when the project sets none for a layer


class LayerRefusedError(Exception):
    """The layer is not served; the message says why."""


@dataclass(slots=True)
class LayerContext:
    """What every layer of one project is built with."""

    base_dir: Path
    publishing: Publishing
    opener: OpenSource | None
    # What each source opened to (or the error it raised): the same table is often in a
    # project several times, with other styles or subsets, and is opened once.
    opened: dict[object, object] = field(default_factory=dict)


def data_layer(
    maplayer: etree._Element, name: str, ctx: LayerContext, warnings: list[str]
) -> Layer:
    """The `Layer` QGIS Server would publish as `name`; `LayerRefusedError` if it must not be
    served.

    What is approximated or left out is appended to `warnings`.
    """
    kind = maplayer.get("type", "")
    if kind not in ("vector", "raster"):
        raise LayerRefusedError(
            f"a {kind or 'untyped'} layer is not supported (vector and raster are)"
        )
    provider = _text(maplayer, "provider")
    try:
        source = layer_source(provider, _text(maplayer, "datasource"), ctx.base_dir)
    except UnsupportedSourceError as exc:
        raise LayerRefusedError(str(exc)) from None
    schema = _open(source, ctx)
    layer_id = _text(maplayer, "id")
    publishing = ctx.publishing
    is_raster = isinstance(source.spec, RasterSpec)
    row_filter = None if is_raster else _row_filter(source, schema)
    hidden = {} if is_raster else _hidden_fields(maplayer, schema, warnings)
    geometry = None if is_raster else _GEOMETRY.get(maplayer.get("geometry", ""))
    scales = _scales(maplayer, warnings)
    return Layer(
        name=name,
        title=_text(maplayer, "title") or _text(maplayer, "layername") or name,
        abstract=_text(maplayer, "abstract"),
        keywords=tuple(v.text.strip() for v in maplayer.iterfind("keywordList/value") if v.text),
        source=source.spec,
        filter=None if row_filter is None else row_filter.text,
        fields_exclude=_synthetic_fid(source, schema),
        fields_hidden=MappingProxyType(hidden),
        aliases=MappingProxyType({} if is_raster else _aliases(maplayer)),
        **_links(maplayer),
        style=freeze(_style(maplayer, geometry, schema, is_raster, warnings)),
        queryable=_text(maplayer, "flags/Identifiable") != "0",
        min_scale=scales[0],
        max_scale=scales[1],
        wfs=_wfs(layer_id, source, publishing, warnings),
        wcs=WCSConfig(publish=is_raster and layer_id in publishing.wcs_layers),
        tiles=TilesConfig(),
    )


def _wfs(
    layer_id: str, source: LayerSource, publishing: Publishing, warnings: list[str]
) -> WFSConfig:
    """WFS publication and edits: edits only on a published layer (as in QGIS Server)."""
    published = not isinstance(source.spec, RasterSpec) and layer_id in publishing.wfs_layers
    edits = [
        layer_id in ids and published
        for ids in (publishing.wfs_insert, publishing.wfs_update, publishing.wfs_delete)
    ]
    if any(edits) and isinstance(source.spec, OGRSpec):
        warnings.append(
            "WFS-T edits are refused: Shapefile, GeoJSON and FlatGeobuf files are served read-only"
        )
        edits = [False, False, False]
    return WFSConfig(
        publish=published,
        insert=edits[0],
        update=edits[1],
        delete=edits[2],
        precision=publishing.wfs_precision.get(layer_id, _DEFAULT_WFS_PRECISION),
    )


def metadata_warnings(maplayer: etree._Element) -> list[str]:
    """What the layer's metadata holds that the capabilities do not publish."""
    legend = maplayer.find("legendUrl")
    if legend is not None and (legend.text or "").strip():
        return ["the layer's legend URL is ignored (the legend is drawn)"]
    return []


def _links(maplayer: etree._Element) -> dict[str, Any]:
    """The layer's data URL, attribution and metadata URLs (the "QGIS Server" tab of its
    properties)."""
    found: dict[str, Any] = {"data_url": None, "attribution": None}
    data_url = maplayer.find("dataUrl")
    if data_url is not None and (data_url.text or "").strip():
        url = (data_url.text or "").strip()
        found["data_url"] = LinkConfig(url=url, format=data_url.get("format", ""))
    attribution = maplayer.find("attribution")
    if attribution is not None:
        title, url = (attribution.text or "").strip(), attribution.get("href", "").strip()
        found["attribution"] = LinkConfig(url=url, title=title) if title or url else None
    found["metadata_urls"] = tuple(
        LinkConfig(
            url=(element.text or "").strip(),
            type=element.get("type", ""),
            format=element.get("format", ""),
        )
        for element in maplayer.iterfind("metadataUrls/metadataUrl")
        if (element.text or "").strip()
    )
    return found


def _text(element: etree._Element, path: str) -> str:
    found = element.find(path)
    return "" if found is None else (found.text or "").strip()


def _open(source: LayerSource, ctx: LayerContext) -> Schema | None:
    """Open the source as the server will (when an opener is given); `LayerRefusedError` if
    it fails."""
    spec = source.spec
    if isinstance(spec, GeoPackageSpec | OGRSpec | RasterSpec):
        target = ctx.base_dir / spec.path
        if not target.exists():
            raise LayerRefusedError(f"the data source is missing: file not found: {target}")
    if ctx.opener is None:
        return None
    if spec not in ctx.opened:
        try:
            ctx.opened[spec] = ctx.opener(spec, ctx.base_dir, None)
        except Exception as exc:  # any failure of a source refuses the layer, not the project
            ctx.opened[spec] = LayerRefusedError(
                f"the source does not open: {exc or type(exc).__name__}"
            )
    opened = ctx.opened[spec]
    if isinstance(opened, LayerRefusedError):
        raise LayerRefusedError(str(opened))
    return opened if isinstance(opened, Schema) else None


def _row_filter(source: LayerSource, schema: Schema | None) -> Expression | None:
    """The provider's subset string as our filter; `LayerRefusedError` when it cannot be
    translated."""
    if not source.subset:
        return None
    try:
        expression = parse(source.subset, "qgis")
        if isinstance(source.spec, GeoPackageSpec):
            # A GeoPackage's subset is SQLite's, whose LIKE ignores (ASCII) case; OGR SQL's
            # (Shapefile, GeoJSON, FlatGeobuf) does not, since GDAL 3.1.
            expression = from_ast(_like_without_case(expression.ast))
        if schema is not None:
            known = [*schema.field_names(), *([schema.geometry_field or ""])]
            check_properties(expression, known)
    except FilterError as exc:
        raise LayerRefusedError(
            f"the subset string {source.subset!r} cannot be translated ({exc}); "
            "the layer is refused rather than served unfiltered"
        ) from None
    return expression


def _like_without_case(node: Any) -> Any:
    if isinstance(node, ast.Like):
        return ast.Like(
            node.lhs, node.pattern, True, node.wildcard, node.singlechar, node.escapechar, node.not_
        )
    if isinstance(node, ast.And | ast.Or):
        return type(node)(_like_without_case(node.lhs), _like_without_case(node.rhs))
    if isinstance(node, ast.Not):
        return ast.Not(_like_without_case(node.sub_node))
    return node


def _synthetic_fid(source: LayerSource, schema: Schema | None) -> tuple[str, ...]:
    """The FID our OGR source publishes as the key of a Shapefile, GeoJSON or FlatGeobuf file
    (none of which has a FID column), which QGIS Server does not publish: hidden, it stays the
    features' ids."""
    if not isinstance(source.spec, OGRSpec) or schema is None:
        return ()
    return (schema.key,)


def _hidden_fields(
    maplayer: etree._Element, schema: Schema | None, warnings: list[str]
) -> dict[str, tuple[str, ...]]:
    """Fields hidden from WMS and from WFS (QGIS's field flags, or the lists QGIS before 3.16
    wrote)."""
    hidden: dict[str, set[str]] = {"WMS": set(), "WFS": set()}
    for field_element in maplayer.iterfind("fieldConfiguration/field"):
        flags = field_element.get("configurationFlags", "")
        for service in hidden:
            if f"HideFrom{service.capitalize()}" in flags:
                hidden[service].add(field_element.get("name", ""))
    for service in hidden:
        for attribute in maplayer.iterfind(f"excludeAttributes{service}/attribute"):
            hidden[service].add((attribute.text or "").strip())
    if schema is not None:
        known = set(schema.field_names())
        unknown = sorted(n for n in hidden["WMS"] | hidden["WFS"] if n and n not in known)
        if unknown:
            warnings.append(f"excluded fields the source does not have: {', '.join(unknown)}")
    return {service: tuple(sorted(names - {""})) for service, names in hidden.items() if names}


def _aliases(maplayer: etree._Element) -> dict[str, str]:
    """Field aliases, by field name."""
    return {
        str(alias.get("field")): str(alias.get("name"))
        for alias in maplayer.iterfind("aliases/alias")
        if alias.get("field") and alias.get("name")
    }


def _style(
    maplayer: etree._Element,
    geometry: str | None,
    schema: Schema | None,
    is_raster: bool,
    warnings: list[str],
) -> dict[str, Any]:
    """The style the symbology reader makes of the layer; the default style if it is invalid."""
    try:
        style, found = layer_style(maplayer, geometry=geometry)
    except Exception as exc:  # a symbology the reader trips on must not take the project down
        log.exception("reading the symbology of a layer failed")
        warnings.append(f"the symbology could not be read ({exc}); the default style is drawn")
        return {}
    warnings.extend(found)
    kind = "RASTER" if is_raster else (schema.geometry_type if schema is not None else None)
    try:
        validate_style(style, kind)
    except ValueError as exc:
        warnings.append(f"the symbology could not be used ({exc}); the default style is drawn")
        return {}
    return style


def _scales(maplayer: etree._Element, warnings: list[str]) -> tuple[float | None, float | None]:
    """min_scale/max_scale from QGIS's scale-based visibility (QGIS's "maximum" scale is the
    smallest denominator: our min_scale, WMS's MinScaleDenominator)."""
    if maplayer.get("hasScaleBasedVisibilityFlag") != "1":
        return None, None
    try:
        low = float(maplayer.get("maxScale", "0"))
        high = float(maplayer.get("minScale", "0"))
    except ValueError:
        warnings.append("the scale range is not numeric; the layer is drawn at every scale")
        return None, None
    if low > 0 and high > 0 and low >= high:
        warnings.append("the scale range is empty; the layer is drawn at every scale")
        return None, None
    return (low if low > 0 else None), (high if high > 0 else None)
