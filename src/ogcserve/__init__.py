"""ogcserve: an OGC map server (WMS, WFS, WCS, OGC API) whose behaviour plugins change."""

__version__ = "0.1.0"
