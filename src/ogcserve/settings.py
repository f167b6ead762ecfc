"""Process settings (not what is served: that is the project files). Env prefix OGCSERVE_."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ogcserve.sources.limits import SourceLimits


class Settings(BaseSettings):
    """How this server process runs; every field can be set as OGCSERVE_<NAME>."""

    # An empty variable (OGCSERVE_LOG_LEVEL=) means the default, as if it were not set.
    model_config = SettingsConfigDict(env_prefix="OGCSERVE_", extra="ignore", env_ignore_empty=True)

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
    max_url_length: int = Field(
        default=65_535,
        ge=256,
        le=65_535,
        description="Longest request URL (path and query) accepted; longer ones get a 414"
        " (at most 65535, the longest URL the HTTP parser can split)",
    )
    max_header_bytes: int = Field(
        default=65_536, ge=1024, description="Largest header block accepted (431 beyond)"
    )
    max_parameters: int = Field(
        default=10_000,
        ge=1,
        description="Most parameters in one request's query string or form body",
    )
    allow_underscore_headers: bool = Field(
        default=False,
        description="Pass headers whose names hold '_' to the CGI environment (HTTP_*), where"
        " X_Role would meet X-Role; off, as nginx and Apache do",
    )
    max_features: int = Field(
        default=1_000_000, description="Most features one request may ask for"
    )
    wms_max_size: int = Field(
        default=4096, ge=1, description="Largest WIDTH or HEIGHT a WMS GetMap may ask for"
    )
    wcs_max_size: int = Field(
        default=8192, ge=1, description="Largest width or height of a WCS GetCoverage answer"
    )
    max_layers: int = Field(
        default=100,
        ge=1,
        description="Most layers one request may name (WMS LAYERS, QUERY_LAYERS, WFS TYPENAMES)",
    )
    request_timeout: float = Field(
        default=60.0,
        ge=0,
        description="Seconds of work a request may take before it is stopped (0: no limit)",
    )
    shutdown_grace: float = Field(
        default=10.0,
        ge=0,
        description="Seconds running requests get to finish when the server stops",
    )
    pid_file: Path | None = Field(
        default=None,
        description="File `ogcserve serve` writes its pid to, for `ogcserve reload` (which"
        " reads the reload's outcome from <pid_file>.reload)",
    )
    project_reread: bool = Field(
        default=True,
        description="Re-read a project file that changed at its next request (off: project"
        " changes wait for a reload, which takes them with the plugins' changes)",
    )
    reload_watch: float = Field(
        default=0.0,
        ge=0,
        description="Seconds between checks of the project files, plugin folders and installed"
        " plugins; a change reloads the server (0: no watching, reload on SIGHUP)",
    )
    reload_timeout: float = Field(
        default=120.0,
        gt=0,
        description="Seconds a reload's new workers get to load before the reload is given up",
    )
    plugin_errors_fatal: bool = Field(
        default=False,
        description="A plugin that fails to load stops the server from starting (a reload"
        " always works so: the old version keeps serving)",
    )
    xml_max_attributes: int = Field(
        default=100,
        ge=1,
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
    ogcapi_limit: int = Field(
        default=10, ge=1, description="OGC API Features: items per page when `limit` is not given"
    )
    ogcapi_max_limit: int = Field(
        default=10_000,
        ge=1,
        description="OGC API Features: most items per page (a larger `limit` is lowered to it)",
    )
    cache_backend: Literal["memory", "disk", "redis"] = Field(
        default="memory",
        description="Where documents, images and tiles are cached: memory (per process), disk"
        " (cache_dir, shareable between hosts) or redis (cache_redis_url, shared by all)",
    )
    cache_memory_bytes: int = Field(
        default=256 * 1024 * 1024, ge=0, description="Bytes the memory cache may hold (LRU)"
    )
    cache_dir: Path = Field(
        default=Path("ogcserve-cache"), description="Directory of the disk cache"
    )
    cache_redis_url: str = Field(
        default="redis://127.0.0.1:6379/0", description="Redis of the redis cache"
    )
    cache_redis_prefix: str = Field(
        default="ogcserve:", description="Prefix of every Redis key (servers sharing a Redis)"
    )
    cache_retry_after: float = Field(
        default=5.0,
        gt=0,
        description="Seconds a failing cache (Redis down, disk full) is skipped before a retry",
    )
    tile_metatile: int = Field(
        default=4, ge=1, le=16, description="Tiles drawn at once per side (a 4 x 4 metatile)"
    )
    tile_buffer: int = Field(
        default=64,
        ge=0,
        le=512,
        description="Pixels drawn around a metatile so labels and symbols meet at tile edges",
    )
    tile_max_age: int = Field(
        default=3600,
        ge=0,
        description="Cache-Control max-age of tiles, in seconds",
    )
    trace_filters: bool = Field(default=False, description="Log every filter call with timing")
    log_level: str = Field(
        default="INFO", description="Level of every logger: ogcserve's, plugins', QGIS facade's"
    )
    access_log: bool = Field(default=True, description="Log one line per request")
    cors_origins: list[str] = Field(
        default_factory=lambda: ["*"],
        description="Origins whose pages may read the answers ('*': any; empty: no CORS)",
    )
    cors_methods: list[str] = Field(
        default_factory=lambda: ["GET", "HEAD"], description="Methods allowed cross-origin"
    )
    cors_headers: list[str] = Field(
        default_factory=lambda: ["Content-Type"],
        description="Request headers allowed cross-origin (answered to preflights)",
    )
    cors_max_age: int = Field(default=3600, ge=0, description="Seconds a preflight is cached")
    cors_allow_credentials: bool = Field(
        default=False, description="Let pages send cookies and HTTP auth (explicit origins only)"
    )

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
    metrics: bool = Field(
        default=True,
        description="Count requests, plugin calls, reads and cache use for Prometheus (/metrics)",
    )
    metrics_token: str = Field(
        default="",
        description="Bearer token /metrics asks for (empty: none; see metrics_networks)",
    )
    metrics_networks: list[str] = Field(
        default_factory=list,
        description="Client networks (CIDR) that may read /metrics (empty: any client)",
    )
    ready_timeout: float = Field(
        default=2.0,
        gt=0,
        description="Seconds /ready waits for a database to answer its probe (libpq: 2 at least)",
    )
    ready_cache: float = Field(
        default=2.0,
        ge=0,
        description="Seconds an answer of /ready is reused (databases are probed no more often)",
    )
    admin_token: str = Field(
        default="",
        description="Token of the admin endpoints (/-/explain), sent as Ogcserve-Admin-Token;"
        " empty: those endpoints answer 404",
    )
    write_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Seconds a client may take to accept the next part of a response",
    )
    quick_on_loop: bool = Field(
        default=True,
        description="Answer quick OWS requests on the event loop, without the hand-over to a"
        " worker thread (http/inline.py); off for plugins that run an asyncio loop of their own",
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

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"log_level {value!r}: one of debug, info, warning, error, critical")
        return value.upper()

    @field_validator("metrics_networks")
    @classmethod
    def _networks(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ValueError(
                    f"metrics_networks: {value!r} is not a network such as 10.0.0.0/8"
                ) from None
        return values

    @field_validator("cors_methods", "cors_headers")
    @classmethod
    def _tokens(cls, values: list[str]) -> list[str]:
        for value in values:
            if not re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", value):
                raise ValueError(f"{value!r} is not an HTTP method or header name")
        return values

    @model_validator(mode="after")
    def _cors_is_coherent(self) -> Settings:
        origins = self.cors_origins
        if "*" in origins and len(origins) > 1:
            raise ValueError("cors_origins: '*' stands alone (any origin) or is left out")
        if self.cors_allow_credentials and "*" in origins:
            raise ValueError(
                "cors_allow_credentials needs explicit cors_origins, not '*': "
                "any web page could otherwise act with the visitor's credentials"
            )
        for origin in origins:
            if origin != "*" and (origin.endswith("/") or "://" not in origin):
                raise ValueError(
                    f"cors_origins: {origin!r} is not an origin such as "
                    "https://maps.example.org (scheme, host, optional port)"
                )
        return self
