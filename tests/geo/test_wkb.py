"""The vectorised WKB reader: same rings as shapely, and any row it cannot read is left alone."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import shapely

from ogcserve.geo.wkb import WKBColumn, read_rings
from ogcserve.rendering.geometry import decompose

DONUT = shapely.Polygon([(0, 0), (10, 0), (10, 10), (0, 10)], [[(2, 2), (4, 2), (4, 4), (2, 4)]])
TWO_PARTS = shapely.MultiPolygon([DONUT, shapely.box(20, 20, 30, 25)])
LINE = shapely.LineString([(0, 0), (5, 5), (9, 1)])
LINES = shapely.MultiLineString([[(0, 0), (1, 1)], [(3, 3), (4, 5), (6, 6)]])


def wkb(geometry: shapely.Geometry, **kwargs: object) -> bytes:
    return bytes(shapely.to_wkb(geometry, byte_order=1, flavor="iso", **kwargs))


def column(items: list[bytes | None]) -> WKBColumn:
    return WKBColumn.pack(items)


def by_feature(
    coords: np.ndarray, counts: np.ndarray, owner: np.ndarray, closed: np.ndarray
) -> dict[int, list[tuple[bool, tuple[float, ...]]]]:
    """Each feature's parts, as (closed, flat coordinates), in a canonical order."""
    out: dict[int, list[tuple[bool, tuple[float, ...]]]] = {}
    for part, start in enumerate(np.concatenate([[0], np.cumsum(counts)[:-1]]).tolist()):
        flat = tuple(coords[start : start + counts[part]].ravel().tolist())
        out.setdefault(int(owner[part]), []).append((bool(closed[part]), flat))
    return {k: sorted(v) for k, v in out.items()}


def test_same_rings_as_shapely_for_every_shape_it_reads() -> None:
    # Enough rows that the deeper ones are not handed to shapely as "a few rows left".
    shapes = [DONUT, TWO_PARTS, LINE, LINES, shapely.box(-5, -5, -1, -1)] * 20
    rings = read_rings(column([wkb(g) for g in shapes]))
    assert rings.read.all()
    expected = decompose(np.array(shapes, dtype=object), lambda xy: xy)
    # Within a feature shapely's path lists rings without holes first; WKB keeps file order.
    # Either draws the same (one even-odd path per feature), so compare each feature's rings.
    assert by_feature(rings.coords, rings.counts, rings.owner, rings.closed) == by_feature(
        expected.coords, expected.counts, expected.feature, expected.closed
    )
    np.testing.assert_array_equal(rings.bounds, shapely.bounds(np.array(shapes, dtype=object)))
    assert rings.kind.tolist() == shapely.get_type_id(np.array(shapes, dtype=object)).tolist()


def test_rows_it_does_not_read_are_reported_not_guessed() -> None:
    point = shapely.Point(1, 2)
    polygon_z = shapely.Polygon([(0, 0, 1), (1, 0, 1), (1, 1, 1), (0, 0, 1)])
    big_endian = bytes(shapely.to_wkb(DONUT, byte_order=0))
    collection = shapely.GeometryCollection([LINE, DONUT])
    items = [wkb(point), wkb(polygon_z), big_endian, wkb(collection), None, wkb(LINE)]
    rings = read_rings(column(items))
    assert rings.read.tolist() == [False, False, False, False, False, True]
    assert set(rings.owner.tolist()) == {5}
    assert rings.kind[0] == shapely.GeometryType.POINT
    assert rings.kind[3] == shapely.GeometryType.GEOMETRYCOLLECTION
    assert rings.kind[4] == -1
    assert np.isnan(rings.bounds[:5]).all()


def test_empty_geometries_are_read_with_no_parts() -> None:
    rings = read_rings(column([wkb(shapely.Polygon()), wkb(shapely.MultiPolygon()), wkb(LINE)]))
    assert rings.read.tolist() == [True, True, True]
    assert rings.owner.tolist() == [2]
    assert np.isnan(rings.bounds[:2]).all()


@pytest.mark.parametrize("cut", [1, 4, 5, 8, 9, 12, 13, 20, 60, 100])
def test_truncated_wkb_is_left_to_shapely_without_reading_past_the_row(cut: int) -> None:
    whole = wkb(TWO_PARTS)
    assert cut < len(whole)
    rings = read_rings(column([whole[:cut], wkb(LINE)]))
    assert not rings.read[0] and rings.read[1]
    assert rings.owner.tolist() == [1]
    np.testing.assert_array_equal(rings.coords, shapely.get_coordinates(LINE))


