"""Access control, in one package (DESIGN §4): how the access-control filters of plugins and
of the project combine (`rules`), and the one layer every read and write of data passes
through (`layer`), reached as `server.access`.
"""

from ogcserve.access.layer import AccessLayer, Editor, Read, ReadParameters

__all__ = ["AccessLayer", "Editor", "Read", "ReadParameters"]
