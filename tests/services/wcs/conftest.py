"""WCS fixtures (the helpers live in wcs_support.py)."""

from wcs_support import server  # noqa: F401 - fixtures are found by name
