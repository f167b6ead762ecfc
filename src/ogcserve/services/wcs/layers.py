"""The coverages of a request: raster layers published through WCS that the caller may read,
and the GetCoverage answer every version ends with. Reads go through the access layer."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pyproj import Transformer

from ogcserve.errors import InvalidParameterValueError, NotFoundError, ServiceError

from .encode import GEOTIFF, encode
from .grid import CoverageAsk, plan

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.coverages import CoverageInfo
    from ogcserve.projects.model import Layer, Project

_EXTENSIONS = {GEOTIFF: "tif", "image/png": "png"}


class NoSuchCoverageError(ServiceError):
    """WCS 2.0 Table 18: an identifier that names no coverage (404)."""

    code: ClassVar[str] = "NoSuchCoverage"
    status: ClassVar[int] = 404


class CoverageNotDefinedError(ServiceError):
    """WCS 1.0.0 Table 20: an unknown coverage name."""

    code: ClassVar[str] = "CoverageNotDefined"


def require_project(ctx: RequestContext) -> Project:
    """The request's project (the pipeline resolved it before the service ran)."""
    if ctx.project is None:
        raise NotFoundError("No project is served here")
    return ctx.project


def published(ctx: RequestContext, project: Project) -> list[Layer]:
    """The coverages the caller may read, in project order."""
    out: list[Layer] = []
    for top in ctx.server.access.readable_layers(ctx, project):
        out.extend(layer for layer in top.walk() if layer.is_raster and layer.wcs.publish)
    return out


def coverage_layer(ctx: RequestContext, name: str, version: str, locator: str) -> Layer:
    """The coverage `name`: unknown and unpublished names do not exist (each version's code),
    one the caller may not read is 403 Security (the access layer decides)."""
    project = require_project(ctx)
    layer = project.layer(name.strip())
    if layer is None or not layer.is_raster or not layer.wcs.publish:
        message = f"No coverage {name!r}"
        if version == "2.0.1":
            raise NoSuchCoverageError(message, locator=locator)
        if version == "1.0.0":
            raise CoverageNotDefinedError(message, locator=locator)
        raise InvalidParameterValueError(message, locator=locator)
    return ctx.server.access.layer(ctx, project, layer.name)


def wgs84_extent(info: CoverageInfo) -> tuple[float, float, float, float]:
    """The coverage's extent in longitude/latitude."""
    if info.crs in ("EPSG:4326", "OGC:CRS84"):
        return info.extent
    transformer = Transformer.from_crs(info.crs, "OGC:CRS84", always_xy=True)
    return tuple(transformer.transform_bounds(*info.extent, densify_pts=21))  # type: ignore[return-value]


def advertised_crs(ctx: RequestContext, info: CoverageInfo) -> list[str]:
    """The coverage's CRS first, then the project's (CRS:84 is EPSG:4326 in WCS)."""
    project = require_project(ctx)
    others = [c for c in project.crs if c not in (info.crs, "CRS:84", "OGC:CRS84")]
    return [info.crs, *others]


def answer(ctx: RequestContext, layer: Layer, ask: CoverageAsk, mime: str) -> None:
    """Read the coverage on the planned grid and write it as `mime`."""
    access = ctx.server.access
    info = access.coverage_info(ctx, layer)
    if ask.bands is not None:
        for band in ask.bands:
            if not 1 <= band <= info.band_count:
                raise InvalidParameterValueError(
                    f"The coverage {layer.name!r} has no band {band}", locator="band"
                )
    request = plan(ask, info, ctx.server.settings.wcs_max_size)
    data = access.coverage(ctx, layer, request)
    ctx.deadline.check()  # before encoding, which takes a while for a large coverage
    body = encode(data, request, info, mime)
    ctx.response.set_header("Content-Type", mime)
    filename = f"{layer.name}.{_EXTENSIONS.get(mime, 'bin')}"
    ctx.response.set_header("Content-Disposition", f'inline; filename="{filename}"')
    ctx.response.write(body)
