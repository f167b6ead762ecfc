"""From shapely geometries in a layer's CRS to pixel coordinates, in bulk: rings and lines
(`Subpaths`) that `paths.serialize` turns into Skia paths, and point coordinates for markers.

Nothing here loops over vertices in Python: coordinates come out of shapely as one numpy array
and are reprojected with one pyproj call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import pyproj
import shapely

from ogcserve.geo import transformer
from ogcserve.geo.wkb import Rings, WKBColumn, ranges, read_rings, starts_of

from .api import MapView

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

# Coordinates further than this many view sizes outside the image are clipped away before
# drawing: Skia works in float32, and strokes far outside the image cost time for nothing.
_CLIP_LIMIT = 4.0


class Projector:
    """Layer CRS -> view pixels, with the process-wide cached transformers of `ogcserve.geo`."""

    def transformer(self, source: str, target: str) -> pyproj.Transformer | None:
        """The x/y-ordered transformer from `source` to `target` (None: same CRS)."""
        if same_crs(source, target):
            return None
        return transformer(source, target)

    def to_pixels(self, view: MapView, layer_crs: str) -> Callable[[FloatArray], FloatArray]:
        """A function mapping (n, 2) layer coordinates to (n, 2) pixel coordinates."""
        transformer = self.transformer(layer_crs, view.crs)
        minx, miny, maxx, maxy = view.bbox
        sx = view.width / (maxx - minx)
        sy = view.height / (maxy - miny)

        def apply(xy: FloatArray) -> FloatArray:
            if len(xy) == 0:
                return xy.astype(np.float64)
            if transformer is None:
                x, y = xy[:, 0], xy[:, 1]
            else:
                with np.errstate(all="ignore"):
                    x, y = transformer.transform(xy[:, 0], xy[:, 1], errcheck=False)
            out = np.empty((len(xy), 2), dtype=np.float64)
            out[:, 0] = (np.asarray(x) - minx) * sx
            out[:, 1] = (maxy - np.asarray(y)) * sy
            return out

        return apply

    def view_bounds_in(self, view: MapView, layer_crs: str, pixels: float) -> FloatArray | None:
        """The view's bbox (grown by `pixels` on each side) in the layer CRS (None: unknown)."""
        grown = view.grown(pixels)
        transformer = self.transformer(view.crs, layer_crs)
        if transformer is None:
            return np.array(grown)
        try:
            bounds = transformer.transform_bounds(*grown, densify_pts=21, errcheck=True)
        except pyproj.exceptions.ProjError:
            return None
        result = np.array(bounds, dtype=np.float64)
        if result[0] > result[2]:
            # pyproj's way of saying the bounds cross the antimeridian (a view grown past the
            # world's edge, as every tile at it is): any longitude may be in view.
            result[0], result[2] = -np.inf, np.inf
        return result if not np.isnan(result).any() and np.isfinite(result[[1, 3]]).all() else None


@lru_cache(maxsize=256)
def same_crs(a: str, b: str) -> bool:
    """Whether two CRS identifiers name the same CRS (EPSG:4326 vs epsg:4326, CRS:84 vs OGC)."""
    if a.strip().upper() == b.strip().upper():
        return True
    try:
        return bool(pyproj.CRS.from_user_input(a) == pyproj.CRS.from_user_input(b))
    except pyproj.exceptions.CRSError:
        return False


def cull(bounds: FloatArray, view: FloatArray | None) -> IntArray:
    """Indices of the rows whose (minx, miny, maxx, maxy) meet `view` (all if None); NaN
    bounds (a missing or empty geometry) never do."""
    with np.errstate(invalid="ignore"):
        if view is None:
            return np.flatnonzero(~np.isnan(bounds).any(axis=1))
        return np.flatnonzero(
            (bounds[:, 0] <= view[2])
            & (bounds[:, 2] >= view[0])
            & (bounds[:, 1] <= view[3])
            & (bounds[:, 3] >= view[1])
        )


@dataclass(frozen=True, slots=True)
class Subpaths:
    """Rings / line strings in pixels: `coords` split by `counts`, each owned by a feature."""

    coords: FloatArray
    counts: IntArray
    feature: IntArray
    closed: npt.NDArray[np.bool_]


