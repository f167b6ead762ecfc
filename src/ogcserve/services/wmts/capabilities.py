"""The WMTS 1.0.0 capabilities (WMTS 1.0.0 §7.1): operations, layers, tile matrix sets.

Layers are those the caller may read — data layers, groups and the project (named as in WMS) —
so a forbidden layer is absent, as from the WMS capabilities. Each offers both encodings: the
KVP operations at this URL and RESTful ResourceURL templates under /wmts/<project>.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from lxml import etree

from ogcserve.geo import BBox, transform_bbox, union
from ogcserve.services.ogcapi.links import origin as site_root
from ogcserve.services.tiles.matrices import TILE_SIZE, TileMatrixSet, TileMatrixSets
from ogcserve.services.wms.formats import InfoFormat
from ogcserve.services.wms.layers import project_of, root_name
from ogcserve.services.wms.urls import online_resource
from ogcserve.services.wms.xml import Maker

from .params import TILE_FORMATS

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.projects.model import Layer, Project

WMTS_NS = "http://www.opengis.net/wmts/1.0"
OWS_NS = "http://www.opengis.net/ows/1.1"
XLINK_NS = "http://www.w3.org/1999/xlink"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA = "http://schemas.opengis.net/wmts/1.0/wmtsGetCapabilities_response.xsd"
_WORLD: BBox = (-180.0, -90.0, 180.0, 90.0)
NSMAP = {None: WMTS_NS, "ows": OWS_NS, "xlink": XLINK_NS, "xsi": XSI_NS}


def rest_root(ctx: RequestContext, project: Project) -> str:
    """The RESTful base URL of a project's WMTS."""
    return f"{site_root(ctx)}/wmts/{quote(project.name, safe='')}"


def capabilities(ctx: RequestContext, sets: TileMatrixSets) -> bytes:
    """The whole document."""
    builder = _Builder(ctx, sets)
    root = builder.document()
    declaration = b'<?xml version="1.0" encoding="UTF-8"?>\n'
    return declaration + etree.tostring(root, encoding="UTF-8", pretty_print=True)


def _num(value: float) -> str:
    return repr(float(value)) if value != int(value) else str(int(value))


class _Builder:
    def __init__(self, ctx: RequestContext, sets: TileMatrixSets) -> None:
        self.ctx, self.sets = ctx, sets
        self.project = project_of(ctx)
        self.w = Maker(namespace=WMTS_NS, nsmap=NSMAP)
        self.ows = Maker(namespace=OWS_NS, nsmap=NSMAP)
        self.kvp = online_resource(ctx)
        self.rest = rest_root(ctx, self.project)
        self.matrix_sets = sets.of(self.project)

    def document(self) -> etree._Element:
        w = self.w
        root = w.Capabilities(version="1.0.0")
        root.set(f"{{{XSI_NS}}}schemaLocation", f"{WMTS_NS} {SCHEMA}")
        root.extend([self.identification(), self.operations(), self.contents()])
        metadata = w.ServiceMetadataURL()
        metadata.set(f"{{{XLINK_NS}}}href", f"{self.rest}/1.0.0/WMTSCapabilities.xml")
        root.append(metadata)
        return root

    def identification(self) -> etree._Element:
        ows, project = self.ows, self.project
        section = ows.ServiceIdentification(ows.Title(project.title))
        if project.abstract:
            section.append(ows.Abstract(project.abstract))
        section.extend([ows.ServiceType("OGC WMTS"), ows.ServiceTypeVersion("1.0.0")])
        return section

    def operations(self) -> etree._Element:
        ows = self.ows
        section = ows.OperationsMetadata()
        for name in ("GetCapabilities", "GetTile", "GetFeatureInfo"):
            get = ows.Get(ows.Constraint(ows.AllowedValues(ows.Value("KVP")), name="GetEncoding"))
            get.set(f"{{{XLINK_NS}}}href", self.kvp)
            section.append(ows.Operation(ows.DCP(ows.HTTP(get)), name=name))
        return section

    def contents(self) -> etree._Element:
        access, ctx, project = self.ctx.server.access, self.ctx, self.project
        contents = self.w.Contents()
        readable = access.readable_layers(ctx, project)
        name = root_name(ctx, project)
        if name:
            extent = union([b for b in (self.lonlat(x) for x in readable) if b])
            contents.append(self.layer(name, project.title, project.abstract, extent))
        for top in readable:
            for layer in top.walk():
                contents.append(
                    self.layer(layer.name, layer.title, layer.abstract, self.lonlat(layer))
                )
        contents.extend(self.matrix_set(tms) for tms in self.matrix_sets)
        return contents

    def layer(self, name: str, title: str, abstract: str, lonlat: BBox | None) -> etree._Element:
        w, ows = self.w, self.ows
        west, south, east, north = lonlat or _WORLD
        element = w.Layer(ows.Title(title or name))
        if abstract:
            element.append(ows.Abstract(abstract))
        element.extend(
            [
                ows.WGS84BoundingBox(
                    ows.LowerCorner(f"{_num(west)} {_num(south)}"),
                    ows.UpperCorner(f"{_num(east)} {_num(north)}"),
                ),
                ows.Identifier(name),
                w.Style(ows.Identifier("default"), isDefault="true"),
                *(w.Format(f) for f in TILE_FORMATS),
                *(w.InfoFormat(f.value) for f in InfoFormat),
                *(w.TileMatrixSetLink(w.TileMatrixSet(t.id)) for t in self.matrix_sets),
            ]
        )
        base = f"{self.rest}/{quote(name, safe='')}/{{Style}}/{{TileMatrixSet}}/{{TileMatrix}}"
        for mime, ext in TILE_FORMATS.items():
            template = f"{base}/{{TileRow}}/{{TileCol}}.{ext}"
            element.append(w.ResourceURL(format=mime, resourceType="tile", template=template))
        return element

    def matrix_set(self, tms: TileMatrixSet) -> etree._Element:
        w, ows = self.w, self.ows
        element = w.TileMatrixSet(ows.Identifier(tms.id), ows.SupportedCRS(tms.crs_urn))
        if tms.well_known_scale_set:
            element.append(w.WellKnownScaleSet(tms.well_known_scale_set))
        for matrix in tms.matrices:
            x, y = tms.in_crs_order(*matrix.top_left)  # in the CRS's axis order (§E.2)
            element.append(
                w.TileMatrix(
                    ows.Identifier(str(matrix.level)),
                    w.ScaleDenominator(repr(matrix.scale_denominator)),
                    w.TopLeftCorner(f"{_num(x)} {_num(y)}"),
                    w.TileWidth(str(TILE_SIZE)),
                    w.TileHeight(str(TILE_SIZE)),
                    w.MatrixWidth(str(matrix.matrix_width)),
                    w.MatrixHeight(str(matrix.matrix_height)),
                )
            )
        return element

    def lonlat(self, layer: Layer) -> BBox | None:
        """The layer's extent in lon/lat (a group's: its readable members')."""
        if layer.is_group:
            return union([b for b in (self.lonlat(c) for c in layer.children) if b])
        access = self.ctx.server.access
        extent = access.extent(self.ctx, layer)
        if extent is None:
            return None
        try:
            return transform_bbox(extent, access.crs(self.ctx, layer), "CRS:84")
        except ValueError:
            return None
