"""Access control, in one package (DESIGN §4): how the access-control filters of plugins and
of the project combine (`rules`), and the one layer every read and write of data passes
through (`layer`), reached as `server.access`: reads are asked for as a `Read` (`read`),
writes go through an `Editor` (`editor`).
"""

from ogcserve.access.editor import Editor
from ogcserve.access.layer import AccessLayer
from ogcserve.access.read import Read, ReadParameters

__all__ = ["AccessLayer", "Editor", "Read", "ReadParameters"]