def decompose(
    geometries: npt.NDArray[np.object_], to_pixels: Callable[[FloatArray], FloatArray]
) -> Subpaths:
    """Split polygons into rings and lines into parts, and project their coordinates.

    Works on coordinate arrays straight out of GEOS: a part without holes is one subpath, so
    its point count and coordinates come in bulk (`get_num_coordinates`, `get_coordinates`);
    only polygons with holes go through `to_ragged_array`. Making a geometry object per ring
    (`get_rings`) cost more than drawing them on a 10k-polygon map.
    """
    kinds = shapely.get_type_id(geometries)
    present = ~shapely.is_empty(geometries) & (kinds >= 0)
    pieces: list[tuple[FloatArray, IntArray, IntArray, bool]] = []
    for family, areal in ((_AREAL, True), (_LINEAR, False)):
        index = np.flatnonzero(present & np.isin(kinds, family))
        if not len(index):
            continue
        parts, part_of = _single_parts(geometries[index], kinds[index])
        owner = index[part_of]
        simple = np.ones(len(parts), dtype=bool)
        if areal:
            simple = shapely.get_num_interior_rings(parts) == 0
        if simple.any():
            counts = shapely.get_num_coordinates(parts[simple]).astype(np.intp)
            pieces.append((shapely.get_coordinates(parts[simple]), counts, owner[simple], areal))
        if not simple.all():
            coords, counts, ring_of = _ragged_rings(parts[~simple])
            pieces.append((coords, counts, owner[~simple][ring_of], areal))
    merged = _in_feature_order(
        [Subpaths(c, n, o, np.full(len(n), areal)) for c, n, o, areal in pieces]
    )
    return Subpaths(to_pixels(merged.coords), merged.counts, merged.feature, merged.closed)


def _in_feature_order(pieces: list[Subpaths]) -> Subpaths:
    """The subpaths of `pieces`, every feature's together and features in order (painter's
    order is the features' order)."""
    if not pieces:
        empty = np.zeros(0, dtype=np.intp)
        return Subpaths(np.zeros((0, 2)), empty, empty, np.zeros(0, dtype=bool))
    coords = np.concatenate([p.coords for p in pieces])
    counts = np.concatenate([p.counts for p in pieces])
    owner = np.concatenate([p.feature for p in pieces]).astype(np.intp)
    closed = np.concatenate([p.closed for p in pieces])
    if len(pieces) > 1 or not np.all(owner[:-1] <= owner[1:]):
        order = np.argsort(owner, kind="stable")
        offsets = starts_of(counts)
        coords = coords[ranges(offsets[order], counts[order])]
        counts, owner, closed = counts[order], owner[order], closed[order]
    return Subpaths(coords, counts, owner, closed)


class Shapes:
    """A layer's geometries as drawing needs them: every row's type and bounds, shapely objects
    for the rows asked for, and rings in pixels.

    From shapely objects, or from WKB: then the rings of (multi)polygons and lines are read
    straight off the bytes (`ogcserve.geo.wkb.read_rings`, no GEOS object made), and shapely
    decodes only the other rows, or a row that something else needs as an object (labels,
    clipping at deep zoom).
    """

    def __init__(self, geometries: npt.NDArray[np.object_] | WKBColumn) -> None:
        self._column: WKBColumn | None = None
        self._rings: Rings | None = None
        if isinstance(geometries, WKBColumn):
            self._column = geometries
            # (a reader may have read them already, batch by batch: WKBColumn.with_rings)
            rings = geometries.rings if geometries.rings is not None else read_rings(geometries)
            self._rings = rings
            self._objects = np.full(len(geometries), None, dtype=object)
            self._decoded = np.zeros(len(geometries), dtype=bool)
            self.kinds: IntArray = rings.kind.astype(np.intp)
            self.bounds: FloatArray = rings.bounds
            other = np.flatnonzero(~rings.read)
            if len(other):
                objects = self.objects(other)
                self.kinds[other] = shapely.get_type_id(objects)
                self.bounds[other] = shapely.bounds(objects)
        else:
            self._objects = np.asarray(geometries, dtype=object)
            self._decoded = np.ones(len(geometries), dtype=bool)
            self.kinds = shapely.get_type_id(self._objects).astype(np.intp)
            self.bounds = shapely.bounds(self._objects)

    def __len__(self) -> int:
        return len(self._objects)

    def objects(self, rows: IntArray) -> npt.NDArray[np.object_]:
        """Shapely geometries of `rows` (decoded from WKB once, when first asked for)."""
        missing = rows[~self._decoded[rows]]
        if len(missing) and self._column is not None:
            missing = np.unique(missing)
            self._objects[missing] = self._column.take(missing).geometries()
            self._decoded[missing] = True
        result: npt.NDArray[np.object_] = self._objects[rows]
        return result

    def subpaths(self, rows: IntArray, to_pixels: Callable[[FloatArray], FloatArray]) -> Subpaths:
        """The rings and lines of `rows` (sorted), in pixels; `feature` indexes `rows`."""
        rings = self._rings
        if rings is None:
            return decompose(self._objects[rows], to_pixels)
        read = rings.read[rows]
        local = np.full(len(self), -1, dtype=np.intp)
        local[rows[read]] = np.flatnonzero(read)
        mine = local[rings.owner] >= 0
        coords, counts, owner, closed = rings.coords, rings.counts, rings.owner, rings.closed
        if not mine.all():
            offsets = starts_of(counts)
            coords = coords[ranges(offsets[mine], counts[mine])]
            counts, owner, closed = counts[mine], owner[mine], closed[mine]
        found = Subpaths(to_pixels(coords), counts, local[owner], closed)
        if read.all():
            return found
        rest = np.flatnonzero(~read)
        others = decompose(self.objects(rows[rest]), to_pixels)
        return _in_feature_order(
            [found, Subpaths(others.coords, others.counts, rest[others.feature], others.closed)]
        )


