"""WFS fixtures (the helpers live in wfs_support.py)."""

from wfs_support import (  # noqa: F401 - fixtures are found by name
    edit_project,
    edit_server,
    role_server,
    server,
)
