"""The publishing settings of a QGIS project: the "QGIS Server" tab of its properties.

QGIS keeps them in `<properties>` as entries named after the setting (`WMSServiceTitle`,
`WFSLayers`, `WFSTLayers/Update`, `WFSLayersPrecision/<layer id>`...), each with a `type`:
`QString` and `int` ones hold text, `QStringList` ones a `<value>` per item.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from ogcserve.projects.config import ContactConfig, ProjectWMSConfig

# Settings the project model has no place for: read, named in `ogcserve check`, not applied.
_IGNORED = {
    "WMSFees": "the fees (not published)",
    "WMSAccessConstraints": "the access constraints (not published)",
}


@dataclass(frozen=True, slots=True)
class Publishing:
    """What the project's server settings say, by layer id where a setting is per layer."""

    title: str = ""
    abstract: str = ""
    keywords: tuple[str, ...] = ()
    crs: tuple[str, ...] = ()
    restricted: frozenset[str] = frozenset()  # layer and group names hidden from WMS
    use_layer_ids: bool = False
    wfs_layers: frozenset[str] = frozenset()
    wfs_insert: frozenset[str] = frozenset()
    wfs_update: frozenset[str] = frozenset()
    wfs_delete: frozenset[str] = frozenset()
    wfs_precision: dict[str, int] = field(default_factory=dict)
    wcs_layers: frozenset[str] = frozenset()
    contact: ContactConfig = field(default_factory=ContactConfig)
    wms: ProjectWMSConfig = field(default_factory=ProjectWMSConfig)
    ignored: tuple[str, ...] = ()  # what `_IGNORED` says of each setting present


def read_publishing(properties: etree._Element | None, crs: str = "CRS:84") -> Publishing:
    """The settings found under `<properties>` (defaults for a project without any); `crs` is
    the project's, which the WMS extent is in."""
    if properties is None:
        return Publishing()
    ignored = dict.fromkeys(
        text
        for name, text in _IGNORED.items()
        if _text(properties, name) or _values(properties, name)
    )
    return Publishing(
        title=_text(properties, "WMSServiceTitle"),
        abstract=_text(properties, "WMSServiceAbstract"),
        keywords=tuple(word for word in _values(properties, "WMSKeywordList") if word),
        crs=tuple(crs for crs in _values(properties, "WMSCrsList") if crs),
        restricted=frozenset(_values(properties, "WMSRestrictedLayers")),
        use_layer_ids=_text(properties, "WMSUseLayerIDs").lower() in ("1", "true"),
        wfs_layers=frozenset(_values(properties, "WFSLayers")),
        wfs_insert=frozenset(_values(properties, "WFSTLayers/Insert")),
        wfs_update=frozenset(_values(properties, "WFSTLayers/Update")),
        wfs_delete=frozenset(_values(properties, "WFSTLayers/Delete")),
        wfs_precision=_precisions(properties.find("WFSLayersPrecision")),
        wcs_layers=frozenset(_values(properties, "WCSLayers")),
        contact=ContactConfig(
            person=_text(properties, "WMSContactPerson"),
            organization=_text(properties, "WMSContactOrganization"),
            position=_text(properties, "WMSContactPosition"),
            email=_text(properties, "WMSContactMail"),
            phone=_text(properties, "WMSContactPhone"),
        ),
        wms=ProjectWMSConfig(
            extent=_extent(_values(properties, "WMSExtent")),
            extent_crs=crs,
            max_width=_number(_text(properties, "WMSMaxWidth"), 1, None),
            max_height=_number(_text(properties, "WMSMaxHeight"), 1, None),
            feature_info_precision=_precision(_text(properties, "WMSPrecision")),
        ),
        ignored=tuple(ignored),
    )


def _number(text: str, low: int, high: int | None) -> int | None:
    """An integer setting in [low, high]; None if absent or out of range (QGIS's "-1" and
    empty mean no limit)."""
    try:
        value = int(text)
    except ValueError:
        return None
    return value if value >= low and (high is None or value <= high) else None


def _precision(text: str) -> int:
    """`WMSPrecision`: GetFeatureInfo's decimals; QGIS Server's default is 6."""
    value = _number(text, 0, 17)
    return 6 if value is None else value


def _extent(values: list[str]) -> tuple[float, float, float, float] | None:
    """`WMSExtent`: four numbers (xmin, ymin, xmax, ymax in the project's CRS), or None."""
    try:
        minx, miny, maxx, maxy = (float(v) for v in values)
    except ValueError:
        return None
    return (minx, miny, maxx, maxy) if minx < maxx and miny < maxy else None


def _text(properties: etree._Element, path: str) -> str:
    element = properties.find(path)
    if element is None or element.get("type") == "QStringList":
        return ""
    return (element.text or "").strip()


def _values(properties: etree._Element, path: str) -> list[str]:
    element = properties.find(path)
    if element is None:
        return []
    return [(value.text or "").strip() for value in element.iterfind("value")]


def _precisions(element: etree._Element | None) -> dict[str, int]:
    """`WFSLayersPrecision`: an entry per layer id holding a number of decimals."""
    found: dict[str, int] = {}
    for entry in element if element is not None else ():
        try:
            decimals = int((entry.text or "").strip())
        except ValueError:
            continue
        if 0 <= decimals <= 17 and isinstance(entry.tag, str):
            found[entry.tag] = decimals
    return found
