"""QGIS projects (`.qgs`, `.qgz`) read into the same `Project` as the YAML files.

`reader` walks the layer tree, `layers` builds each data layer, `sources` reads the providers'
data sources, `publishing` the project's server settings, `symbology` the renderers and labels,
`files` the file itself (safely). docs/qgis-projects.md says what is read, approximated and
ignored.
"""

from ogcserve.projects.qgis.files import is_qgis_project
from ogcserve.projects.qgis.reader import QgisLoaded, log_issues, read_qgis_project

__all__ = ["QgisLoaded", "is_qgis_project", "log_issues", "read_qgis_project"]
