"""Logging for `ogcserve serve`: one handler on the root logger, so that messages from any
logger (ogcserve's, a plugin's own, the QGIS facade's `qgis.<tag>`) appear at their level.

uvicorn applies this configuration in every process it starts (the dispatcher's workers
included), so worker processes log like the parent. Each line carries the process id.
"""

from __future__ import annotations

from typing import Any

FORMAT = "%(asctime)s %(levelname)-8s [%(process)d] %(name)s: %(message)s"


def log_config(level: str, access_log: bool) -> dict[str, Any]:
    """A `logging.config.dictConfig` document: everything at `level` and above to stderr, and
    the access lines (`ogcserve.access`, INFO) whatever the level, unless `access_log` is off."""
    level = level.upper()
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
        },
    }
