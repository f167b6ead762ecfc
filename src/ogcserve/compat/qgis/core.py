"""The part of `qgis.core` server plugins use: logging, and the layer, feature and project
objects that access-control filters and services receive (read-only views of ours)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from enum import IntEnum
from typing import TYPE_CHECKING, Any

import shapely

from ogcserve.context import current_context

if TYPE_CHECKING:
    from ogcserve.features import Feature
    from ogcserve.projects.model import Layer, Project


class Qgis:
    """QGIS's namespace of enums: the message levels."""

    class MessageLevel(IntEnum):
        """Message levels of QgsMessageLog."""

        Info = 0
        Warning = 1
        Critical = 2
        Success = 3
        NoLevel = 4

    Info = MessageLevel.Info
    Warning = MessageLevel.Warning
    Critical = MessageLevel.Critical
    Success = MessageLevel.Success
    NoLevel = MessageLevel.NoLevel


class QgsMessageLog:
    """QGIS's message log, routed to Python logging (logger `qgis.<tag>`).

    Info and Success log at INFO, Warning at WARNING, Critical at CRITICAL, NoLevel at DEBUG.
    """

    # The QGIS 2 names (the old cookbook writes QgsMessageLog.INFO).
    INFO = Qgis.Info
    WARNING = Qgis.Warning
    CRITICAL = Qgis.Critical

    @staticmethod
    def logMessage(
        message: str, tag: str = "", level: int = Qgis.Warning, notifyUser: bool = True
    ) -> None:
        """Log `message` under `tag` at `level` (QGIS's default level is Warning)."""
        _log_message(message, tag, level)


_LEVELS = {
    0: logging.INFO,
    1: logging.WARNING,
    2: logging.CRITICAL,
    3: logging.INFO,
    4: logging.DEBUG,
}


def _log_message(message: str, tag: str, level: int) -> None:
    """QgsMessageLog.logMessage -> logger `qgis.<tag>` at the matching level."""
    logger = logging.getLogger(f"qgis.{tag}" if tag else "qgis")
    logger.log(_LEVELS.get(int(level), logging.WARNING), "%s", message)


class QgsLogger:
    """QGIS's debug logger, routed to Python logging (logger `qgis`)."""

    @staticmethod
    def debug(
        msg: str,
        debuglevel: int = 1,
        file: str | None = None,
        function: str | None = None,
        line: int = -1,
    ) -> None:
        """Log at DEBUG."""
        logging.getLogger("qgis").debug("%s", msg)

    @staticmethod
    def warning(msg: str) -> None:
        """Log at WARNING."""
        logging.getLogger("qgis").warning("%s", msg)

    @staticmethod
    def critical(msg: str) -> None:
        """Log at CRITICAL."""
        logging.getLogger("qgis").critical("%s", msg)


class QgsField:
    """One attribute of a layer."""

    def __init__(self, name: str = "") -> None:
        self._name = name

    def name(self) -> str:
        """The attribute name."""
        return self._name

    def displayName(self) -> str:
        """The attribute name (no aliases here)."""
        return self._name


class QgsFields:
    """The attributes of a layer or feature, in order."""

    def __init__(self, names: tuple[str, ...] | list[str] = ()) -> None:
        self._names = tuple(names)

    def names(self) -> list[str]:
        """Every attribute name."""
        return list(self._names)

    def count(self) -> int:
        """How many attributes."""
        return len(self._names)

    def size(self) -> int:
        """How many attributes."""
        return len(self._names)

    def isEmpty(self) -> bool:
        """True when there are none."""
        return not self._names

    def field(self, index_or_name: int | str) -> QgsField:
        """One attribute by position or name."""
        return QgsField(_field_name(self._names, index_or_name))

    def at(self, index: int) -> QgsField:
        """One attribute by position."""
        return QgsField(self._names[index])

    def indexOf(self, name: str) -> int:
        """The position of `name`, -1 if absent."""
        return _index_of(self._names, name)

    def indexFromName(self, name: str) -> int:
        """The position of `name`, -1 if absent."""
        return _index_of(self._names, name)

    def lookupField(self, name: str) -> int:
        """The position of `name`, -1 if absent."""
        return _index_of(self._names, name)

    def __iter__(self) -> Any:
        return iter([QgsField(n) for n in self._names])

    def __len__(self) -> int:
        return len(self._names)


def _field_name(names: Sequence[str], key: int | str) -> str:
    """The name at position `key`, or `key` itself when it is a name."""
    return names[key] if isinstance(key, int) else key


def _index_of(names: Sequence[str], name: str) -> int:
    """The position of `name` in `names`, -1 if absent."""
    return list(names).index(name) if name in names else -1


class QgsGeometry:
    """A read-only geometry (a shapely geometry inside)."""

    def __init__(self, geometry: Any | None = None) -> None:
        self.shape = geometry

    def isNull(self) -> bool:
        """True when there is no geometry."""
        return self.shape is None

    def isEmpty(self) -> bool:
        """True when there is no geometry or it is empty."""
        return self.shape is None or bool(self.shape.is_empty)

    def asWkt(self, precision: int = 17) -> str:
        """Well-known text ('' when null)."""
        return _geometry_wkt(self.shape, precision)

    def asJson(self, precision: int = 17) -> str:
        """GeoJSON text ('null' when null)."""
        return "null" if self.shape is None else str(shapely.to_geojson(self.shape))

    def area(self) -> float:
        """Planar area in layer units."""
        return _geometry_measure(self.shape, "area")

    def length(self) -> float:
        """Planar length in layer units."""
        return _geometry_measure(self.shape, "length")


