"""Compatibility layers that let plugins written for other servers run on ogcserve.

`compat.qgis` is the QGIS Server facade. The core never imports this package; `app.py`, the
composition root, wires it into the plugin loader.
"""
