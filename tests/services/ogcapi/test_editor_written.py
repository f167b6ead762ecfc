"""`Editor.written`: the caller's view of a feature the editor has just written, read inside
its transaction (what an ETag of that write is computed from), and nothing else."""

from __future__ import annotations

from pathlib import Path

import shapely
from transactions_support import build, context, edit_folder, layer

from ogcserve.features import Feature


def test_written_shows_only_what_this_editor_wrote_as_the_caller_sees_it(tmp_path: Path) -> None:
    server = build(edit_folder(tmp_path))
    with context(server, "hidden") as ctx:  # role `hidden` may not see `value`
        parcels = layer(ctx)
        with server.access.edit(ctx, parcels) as editor:
            [new] = editor.insert([Feature(None, shapely.Point(1, 2), {"role": "a", "name": "n"})])
            editor.update(3, {"name": "renamed"})
            assert editor.written(1) is None  # not written by this editor
            mine = editor.written(new)
            changed = editor.written("3")  # ids as text, as clients send them
            assert mine is not None and changed is not None
            assert mine.properties["name"] == "n" and "value" not in mine.properties
            assert changed.properties["name"] == "renamed" and "value" not in changed.properties
            assert mine.geometry.equals(shapely.Point(1, 2))
    server.close()
