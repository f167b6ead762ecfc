"""What a project is: the schema of a project file and the runtime objects built from it.

Two layers of types live here. The `*Config` pydantic models mirror the YAML file one to one and
are only used while loading (their validation errors carry the `loc` the loader maps back to YAML
lines). `Project` and `Layer` are the frozen value objects the rest of the server works with:
defaults filled in, groups resolved into a tree, `${VAR}` references already expanded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from ogcserve.projects.viewer import Formatters, ViewerConfig
from ogcserve.sources.specs import RasterSpec, SourceSpec

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


def freeze(value: Any) -> Any:
    """A read-only deep copy of YAML data: mappings become `MappingProxyType`, lists tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


@dataclass(frozen=True, slots=True)
class QgisNames:
    """What QGIS calls a layer (or group) read from a QGIS project: its `name` there (QGIS's
    `QgsMapLayer.name()`, e.g. "Populous countries"), its layer `id` ('' for a group), its
    `short_name` ('' if none) and `wms_name`, the name QGIS Server's WMS publishes it by (the
    short name, else the name, else the id under "use layer ids"), which may hold characters
    ogcserve's names cannot."""

    name: str
    id: str = ""
    short_name: str = ""
    wms_name: str = ""


@dataclass(frozen=True, slots=True)
class Layer:
    """A layer of a loaded project: data (`source` set) or a group (`children` set).

    `key` None means "the source's primary key"; `filter` is CQL2 text applied to every read;
    `fields_include` None means every attribute, minus `fields_exclude`, minus
    `fields_hidden[service]` for the services that hide some ("WMS", "WFS").
    """

    name: str
    title: str
    abstract: str = ""
    keywords: tuple[str, ...] = ()
    source: SourceSpec | None = None
    key: str | None = None
    filter: str | None = None
    fields_include: tuple[str, ...] | None = None
    fields_exclude: tuple[str, ...] = ()
    # A read-only mapping is not hashable, so it stays out of __hash__ (and __eq__, which must
    # agree with it); two layers differing only in style are still told apart by name.
    fields_hidden: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, hash=False
    )
    aliases: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, hash=False
    )
    data_url: LinkConfig | None = None
    attribution: LinkConfig | None = None
    metadata_urls: tuple[LinkConfig, ...] = ()
    style: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, hash=False
    )
    queryable: bool = True
    min_scale: float | None = None
    max_scale: float | None = None
    wms: WMSConfig = field(default_factory=WMSConfig)
    wfs: WFSConfig = field(default_factory=WFSConfig)
    wcs: WCSConfig = field(default_factory=WCSConfig)
    tiles: TilesConfig = field(default_factory=TilesConfig)
    children: tuple[Layer, ...] = ()
    formatters: Mapping[str, Formatters] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, hash=False
    )
    qgis: QgisNames | None = field(default=None, compare=False, hash=False)

    @property
    def qgis_names(self) -> QgisNames:
        """What QGIS calls the layer: as read from a QGIS project, else its name throughout."""
        return self.qgis or QgisNames(self.name, self.name, self.name, self.name)

    @property
    def is_group(self) -> bool:
        """True for a layer without data of its own, only sub-layers."""
        return self.source is None

    @property
    def is_raster(self) -> bool:
        """True when the source is a raster (WMS/WCS), False for vectors and groups."""
        return isinstance(self.source, RasterSpec)

    def walk(self) -> Iterator[Layer]:
        """This layer, then every layer below it, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()

    def publishes_field(self, name: str, service: str | None = None) -> bool:
        """Whether the attribute `name` may be published by `service` ("WMS", "WFS", ...)
        under the `fields` rules; with no service known, only if every service publishes it."""
        if self.fields_include is not None and name not in self.fields_include:
            return False
        if name in self.fields_exclude:
            return False
        if service is None:
            return not any(name in hidden for hidden in self.fields_hidden.values())
        return name not in self.fields_hidden.get(service, ())

    def label(self, name: str) -> str:
        """The attribute's display name: its alias, else its name."""
        return self.aliases.get(name) or name

    def for_wms(self) -> Layer | None:
        """The layer as WMS publishes it: None if `wms.publish` is off (a group: if it is left
        without members)."""
        if not self.is_group:
            return self if self.wms.publish else None
        children = tuple(kept for kept in (c.for_wms() for c in self.children) if kept)
        if children == self.children:
            return self
        return replace(self, children=children) if children else None


@dataclass(frozen=True, slots=True)
class Project:
    """A loaded project file: metadata and the layer tree.

    `path` is the absolute path of the file and `base_dir` its folder (source paths are relative
    to it); `mtime` is the file's modification time when it was read, for reload checks.
    `top_first` says how `layers` and each group's children are listed: a YAML project lists
    them in drawing order (the first at the bottom); a QGIS project as its layer tree does (the
    first on top), which its capabilities keep and drawing reverses.
    """

    name: str
    path: Path
    base_dir: Path
    title: str
    abstract: str = ""
    keywords: tuple[str, ...] = ()
    crs: tuple[str, ...] = ()
    contact: ContactConfig = field(default_factory=ContactConfig)
    wms: ProjectWMSConfig = field(default_factory=ProjectWMSConfig)
    layers: tuple[Layer, ...] = ()
    plugins: tuple[PluginPath, ...] = ()
    mtime: float = 0.0
    top_first: bool = False
    viewer: ViewerConfig = field(default_factory=ViewerConfig, compare=False, hash=False)
    # Built once so `layer(name)` is a lookup, not a walk, on every request.
    _index: Mapping[str, Layer] = field(init=False, repr=False, compare=False, hash=False)
    _wms: Project | None = field(init=False, default=None, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        index = {layer.name: layer for layer in self.walk()}
        for layer in self.walk():  # QGIS Server's names, where they differ and are free
            if layer.qgis is not None and layer.qgis.wms_name:
                index.setdefault(layer.qgis.wms_name, layer)
        object.__setattr__(self, "_index", MappingProxyType(index))

    def for_wms(self) -> Project:
        """The project as WMS (and what draws through it) publishes it: without the layers
        whose `wms.publish` is off; built once."""
        if self._wms is None:
            layers = tuple(kept for kept in (layer.for_wms() for layer in self.layers) if kept)
            view = self if layers == self.layers else replace(self, layers=layers)
            object.__setattr__(self, "_wms", view)
        return self._wms or self

    def walk(self) -> Iterator[Layer]:
        """Every layer of the tree, groups included, depth first in file order."""
        for layer in self.layers:
            yield from layer.walk()

    def layer(self, name: str) -> Layer | None:
        """The layer (or group) called `name` anywhere in the tree, or None; a layer of a
        QGIS project is also found by the name QGIS Server's WMS gives it."""
        return self._index.get(name)

    def data_layers(self) -> tuple[Layer, ...]:
        """Every layer that has a source, depth first in file order."""
        return tuple(layer for layer in self.walk() if not layer.is_group)
