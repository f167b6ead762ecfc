"""What a project is at run time: the frozen value objects built from a project file.

`Project` and `Layer` are what the rest of the server works with: defaults filled in, groups
resolved into a tree, `${VAR}` references already expanded. The file's schema (the `*Config`
pydantic models) is in `ogcserve.projects.config`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ogcserve.projects.config import (
    ContactConfig,
    LinkConfig,
    PluginPath,
    ProjectWMSConfig,
    TilesConfig,
    WCSConfig,
    WFSConfig,
    WMSConfig,
)
from ogcserve.projects.viewer import Formatters, ViewerConfig
from ogcserve.sources.specs import RasterSpec, SourceSpec


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
