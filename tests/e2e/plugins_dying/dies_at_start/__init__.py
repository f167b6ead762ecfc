"""A plugin that ends its process while being loaded, as a broken native extension would."""

import os
from typing import Any


def serverClassFactory(server_iface: Any) -> None:  # noqa: N802 (QGIS's name)
    os._exit(3)
