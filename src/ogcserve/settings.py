"""Process settings (not what is served: that is the project files). Env prefix OGCSERVE_."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ogcserve.sources.limits import SourceLimits


class Settings(BaseSettings):
    """How this server process runs; every field can be set as OGCSERVE_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="OGCSERVE_", extra="ignore")

    projects: list[Path] = Field(default_factory=list, description="Project files to serve")
    plugin_paths: list[Path] = Field(
        default_factory=list,
        description="Folders holding plugin folders (besides OGCSERVE_PLUGINPATH)",
    )
    plugins: list[str] = Field(
        default_factory=list, description="Dotted paths of plugin setup callables (module:func)"
    )
    load_entry_points: bool = Field(
        default=True, description="Load plugins installed with pip (group ogcserve.plugins)"
    )
    plugins_config: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per-plugin configuration blocks"
    )
    max_body_bytes: int = Field(
        default=64 * 1024 * 1024, description="Largest request body accepted"
    )
    max_features: int = Field(
        default=1_000_000, description="Most features one request may ask for"
    )
    wms_max_size: int = Field(
        default=4096, ge=1, description="Largest WIDTH or HEIGHT a WMS GetMap may ask for"
    )
    wfs_prefixed_type_names: bool = Field(
        default=False,
        description="List WFS feature types as ogcserve:<name> (GeoServer's way) instead of the"
        " bare layer name (QGIS Server's and MapServer's); requests accept both forms",
    )
    cache_entries: int = Field(default=512, description="Entries in the built-in memory cache")
    trace_filters: bool = Field(default=False, description="Log every filter call with timing")
    log_level: str = Field(default="INFO", description="Python logging level")
    source_connect_timeout: float = Field(
        default=5.0, gt=0, description="Seconds to open a connection to a database source"
    )
    source_query_timeout: float = Field(
        default=60.0, ge=0, description="Seconds one database statement may run (0: no limit)"
    )
    source_retry_after: float = Field(
        default=5.0,
        gt=0,
        description="Seconds a source that failed to connect answers 503 at once, before a probe",
    )
    source_queue_timeout: float = Field(
        default=5.0, gt=0, description="Seconds a request waits for a pooled connection"
    )
    source_max_waiting: int = Field(
        default=16, ge=0, description="Requests that may wait for one source's pool (0: no cap)"
    )
    source_stream_connections: int = Field(
        default=8, ge=1, description="Connections outside the pool per source for long streams"
    )
    write_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Seconds a client may take to accept the next part of a response",
    )

    def source_limits(self) -> SourceLimits:
        """The source_* settings, as the sources take them."""
        return SourceLimits(
            connect_timeout=self.source_connect_timeout,
            query_timeout=self.source_query_timeout,
            retry_after=self.source_retry_after,
            queue_timeout=self.source_queue_timeout,
            max_waiting=self.source_max_waiting,
            stream_connections=self.source_stream_connections,
        )
