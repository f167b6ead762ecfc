"""Value types of ogcserve.features."""

from __future__ import annotations

import numpy as np
import shapely

from ogcserve.features import FeatureBatch
from ogcserve.geo.wkb import WKBColumn


def test_head_keeps_every_column_aligned() -> None:
    points = shapely.points([0, 1, 2], [5, 6, 7])
    batch = FeatureBatch(
        [10, 11, 12],
        np.array(points, dtype=object),
        {"name": ["a", "b", "c"], "value": [1, 2, 3]},
        WKBColumn.pack([shapely.to_wkb(p) for p in points]),
    )
    two = batch.head(2)
    assert two.ids == [10, 11] and len(two) == 2
    assert two.columns == {"name": ["a", "b"], "value": [1, 2]}
    assert two.geometries is not None and list(two.geometries) == list(points[:2])
    assert two.wkb is not None and list(two.wkb.geometries()) == list(points[:2])
    assert len(batch.head(0)) == 0 and len(batch.head(5)) == 3
    bare = FeatureBatch([1, 2], None, {})
    assert bare.head(1).geometries is None and bare.head(1).wkb is None
