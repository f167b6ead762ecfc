"""The WMTS 1.0.0 service: KVP operations at /ows (SERVICE=WMTS), RESTful ones under /wmts.

GetTile draws through the shared `TileRenderer` (metatiles, the cache backend); GetFeatureInfo
asks the WMS GetFeatureInfo code about the clicked pixel of the tile; the capabilities are cached
by the pipeline per caller's rights, like the WMS ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ogcserve.errors import InvalidParameterValueError, LayerNotDefinedError
from ogcserve.plugins.cache import CacheKind
from ogcserve.services.ows.service import OWSService
from ogcserve.services.tiles.http import write_tile
from ogcserve.services.wms.get_feature_info import write_feature_info
from ogcserve.services.wms.layers import project_of
from ogcserve.services.wms.params import GetFeatureInfoParams

from .capabilities import capabilities
from .params import FeatureInfoParams, parse_feature_info, parse_tile

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.services.tiles import TileService
    from ogcserve.services.tiles.keys import TileAddress

VERSION = "1.0.0"


class WMTSService(OWSService):
    """WMTS 1.0.0: GetCapabilities, GetTile, GetFeatureInfo."""

    def __init__(self, tiles: TileService) -> None:
        self.tiles = tiles
        super().__init__(
            "WMTS",
            VERSION,
            (VERSION,),
            {
                "GetCapabilities": self.get_capabilities,
                "GetTile": lambda ctx: self.get_tile(
                    ctx, parse_tile(ctx.request.params, tiles.sets, project_of(ctx))
                ),
                "GetFeatureInfo": lambda ctx: self.get_feature_info(
                    ctx, parse_feature_info(ctx.request.params, tiles.sets, project_of(ctx))
                ),
            },
            ("ows", "1.1.0"),
        )

    def execute(self, ctx: RequestContext) -> None:
        """Run the operation; an unknown (or wholly hidden) layer is InvalidParameterValue
        (WMTS 1.0.0 Table 28), a forbidden one Security (403)."""
        self.execute_rest(ctx, super().execute)

    def execute_rest(self, ctx: RequestContext, handler: Callable[[RequestContext], None]) -> None:
        """Run a KVP operation or a RESTful resource, with WMTS's layer errors."""
        try:
            handler(ctx)
        except LayerNotDefinedError as error:
            raise InvalidParameterValueError(error.message, locator="LAYER") from None

    def get_capabilities(self, ctx: RequestContext) -> None:
        """The capabilities document."""
        body = capabilities(ctx, self.tiles.sets)
        ctx.response.set_header("Content-Type", "application/xml; charset=utf-8")
        ctx.response.write(body)

    def get_tile(self, ctx: RequestContext, address: TileAddress) -> None:
        """One tile, with its validators."""
        write_tile(ctx, self.tiles.renderer.tile(ctx, address))

    def get_feature_info(self, ctx: RequestContext, params: FeatureInfoParams) -> None:
        """The features under pixel (I, J) of a tile, as WMS GetFeatureInfo finds them."""
        tile = params.tile
        matrix = tile.tms.matrix(tile.level)
        assert matrix is not None
        minx, miny, maxx, maxy = matrix.tile_bbox(tile.row, tile.col)
        if tile.tms.north_first:  # WMS 1.3.0 writes the BBOX in the CRS's axis order
            minx, miny, maxx, maxy = miny, minx, maxy, maxx
        wms = {
            "LAYERS": tile.layer,
            "QUERY_LAYERS": tile.layer,
            "STYLES": tile.style,
            "CRS": tile.tms.crs,
            "BBOX": f"{minx!r},{miny!r},{maxx!r},{maxy!r}",
            "WIDTH": "256",
            "HEIGHT": "256",
            "I": str(params.i),
            "J": str(params.j),
            "INFO_FORMAT": params.info_format,
            "FEATURE_COUNT": "10",
        }
        write_feature_info(ctx, GetFeatureInfoParams.parse(wms, "1.3.0", 256))

    def cache_kind(self, ctx: RequestContext) -> CacheKind | None:
        """The capabilities are cached by the pipeline; tiles by the tile renderer itself."""
        if ctx.request.parameter("REQUEST").strip().upper() == "GETCAPABILITIES":
            return CacheKind.DOCUMENT
        return None