_AREAL = (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)
_LINEAR = (
    shapely.GeometryType.LINESTRING,
    shapely.GeometryType.LINEARRING,
    shapely.GeometryType.MULTILINESTRING,
)
_MULTI = (shapely.GeometryType.MULTIPOLYGON, shapely.GeometryType.MULTILINESTRING)


def _single_parts(
    geometries: npt.NDArray[np.object_], kinds: IntArray
) -> tuple[npt.NDArray[np.object_], IntArray]:
    """Polygons / lines, with the index of the geometry each came from."""
    if not np.isin(kinds, _MULTI).any():
        return geometries, np.arange(len(geometries))
    parts, part_of = shapely.get_parts(geometries, return_index=True)
    return parts, part_of.astype(np.intp)


def _ragged_rings(polygons: npt.NDArray[np.object_]) -> tuple[FloatArray, IntArray, IntArray]:
    """Coordinates, per-ring point counts and each ring's polygon, for polygons with holes."""
    _, coords, (ring_offsets, polygon_offsets) = shapely.to_ragged_array(polygons, include_z=False)
    ring_of = np.repeat(np.arange(len(polygons)), np.diff(polygon_offsets))
    counts = np.diff(ring_offsets).astype(np.intp)
    return np.asarray(coords, dtype=np.float64), counts, ring_of.astype(np.intp)


def clip_far(
    objects: Callable[[IntArray], npt.NDArray[np.object_]],
    subpaths: Subpaths,
    to_pixels: Callable[[FloatArray], FloatArray],
    width: int,
    height: int,
) -> Subpaths:
    """Clip the features that reach far outside the image (deep zooms) to a margin around it.

    Only those features are rebuilt (in pixel space, with `shapely.clip_by_rect`, from the
    shapely objects `objects(features)` gives); the others keep their subpaths. Features with
    non-finite coordinates (outside the projection) are dropped.
    """
    if len(subpaths.counts) == 0:
        return subpaths
    size = max(width, height)
    lo, hi = -_CLIP_LIMIT * size, (1 + _CLIP_LIMIT) * size
    starts = starts_of(subpaths.counts)
    x, y = subpaths.coords[:, 0], subpaths.coords[:, 1]
    with np.errstate(invalid="ignore"):
        far_point = ~((x > lo) & (x < hi) & (y > lo) & (y < hi))
    far_sub = np.logical_or.reduceat(far_point, starts) if len(far_point) else far_point
    if not far_sub.any():
        return subpaths
    far_features = np.unique(subpaths.feature[far_sub])
    keep_sub = ~np.isin(subpaths.feature, far_features)
    keep_point = np.repeat(keep_sub, subpaths.counts)

    def pixel_coords(xy: FloatArray) -> FloatArray:
        out = to_pixels(xy)
        return np.where(np.isfinite(out), out, np.nan)

    in_pixels = shapely.transform(objects(far_features), pixel_coords)
    valid = ~np.isnan(shapely.bounds(in_pixels)).any(axis=1)
    margin = 0.5 * size
    clipped = shapely.clip_by_rect(
        shapely.make_valid(in_pixels[valid]) if valid.any() else in_pixels[valid],
        -margin,
        -margin,
        width + margin,
        height + margin,
    )
    rebuilt = decompose(clipped, lambda xy: xy)
    rebuilt_feature = far_features[valid][rebuilt.feature]

    coords = np.concatenate([subpaths.coords[keep_point], rebuilt.coords])
    counts = np.concatenate([subpaths.counts[keep_sub], rebuilt.counts])
    feature = np.concatenate([subpaths.feature[keep_sub], rebuilt_feature])
    closed = np.concatenate([subpaths.closed[keep_sub], rebuilt.closed])
    order = np.argsort(feature, kind="stable")
    offsets = starts_of(counts)
    gather = ranges(offsets[order], counts[order])
    return Subpaths(coords[gather], counts[order], feature[order], closed[order])


def point_coords(
    geometries: npt.NDArray[np.object_], to_pixels: Callable[[FloatArray], FloatArray]
) -> tuple[FloatArray, IntArray]:
    """Pixel coordinates of every point (multi-points split) and the feature of each."""
    parts, part_of = shapely.get_parts(geometries, return_index=True)
    xy = to_pixels(shapely.get_coordinates(parts))
    if len(xy) != len(parts):  # not only points: take one point per part
        xy = to_pixels(shapely.get_coordinates(shapely.point_on_surface(parts)))
    return xy, part_of.astype(np.intp)
