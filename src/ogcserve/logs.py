"""Logging for `ogcserve serve`: one handler on the root logger, so that messages from any
logger (ogcserve's, a plugin's own, the QGIS facade's `qgis.<tag>`) appear at their level.

uvicorn applies this configuration in every process it starts (the dispatcher's workers
included), so worker processes log like the parent. Each line carries the process id.
"""

from __future__ import annotations

from typing import Any

FORMAT = "%(asctime)s %(levelname)-8s [%(process)d] %(name)s: %(message)s"

# Libraries ogcserve uses whose debug lines are not for a server's operator: with `--log-level
# debug`, pyproj alone writes ~20 `PROJ_ERROR` lines per GetMap of the demo (state-plane
# layers asked for the world), rasterio a dozen per raster read, asyncio its selector. They log
# from WARNING up whatever the level.
LIBRARIES = ("asyncio", "psycopg", "pyproj", "rasterio")
_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def log_config(level: str, access_log: bool) -> dict[str, Any]:
    """A `logging.config.dictConfig` document: everything at `level` and above to stderr (the
    LIBRARIES from WARNING up), and the access lines (`ogcserve.access`, INFO) whatever the
    level, unless `access_log` is off."""
    level = level.upper()
    quiet = {"level": max(level, "WARNING", key=_LEVELS.index)}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": FORMAT}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "stream": "ext://sys.stderr",
            },
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            # uvicorn's own lines go through the same handler; its access log is replaced by
            # ogcserve.access, which knows the body size and the time taken.
            "uvicorn": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False},
            "ogcserve.access": {"level": "INFO" if access_log else "CRITICAL"},
            **{name: dict(quiet) for name in LIBRARIES},
        },
    }
