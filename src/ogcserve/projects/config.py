"""The schema of a project file: pydantic models that mirror the YAML file one to one.

They are only used while loading (their validation errors carry the `loc` the loader maps back
to YAML lines); `ogcserve.projects.model` holds the frozen objects built from them.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from ogcserve.projects.viewer import Formatters, ViewerConfig
from ogcserve.sources.specs import SourceSpec

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]*$"
"""Layer and project names: safe in URLs, XML names and OGC API collection ids."""

PLUGIN_PATTERN = r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*(:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*)?$"
"""`package.module:callable` (the `:callable` part may be left to the plugin loader's default)."""


def _check_plugin_path(value: str) -> str:
    # A plain `pattern=` would say "String should match pattern '^[A-Za-z_]...'", which does not
    # tell the author what shape is expected.
    if not re.fullmatch(PLUGIN_PATTERN, value):
        raise PydanticCustomError(
            "plugin_path",
            "'{plugin}' is not a plugin path like 'package.module:setup'",
            {"plugin": value},
        )
    return value


PluginPath = Annotated[str, AfterValidator(_check_plugin_path)]
"""A dotted path naming a plugin setup callable."""

# Options that only make sense for a layer with data; a group setting them is a mistake the
# author should hear about rather than a value silently ignored.
_DATA_ONLY_OPTIONS = (
    "key",
    "filter",
    "fields",
    "aliases",
    "style",
    "wms",
    "wfs",
    "wcs",
    "formatters",
)


class _Config(BaseModel):
    # extra="forbid" turns typos into errors; frozen because a loaded config is never edited.
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldsConfig(_Config):
    """Which attributes a layer publishes: a whitelist (`include`) or a blacklist (`exclude`),
    and attributes hidden from one service only (`exclude_wms`: WMS, WMTS and tiles;
    `exclude_wfs`: WFS and OGC API - Features), as QGIS's "hide from WMS/WFS" field flags."""

    include: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    exclude_wms: tuple[str, ...] = ()
    exclude_wfs: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if self.include is not None and self.exclude:
            # ctx["field"] lets the loader point at the `exclude` key rather than the mapping.
            raise PydanticCustomError(
                "fields_conflict",
                "give either 'include' or 'exclude', not both",
                {"field": "exclude"},
            )
        return self


class WMSConfig(_Config):
    """Whether a data layer appears in WMS (and WMTS / tiles, drawn by WMS): False keeps it for
    WFS / OGC API only, as QGIS's "WMS restricted layers" with the layer left in `WFSLayers`."""

    publish: bool = True


class LinkConfig(_Config):
    """A link of a layer's capabilities: its URL and, where the capabilities have them, a
    title (Attribution), a format (DataURL, MetadataURL) and a type (MetadataURL)."""

    url: str = ""
    title: str = ""
    format: str = ""
    type: str = ""


class ContactConfig(_Config):
    """Who answers for the service (WMS ContactInformation, WFS/WCS ServiceProvider)."""

    person: str = ""
    organization: str = ""
    position: str = ""
    email: str = ""
    phone: str = ""


class ProjectWMSConfig(_Config):
    """Project-wide WMS settings (QGIS's "QGIS Server" tab: advertised extent, maximum image
    size, GetFeatureInfo precision)."""

    # The extent advertised for the root layer, [minx, miny, maxx, maxy] in `extent_crs`
    # (None: the union of the layers' extents).
    extent: tuple[float, float, float, float] | None = None
    extent_crs: str = "CRS:84"
    # The largest GetMap/GetFeatureInfo WIDTH and HEIGHT (None: the `wms_max_size` setting;
    # the smaller of the two applies).
    max_width: int | None = Field(default=None, gt=0)
    max_height: int | None = Field(default=None, gt=0)
    # Decimals of the geometries in GetFeatureInfo answers (None: written in full).
    feature_info_precision: int | None = Field(default=None, ge=0, le=17)


class WFSConfig(_Config):
    """How a layer appears in WFS / OGC API Features: published at all, and which edits it takes."""

    publish: bool = True
    insert: bool = False
    update: bool = False
    delete: bool = False
    # What WFS GetFeature reports as numberMatched: a count query ("exact"), or no count at all
    # ("unknown"; "estimated" gives the total only when the page itself proves it), so large
    # tables are not counted for nothing.
    number_matched: Literal["exact", "estimated", "unknown"] = "exact"
    # Decimals written for coordinates in GetFeature output (as QGIS Server's
    # WFSLayersPrecision, GeoServer's numDecimals); None writes every double in full.
    precision: int | None = Field(default=None, ge=0, le=17)
    # The date or timestamp attribute that OGC API Features' `datetime` parameter and the
    # collection's temporal extent read (None: the layer has no time).
    time: str | None = None


class WCSConfig(_Config):
    """Whether a raster layer is published through WCS / OGC API Coverages."""

    publish: bool = True


class TilesConfig(_Config):
    """How a layer's tiles (WMTS, OGC API - Tiles, XYZ) may be kept by browsers."""

    # Cache-Control max-age in seconds (None: the tile_max_age setting).
    max_age: int | None = Field(default=None, ge=0)


class LayerConfig(_Config):
    """One `layers:` entry: a data layer (`source`) or a group (`layers`), never both."""

    name: str = Field(pattern=NAME_PATTERN)
    title: str | None = None
    abstract: str | None = None
    keywords: tuple[str, ...] = ()
    source: SourceSpec | None = None
    layers: tuple[LayerConfig, ...] | None = None
    key: str | None = None
    filter: str | None = None
    fields: FieldsConfig | None = None
    # Display names of attributes, by field name: GetFeatureInfo's text, HTML, XML and
    # GeoJSON answers name an attribute by its alias (as QGIS Server does).
    aliases: dict[str, str] = Field(default_factory=dict)
    data_url: LinkConfig | None = None
    attribution: LinkConfig | None = None
    metadata_urls: tuple[LinkConfig, ...] = ()
    style: dict[str, Any] = Field(default_factory=dict)
    queryable: bool = True
    min_scale: float | None = Field(default=None, ge=0)
    max_scale: float | None = Field(default=None, ge=0)
    wms: WMSConfig = Field(default_factory=WMSConfig)
    wfs: WFSConfig = Field(default_factory=WFSConfig)
    wcs: WCSConfig = Field(default_factory=WCSConfig)
    tiles: TilesConfig = Field(default_factory=TilesConfig)
    formatters: dict[str, Formatters] = Field(default_factory=dict)  # the viewer's, per field

    @model_validator(mode="after")
    def _source_or_layers(self) -> Self:
        if self.source is not None and self.layers is not None:
            raise PydanticCustomError(
                "source_and_layers",
                "a layer has either 'source' (data) or 'layers' (a group), not both",
                {"field": "layers"},
            )
        if self.source is None and self.layers is None:
            raise PydanticCustomError(
                "source_or_layers",
                "a layer needs either 'source' (data) or 'layers' (a group)",
            )
        if self.layers is not None and not self.layers:
            # Checked here rather than with `min_length`, which pydantic also reports (as a
            # misleading second error) when the only sub-layer is merely invalid.
            raise PydanticCustomError(
                "empty_group", "a group needs at least one layer", {"field": "layers"}
            )
        if self.layers is not None:
            for option in _DATA_ONLY_OPTIONS:
                if option in self.model_fields_set:
                    raise PydanticCustomError(
                        "group_option",
                        "'{option}' does not apply to a group (a layer without a source)",
                        {"field": option, "option": option},
                    )
        if (
            self.min_scale is not None
            and self.max_scale is not None
            and self.min_scale >= self.max_scale
        ):
            raise PydanticCustomError(
                "scale_range",
                "max_scale must be greater than min_scale",
                {"field": "max_scale"},
            )
        return self


class ProjectConfig(_Config):
    """A whole project file."""

    name: str | None = Field(default=None, pattern=NAME_PATTERN)
    title: str | None = None
    abstract: str | None = None
    keywords: tuple[str, ...] = ()
    crs: tuple[str, ...] = ()
    contact: ContactConfig = Field(default_factory=ContactConfig)
    wms: ProjectWMSConfig = Field(default_factory=ProjectWMSConfig)
    layers: tuple[LayerConfig, ...]
    plugins: tuple[PluginPath, ...] = ()
    viewer: ViewerConfig = Field(default_factory=ViewerConfig)

    @model_validator(mode="after")
    def _has_layers(self) -> Self:
        # Not `min_length=1`: see LayerConfig (a spurious error when every layer is invalid).
        if not self.layers:
            raise PydanticCustomError(
                "no_layers", "a project needs at least one layer", {"field": "layers"}
            )
        return self