def _geometry_wkt(shape: Any | None, precision: int) -> str:
    """WKT with at most `precision` decimals, '' for no geometry."""
    return "" if shape is None else shapely.to_wkt(shape, rounding_precision=precision, trim=True)


def _geometry_measure(shape: Any | None, what: str) -> float:
    """Planar area or length, 0 for no geometry."""
    return 0.0 if shape is None else float(getattr(shape, what))


class QgsFeature:
    """A feature as `allowToEdit` receives it: id, attributes, geometry."""

    def __init__(self, feature: Feature) -> None:
        self.feature = feature

    def id(self) -> Any:
        """The feature id."""
        return self.feature.id

    def attribute(self, name_or_index: str | int) -> Any:
        """One attribute by name or position (None when absent)."""
        return _feature_attribute(self.feature, name_or_index)

    def attributes(self) -> list[Any]:
        """Every attribute value, in order."""
        return list(self.feature.properties.values())

    def fields(self) -> QgsFields:
        """The attribute names."""
        return QgsFields(list(self.feature.properties))

    def geometry(self) -> QgsGeometry:
        """The geometry (null geometry when the feature has none)."""
        return QgsGeometry(self.feature.geometry)

    def hasGeometry(self) -> bool:
        """Whether the feature has a geometry."""
        return self.feature.geometry is not None

    def isValid(self) -> bool:
        """Always True: features come from a source."""
        return True

    def __getitem__(self, name_or_index: str | int) -> Any:
        return _feature_attribute(self.feature, name_or_index)


def _feature_attribute(feature: Feature, key: str | int) -> Any:
    """An attribute by name or by position among the feature's attributes."""
    if isinstance(key, int):
        values = list(feature.properties.values())
        return values[key] if 0 <= key < len(values) else None
    return feature.attribute(key)


class QgsMapLayer:
    """A project layer as access-control filters receive it."""

    def __init__(self, layer: Layer) -> None:
        self.layer = layer

    def name(self) -> str:
        """The name: a QGIS project's layer name, else the name requests use."""
        return self.layer.qgis_names.name

    def id(self) -> str:
        """The id: a QGIS project's layer id, else the name (names are unique)."""
        return self.layer.qgis_names.id or self.layer.name

    def shortName(self) -> str:
        """The short name: a QGIS project's ('' if none), else the name requests use."""
        return self.layer.qgis_names.short_name

    def title(self) -> str:
        """The title."""
        return self.layer.title

    def abstract(self) -> str:
        """The abstract."""
        return self.layer.abstract

    def keywordList(self) -> str:
        """The keywords, comma-separated."""
        return ",".join(self.layer.keywords)

    def isValid(self) -> bool:
        """Always True: invalid layers do not load."""
        return True

    def isSpatial(self) -> bool:
        """Whether the layer has data (groups have none)."""
        return self.layer.source is not None


class QgsVectorLayer(QgsMapLayer):
    """A vector layer: a map layer with attributes and a subset string."""

    def fields(self) -> QgsFields:
        """Every attribute of the source (whatever the caller may see)."""
        return QgsFields(_layer_fields(self.layer))

    def subsetString(self) -> str:
        """The project's own row filter for this layer ('' if none)."""
        return self.layer.filter or ""

    def providerType(self) -> str:
        """The source type (geopackage, postgis, ogr)."""
        return _provider_type(self.layer)


def _layer_fields(layer: Layer) -> tuple[str, ...]:
    """Every attribute of a layer's source, read for the current request's project."""
    ctx = current_context.get()
    if ctx is None or ctx.project is None or layer.source is None or layer.is_raster:
        return ()
    return ctx.server.access.source_fields(ctx, layer)


def _provider_type(layer: Layer) -> str:
    """The source type of a layer ('' for groups)."""
    return str(getattr(layer.source, "type", "")) if layer.source is not None else ""


class QgsProject:
    """The project of the current request."""

    def __init__(self, project: Project | None) -> None:
        self.project = project

    @staticmethod
    def instance() -> QgsProject:
        """The project of the current request (an empty one outside a request)."""
        return QgsProject(_current_project())

    def fileName(self) -> str:
        """The project file ('' if none)."""
        return _project_text(self.project, "path")

    def title(self) -> str:
        """The project title."""
        return _project_text(self.project, "title")

    def baseName(self) -> str:
        """The project name."""
        return _project_text(self.project, "name")

    def mapLayersByName(self, name: str) -> list[QgsMapLayer]:
        """The layers whose `name()` is `name`."""
        return [_map_layer(x) for x in _layers(self.project) if x.qgis_names.name == name]

    def mapLayers(self) -> dict[str, QgsMapLayer]:
        """Every layer by its `id()`."""
        return {x.qgis_names.id or x.name: _map_layer(x) for x in _layers(self.project)}


def _current_project() -> Project | None:
    """The project of the current request, if any."""
    ctx = current_context.get()
    return ctx.project if ctx is not None else None


def _project_text(project: Project | None, attribute: str) -> str:
    """A text attribute of a project, '' when there is none."""
    return "" if project is None else str(getattr(project, attribute))


def _layers(project: Project | None) -> list[Layer]:
    """The layers of a project with a source (QGIS's map layers; groups are none)."""
    return [] if project is None else list(project.data_layers())


def _map_layer(layer: Layer) -> QgsMapLayer:
    """A vector-layer view for layers with features, a map-layer view for the others."""
    vector = layer.source is not None and not layer.is_raster
    return QgsVectorLayer(layer) if vector else QgsMapLayer(layer)


__all__ = [
    "Qgis",
    "QgsFeature",
    "QgsField",
    "QgsFields",
    "QgsGeometry",
    "QgsLogger",
    "QgsMapLayer",
    "QgsMessageLog",
    "QgsProject",
    "QgsVectorLayer",
]
