"""The WMS service: one `WMSService` per version, each with its operation table and renderer."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ogcserve.errors import ServiceError
from ogcserve.plugins.cache import CacheKind
from ogcserve.rendering import Renderer, encode
from ogcserve.services.ows.service import Operation, OWSService
from ogcserve.services.wms import (
    describe_layer,
    get_capabilities,
    get_feature_info,
    get_legend_graphic,
    get_map,
    get_styles,
)
from ogcserve.services.wms.exceptions import ImageReportedError, error_image
from ogcserve.services.wms.formats import (
    EXCEPTION_FORMATS,
    ExceptionMode,
    exception_mode,
    map_format,
)
from ogcserve.services.wms.params import DEFAULT_MAX_SIZE, VERSIONS, GetMapParams

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.projects.model import Layer

# Operations whose answer is an image: only they can report errors as images (EXCEPTIONS).
_IMAGE_OPERATIONS = ("GETMAP", "MAP", "GETLEGENDGRAPHIC")
# Default size of a legend drawn as an error image when WIDTH/HEIGHT are absent.
_LEGEND_ERROR_SIZE = (200, 40)

# Cacheable answers: they depend only on the request, the project and the caller's rights.
_CACHE_KINDS: Mapping[str, CacheKind] = {
    "GETCAPABILITIES": CacheKind.DOCUMENT,
    "CAPABILITIES": CacheKind.DOCUMENT,
    "DESCRIBELAYER": CacheKind.DOCUMENT,
    "GETSTYLES": CacheKind.DOCUMENT,
    "GETLEGENDGRAPHIC": CacheKind.IMAGE,
}


@dataclass(frozen=True, slots=True)
class ErrorImage:
    """Where an error drawn as an image goes: the requested size, format and background."""

    mode: ExceptionMode
    width: int
    height: int
    format: str
    background: tuple[int, int, int, int]


class WMSService(OWSService):
    """WMS 1.3.0 or 1.1.1: GetCapabilities, GetMap, GetFeatureInfo, GetLegendGraphic,
    DescribeLayer, GetStyles."""

    def __init__(self, version: str) -> None:
        self.renderer = Renderer()
        self._legend_sizes: dict[tuple[str, float, str], tuple[int, int]] = {}
        operations: dict[str, Operation] = {
            "GetCapabilities": lambda ctx: get_capabilities.get_capabilities(ctx, self),
            "GetMap": lambda ctx: get_map.get_map(ctx, self),
            "GetFeatureInfo": lambda ctx: get_feature_info.get_feature_info(ctx, self),
            "GetLegendGraphic": lambda ctx: get_legend_graphic.get_legend_graphic(ctx, self),
            "DescribeLayer": lambda ctx: describe_layer.describe_layer(ctx, self),
            "GetStyles": lambda ctx: get_styles.get_styles(ctx, self),
        }
        if version == "1.1.1":
            # WMS 1.0 request names, still sent by old clients against 1.1.1 (Annex C).
            operations |= {
                "Capabilities": operations["GetCapabilities"],
                "Map": operations["GetMap"],
                "FeatureInfo": operations["GetFeatureInfo"],
            }
        # QGIS Server answers GetFeatureInfo and GetLegendGraphic without VERSION (3.22,
        # observed), and web pages write legend URLs without it; GetMap it refuses.
        unversioned = ("GetFeatureInfo", "GetLegendGraphic")
        super().__init__("WMS", version, VERSIONS, operations, ("sxr", version), unversioned)

    def max_size(self, ctx: RequestContext) -> tuple[int, int]:
        """The largest WIDTH and HEIGHT accepted: the setting `wms_max_size`, or the project's
        `wms.max_width` / `max_height` where smaller."""
        limit = int(getattr(ctx.server.settings, "wms_max_size", DEFAULT_MAX_SIZE))
        wms = ctx.project.wms if ctx.project is not None else None
        if wms is None:
            return limit, limit
        return min(limit, wms.max_width or limit), min(limit, wms.max_height or limit)

    def execute(self, ctx: RequestContext) -> None:
        """Run the operation; errors of image operations become images when EXCEPTIONS asks."""
        try:
            super().execute(ctx)
        except ServiceError as error:
            if self.error_image(ctx) is not None:
                raise ImageReportedError(error) from error
            raise

    def render_error(self, error: ServiceError, ctx: RequestContext) -> tuple[bytes, str]:
        """A ServiceExceptionReport, or the error drawn in (or left out of) an image."""
        original = error.original if isinstance(error, ImageReportedError) else error
        target = self.error_image(ctx)
        if target is None:
            if self.version == "1.1.1" and original.locator:
                # WMS_exception_1_1_1.dtd declares `code` only: a locator makes it invalid.
                original = copy.copy(original)
                original.locator = None
            return super().render_error(original, ctx)
        image = error_image(
            original,
            target.width,
            target.height,
            target.background,
            with_text=target.mode is ExceptionMode.INIMAGE,
        )
        transparent = target.background[3] == 0
        body = encode(image, target.format, transparent=transparent, bgcolor=target.background[:3])
        return body, target.format

    def error_image(self, ctx: RequestContext) -> ErrorImage | None:
        """The image an error of this request is reported in, or None for an XML report.

        None as well when the image itself cannot be made (bad size or format): then the
        client gets the XML report that tells why.
        """
        params = ctx.request.params
        mode = exception_mode(params)
        operation = params.get("REQUEST", "").strip().upper()
        if mode is ExceptionMode.XML or operation not in _IMAGE_OPERATIONS:
            return None
        try:
            image_format = map_format(params.get("FORMAT", "") or "image/png")
            width, height = _LEGEND_ERROR_SIZE
            if params.get("WIDTH") or operation != "GETLEGENDGRAPHIC":
                limits = self.max_size(ctx)
                width, height = (
                    GetMapParams.size(params, key, limit)
                    for key, limit in zip(("WIDTH", "HEIGHT"), limits, strict=True)
                )
            background = GetMapParams.background_of(params)
        except ServiceError:
            return None
        return ErrorImage(mode, width, height, image_format, background)

    def cache_kind(self, ctx: RequestContext) -> CacheKind | None:
        """Capabilities, layer descriptions, styles and legends are cached per caller's rights.

        The pipeline keys entries by the parameters, the host and X-Forwarded-* headers the
        URLs inside the documents are built from, and the caller's access fingerprint.
        """
        return _CACHE_KINDS.get(ctx.request.parameter("REQUEST").strip().upper())

    def legend_size(self, ctx: RequestContext, layer: Layer) -> tuple[int, int]:
        """Width and height of a layer's legend (for LegendURL), drawn once per project file."""
        project = ctx.project
        key = (str(project.path) if project else "", project.mtime if project else 0.0, layer.name)
        size = self._legend_sizes.get(key)
        if size is None:
            image = get_legend_graphic.legend_image(ctx, self, layer, None)
            size = self._legend_sizes[key] = (int(image.shape[1]), int(image.shape[0]))
        return size

    def exception_formats(self) -> tuple[str, ...]:
        """The EXCEPTIONS values this version advertises."""
        return EXCEPTION_FORMATS[self.version]
