"""The one layer every read and write of data passes through (DESIGN §4)."""

from ogcserve.access.layer import AccessLayer, Editor, Read

__all__ = ["AccessLayer", "Editor", "Read"]
