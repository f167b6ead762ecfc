"""The descriptive parts of WMS capabilities a project may set: the service's contact, and a
layer's attribution, metadata URLs and data URL (WMS 1.3.0 §7.2.4.2 and §7.2.4.6.10-13, 1.1.1
§7.1.4.5), written as QGIS Server writes them."""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from ogcserve.projects.config import ContactConfig, LinkConfig
from ogcserve.projects.model import Layer
from ogcserve.services.wms.xml import Maker

Online = Callable[[str], etree._Element]

# WMS 1.3.0's schema knows two metadata standards by these names; QGIS's short ones map to them.
_METADATA_TYPES = {"FGDC": "FGDC:1998", "ISO19115": "ISO19115:2003", "TC211": "ISO19115:2003"}


def contact_information(w: Maker, contact: ContactConfig) -> list[etree._Element]:
    """A ContactInformation element when the project names a contact (none otherwise)."""
    parts = []
    if contact.person or contact.organization:
        parts.append(
            w.ContactPersonPrimary(
                w.ContactPerson(contact.person), w.ContactOrganization(contact.organization)
            )
        )
    if contact.position:
        parts.append(w.ContactPosition(contact.position))
    if contact.phone:
        parts.append(w.ContactVoiceTelephone(contact.phone))
    if contact.email:
        parts.append(w.ContactElectronicMailAddress(contact.email))
    return [w.ContactInformation(*parts)] if parts else []


def layer_links(w: Maker, layer: Layer, online: Online, v13: bool) -> list[etree._Element]:
    """Attribution, MetadataURLs and DataURL, in the schema's order (1.1.1's DTD leaves a
    MetadataURL's type free: it is written as given)."""
    elements = []
    attribution = layer.attribution
    if attribution is not None and (attribution.title or attribution.url):
        element = w.Attribution()
        if attribution.title:
            element.append(w.Title(attribution.title))
        if attribution.url:
            element.append(online(attribution.url))
        elements.append(element)
    for link in layer.metadata_urls:
        if link.url:
            kind = _METADATA_TYPES.get(link.type.upper(), link.type) if v13 else link.type
            elements.append(w.MetadataURL(w.Format(link.format), online(link.url), type=kind))
    if layer.data_url is not None and layer.data_url.url:
        elements.append(_data_url(w, layer.data_url, online))
    return elements


def _data_url(w: Maker, link: LinkConfig, online: Online) -> etree._Element:
    return w.DataURL(w.Format(link.format), online(link.url))
