"""Process settings (not what is served: that is the project files). Env prefix OGCSERVE_."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    max_layers: int = Field(
        default=100, ge=1,
        description="Most layers one request may name (WMS LAYERS, QUERY_LAYERS, WFS TYPENAMES)",
    )
    request_timeout: float = Field(
        default=60.0, ge=0,
        description="Seconds of work a request may take before it is stopped (0: no limit)",
    )
    shutdown_grace: float = Field(
        default=10.0, ge=0,
        description="Seconds running requests get to finish when the server stops",
    )
    xml_max_attributes: int = Field(
        default=100, ge=1,
        description="Most attributes (and namespace declarations) on one element of request XML",
    )
    xml_max_depth: int = Field(
        default=100, ge=1, le=256, description="Deepest nesting of elements in request XML"
    )
    xml_max_elements: int = Field(
        default=1_000_000, ge=1, description="Most elements in one request XML document"
    )
    wfs_prefixed_type_names: bool = Field(
        default=False,
        description="List WFS feature types as ogcserve:<name> (GeoServer's way) instead of the"
        " bare layer name (QGIS Server's and MapServer's); requests accept both forms",
    )
    cache_entries: int = Field(default=512, description="Entries in the built-in memory cache")
    trace_filters: bool = Field(default=False, description="Log every filter call with timing")
    log_level: str = Field(default="INFO", description="Python logging level")
