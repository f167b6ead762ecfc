"""Edits as events: what a committed write changed, for whoever keeps copies (the tile cache).

Every write passes through `AccessLayer.edit` (WFS-T, OGC API - Features Part 4, plugins), so
an `Edit` is emitted there, once per committed transaction, never by services.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ogcserve.geo import BBox
    from ogcserve.projects.model import Layer, Project

log = logging.getLogger("ogcserve.access")


@dataclass(frozen=True, slots=True)
class Edit:
    """A committed edit of one layer: the extents (in `crs`) of the features before and after."""

    project: Project
    layer: Layer
    crs: str
    extents: tuple[BBox, ...]


class EditEvents:
    """Subscribers called after each committed edit; one that fails is logged, not fatal."""

    def __init__(self) -> None:
        self._subscribers: tuple[Callable[[Edit], None], ...] = ()
        self._lock = threading.Lock()

    def subscribe(self, subscriber: Callable[[Edit], None]) -> None:
        """Call `subscriber` after every committed edit."""
        with self._lock:
            self._subscribers = (*self._subscribers, subscriber)

    def emit(self, edit: Edit) -> None:
        """Tell every subscriber (the edit is committed already: nothing can undo it)."""
        for subscriber in self._subscribers:
            try:
                subscriber(edit)
            except Exception:
                log.exception("a subscriber to edits of %s failed", edit.layer.name)
