"""The project's `contact` in the capabilities of the OWS-Common services (WFS 1.1/2.0, WCS
2.0: ows:ServiceProvider) and of WCS 1.0 (responsibleParty), as QGIS Server writes them."""

from __future__ import annotations

from lxml import etree

from ogcserve.projects.config import ContactConfig


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def service_provider(
    root: etree._Element, ows: str, contact: ContactConfig, default_name: str
) -> None:
    """ows:ServiceProvider: the organisation (else `default_name`) and the contact person."""
    provider = _sub(root, f"{{{ows}}}ServiceProvider")
    _sub(provider, f"{{{ows}}}ProviderName", contact.organization or default_name)
    person = _sub(provider, f"{{{ows}}}ServiceContact")
    if contact.person:
        _sub(person, f"{{{ows}}}IndividualName", contact.person)
    if contact.position:
        _sub(person, f"{{{ows}}}PositionName", contact.position)
    if contact.person or contact.position:
        _sub(person, f"{{{ows}}}Role", "PointOfContact")


def responsible_party(service: etree._Element, wcs: str, contact: ContactConfig) -> None:
    """WCS 1.0's responsibleParty (a person or an organisation is required), if any."""
    if not (contact.person or contact.organization):
        return
    party = _sub(service, f"{{{wcs}}}responsibleParty")
    if contact.person:
        _sub(party, f"{{{wcs}}}individualName", contact.person)
    if contact.organization:
        _sub(party, f"{{{wcs}}}organisationName", contact.organization)
    if contact.position:
        _sub(party, f"{{{wcs}}}positionName", contact.position)
    if contact.email or contact.phone:
        info = _sub(party, f"{{{wcs}}}contactInfo")
        if contact.phone:
            _sub(_sub(info, f"{{{wcs}}}phone"), f"{{{wcs}}}voice", contact.phone)
        if contact.email:
            address = _sub(info, f"{{{wcs}}}address")
            _sub(address, f"{{{wcs}}}electronicMailAddress", contact.email)
