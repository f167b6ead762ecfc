"""GetTile and GetFeatureInfo parameters (WMTS 1.0.0 Tables 16 and 26), KVP or RESTful alike.

Errors follow WMTS 1.0.0 Table 28: a missing parameter is MissingParameterValue; an unknown
layer, style, tile matrix set or tile matrix, or a format not offered, InvalidParameterValue;
a row or column outside the matrix TileOutOfRange; a pixel outside the tile PointIJOutOfRange
(all 400).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ogcserve.errors import (
    InvalidParameterValueError,
    MissingParameterValueError,
    ServiceError,
)
from ogcserve.services.tiles.keys import TileAddress
from ogcserve.services.tiles.matrices import TILE_SIZE, TileMatrixSets

if TYPE_CHECKING:
    from ogcserve.projects.model import Project

# The formats tiles are offered in, and the RESTful extension of each.
TILE_FORMATS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
EXTENSIONS = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}


class TileOutOfRangeError(ServiceError):
    """WMTS 1.0.0 Table 28: TILEROW or TILECOL outside the tile matrix."""

    code = "TileOutOfRange"
    status = 400


class PointIJOutOfRangeError(ServiceError):
    """WMTS 1.0.0 Table 28: I or J outside the tile."""

    code = "PointIJOutOfRange"
    status = 400


def required(params: Mapping[str, str], key: str) -> str:
    """A parameter that must be there."""
    value = params.get(key, "").strip()
    if not value:
        raise MissingParameterValueError(f"The {key} parameter is missing", locator=key)
    return value


def _index(params: Mapping[str, str], key: str) -> int:
    text = required(params, key)
    if not (text.isascii() and text.isdigit()):
        if text.lstrip("-").isascii() and text.lstrip("-").isdigit():
            raise TileOutOfRangeError(f"{key} {text} is outside the tile matrix", locator=key)
        raise InvalidParameterValueError(f"{key} must be a whole number", locator=key)
    return int(text)


def tile_format(value: str, locator: str = "FORMAT") -> str:
    """A tile format this server offers."""
    text = value.strip().lower()
    if text not in TILE_FORMATS:
        offered = ", ".join(TILE_FORMATS)
        raise InvalidParameterValueError(
            f"The format {value!r} is not offered (offered: {offered})", locator=locator
        )
    return text


def parse_tile(params: Mapping[str, str], sets: TileMatrixSets, project: Project) -> TileAddress:
    """LAYER, STYLE, FORMAT, TILEMATRIXSET, TILEMATRIX, TILEROW, TILECOL as a tile address
    (the matrix set one of the server's or of `project`)."""
    layer = required(params, "LAYER")
    style = params.get("STYLE", "").strip()
    image_format = tile_format(required(params, "FORMAT"))
    tms = sets.get(required(params, "TILEMATRIXSET"), project)
    if tms is None:
        raise InvalidParameterValueError(
            f"No tile matrix set {params['TILEMATRIXSET']!r}", locator="TILEMATRIXSET"
        )
    level_text = required(params, "TILEMATRIX")
    # Some clients send "EPSG:3857:5" (GeoWebCache's identifiers): the level is the last part.
    level_text = level_text.rsplit(":", 1)[-1]
    matrix = tms.matrix(int(level_text)) if level_text.isascii() and level_text.isdigit() else None
    if matrix is None:
        raise InvalidParameterValueError(
            f"No tile matrix {params['TILEMATRIX']!r} in {tms.id}", locator="TILEMATRIX"
        )
    row, col = _index(params, "TILEROW"), _index(params, "TILECOL")
    if row >= matrix.matrix_height:
        raise TileOutOfRangeError(f"TILEROW {row} is outside the tile matrix", locator="TILEROW")
    if col >= matrix.matrix_width:
        raise TileOutOfRangeError(f"TILECOL {col} is outside the tile matrix", locator="TILECOL")
    return TileAddress(layer, style, tms, matrix.level, row, col, image_format)


@dataclass(frozen=True, slots=True)
class FeatureInfoParams:
    """A GetFeatureInfo: the tile clicked on, the pixel in it and the answer's format."""

    tile: TileAddress
    i: int
    j: int
    info_format: str


def parse_feature_info(
    params: Mapping[str, str], sets: TileMatrixSets, project: Project
) -> FeatureInfoParams:
    """The tile parameters plus I, J and INFOFORMAT."""
    tile = parse_tile(params, sets, project)
    i, j = _index(params, "I"), _index(params, "J")
    for key, value in (("I", i), ("J", j)):
        if value >= TILE_SIZE:
            raise PointIJOutOfRangeError(f"{key} {value} is outside the tile", locator=key)
    return FeatureInfoParams(tile, i, j, required(params, "INFOFORMAT"))
