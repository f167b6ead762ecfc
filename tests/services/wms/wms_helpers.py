"""WMS test helpers: schema validation, requests, images, the role plugin folder."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from PIL import Image

from ogcserve.server import Server
from ogcserve.testing import Result, call

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "plugins"


class _LocalSchemas(etree.Resolver):
    """Maps schemas.opengis.net (and the W3C xml.xsd) onto tests/schemas: no network."""

    def resolve(self, system_url: str, public_id: str, context: Any) -> Any:
        for prefix in ("http://schemas.opengis.net/", "https://schemas.opengis.net/"):
            if system_url.startswith(prefix):
                return self.resolve_filename(str(SCHEMAS / system_url[len(prefix) :]), context)
        if system_url.endswith("/xml.xsd"):
            return self.resolve_filename(str(SCHEMAS / "xml.xsd"), context)
        return None


def _parser() -> etree.XMLParser:
    parser = etree.XMLParser(no_network=True, load_dtd=False, resolve_entities=False)
    parser.resolvers.add(_LocalSchemas())
    return parser


def validate_capabilities(body: bytes, version: str) -> etree._Element:
    """Parse and validate against the vendored XSD (1.3.0) or DTD (1.1.1); return the root."""
    doc = etree.fromstring(body, _parser())
    if version == "1.3.0":
        # sld_capabilities.xsd imports the WMS schema: it validates the extended operations too.
        schema_doc = etree.parse(str(SCHEMAS / "sld/1.1.0/sld_capabilities.xsd"), _parser())
        schema = etree.XMLSchema(schema_doc)
    else:
        assert b"WMS_MS_Capabilities.dtd" in body
        schema = etree.DTD(str(SCHEMAS / "wms/1.1.1/WMS_MS_Capabilities.dtd"))
    assert schema.validate(doc), schema.error_log
    return doc


def validate_exception(body: bytes, version: str) -> etree._Element:
    """A ServiceExceptionReport valid for its version."""
    doc = etree.fromstring(body, _parser())
    if version == "1.3.0":
        schema: Any = etree.XMLSchema(
            etree.parse(str(SCHEMAS / "wms/1.3.0/exceptions_1_3_0.xsd"), _parser())
        )
    else:
        schema = etree.DTD(str(SCHEMAS / "wms/1.1.1/WMS_exception_1_1_1.dtd"))
    assert schema.validate(doc), schema.error_log
    return doc


def image(result: Result) -> Image.Image:
    assert result.status == 200, result.body[:500]
    return Image.open(io.BytesIO(result.body))


def get(server: Server, query: str, role: str | None = None, **headers: str) -> Result:
    hdrs = dict(headers)
    if role:
        hdrs["X-Role"] = role
    return call(server, f"/ows?{query}", headers=hdrs)


def role_plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plugin folder with role_access only (not the watermark, which stamps every map)."""
    folder = tmp_path_factory.mktemp("plugins")
    os.symlink(EXAMPLES / "role_access", folder / "role_access")
    return folder