def test_lying_counts_and_garbage_are_left_to_shapely() -> None:
    huge_ring = struct.pack("<BII", 1, 3, 1) + struct.pack("<I", 2**31) + bytes(32)
    huge_parts = struct.pack("<BII", 1, 6, 2**32 - 1) + wkb(DONUT)
    wrong_part = struct.pack("<BII", 1, 6, 1) + wkb(LINE)  # a multipolygon holding a line
    rng = np.random.default_rng(7)
    garbage = [rng.bytes(int(n)) for n in rng.integers(0, 80, 200)]
    rings = read_rings(column([huge_ring, huge_parts, wrong_part, *garbage, wkb(DONUT)]))
    assert not rings.read[:3].any()
    assert rings.read[-1]
    assert set(rings.owner.tolist()) <= set(np.flatnonzero(rings.read).tolist())


def test_many_parts_or_a_few_deep_rows_are_left_to_shapely() -> None:
    islands = shapely.MultiPolygon([shapely.box(i, 0, i + 0.5, 1) for i in range(40)])
    simple = [wkb(shapely.box(0, 0, 1, 1))] * 30
    rings = read_rings(column([wkb(islands), *simple]))
    assert not rings.read[0]
    assert rings.read[1:].all()
    # Past two steps, a handful of rows still going are not worth a numpy round each.
    rings = read_rings(column([wkb(TWO_PARTS), *simple]))
    assert not rings.read[0] and rings.read[1:].all()


def test_points_at_every_byte_offset() -> None:
    # Rows of varied length put the coordinates at every offset modulo 16.
    shapes = [shapely.LineString([(i, -i), (i + 0.25, 3.5)]) for i in range(40)]
    items = [b"\x00" * (i % 16) for i in range(40)]
    packed = WKBColumn.pack([pad + wkb(g) for pad, g in zip(items, shapes, strict=True)])
    trimmed = packed.skip(np.array([len(p) for p in items]))
    rings = read_rings(trimmed)
    np.testing.assert_array_equal(
        rings.coords, shapely.get_coordinates(np.array(shapes, dtype=object))
    )


def test_column_pack_take_concat_and_decode() -> None:
    first = column([wkb(DONUT), None, wkb(LINE)])
    second = column([wkb(LINES)])
    both = WKBColumn.concat([first, second])
    assert len(both) == 4
    assert both.blobs() == [wkb(DONUT), None, wkb(LINE), wkb(LINES)]
    decoded = both.take(np.array([3, 1, 0])).geometries()
    assert shapely.equals(decoded[0], LINES) and decoded[1] is None
    assert shapely.equals(decoded[2], DONUT)
    assert len(WKBColumn.concat([])) == 0


def test_broken_row_decodes_to_none_with_a_warning() -> None:
    with pytest.warns(Warning, match="Invalid WKB"):
        decoded = column([b"\x01\x03\x00\x00\x00\xff", wkb(LINE)]).geometries()
    assert decoded[0] is None and shapely.equals(decoded[1], LINE)


def test_rings_read_column_by_column_are_the_rings_of_the_whole() -> None:
    # A drawing reads each batch's rings as it comes (WKBColumn.with_rings), then joins them.
    point = shapely.Point(1, 2)
    parts = [
        [wkb(DONUT), None, wkb(LINE)],
        [wkb(point), wkb(TWO_PARTS)],
        [wkb(shapely.Polygon())],
        [wkb(LINES), wkb(LINE), None],
    ]
    joined = WKBColumn.concat([column(p).with_rings() for p in parts])
    whole = read_rings(WKBColumn.concat([column(p) for p in parts]))
    assert joined.rings is not None
    for name in ("coords", "counts", "owner", "closed", "read", "kind", "bounds"):
        np.testing.assert_array_equal(getattr(joined.rings, name), getattr(whole, name), name)
    assert joined.blobs() == [b for p in parts for b in p]
    # A column some of whose parts were not read has no rings: the reader reads it whole.
    assert WKBColumn.concat([column(parts[0]).with_rings(), column(parts[1])]).rings is None
    once = column(parts[0]).with_rings()
    assert once.with_rings() is once
    # Taking rows or skipping headers makes new rows: their rings are read again.
    assert once.take(np.array([0])).rings is None
