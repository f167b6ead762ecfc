"""How a project file names a source: one pydantic model per backend, told apart by `type`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GeoPackageSpec(_Spec):
    """A table of a GeoPackage file (path relative to the project file)."""

    type: Literal["geopackage"]
    path: str
    table: str


class PostGISSpec(_Spec):
    """A table or view of a PostGIS database."""

    type: Literal["postgis"]
    dsn: str
    table: str  # "schema.table" or "table"
    geometry: str | None = None  # default: the only geometry column
    key: str | None = None  # default: the primary key
    pool_size: int = Field(default=4, ge=1, le=64)


class OGRSpec(_Spec):
    """A Shapefile, GeoJSON or FlatGeobuf file, read-only through pyogrio."""

    type: Literal["ogr"]
    path: str
    layer: str | None = None


class RasterSpec(_Spec):
    """A GeoTIFF (or any raster GDAL reads) through rasterio."""

    type: Literal["raster"]
    path: str


SourceSpec = Annotated[
    GeoPackageSpec | PostGISSpec | OGRSpec | RasterSpec, Field(discriminator="type")
]
