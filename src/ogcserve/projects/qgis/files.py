"""Reading a `.qgs` (XML) or `.qgz` (a zip holding the `.qgs`) into an lxml tree, safely.

A project file is data from whoever wrote it: the parser resolves no entity, loads no DTD,
reaches no network and keeps lxml's limits on huge text nodes and deep trees; a `.qgz` member
is read up to `MAX_XML_BYTES` only (a zip bomb stops there). QGIS itself writes a DOCTYPE that
names an external DTD, which is never fetched; entities that a file declares are reported.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Any

from lxml import etree

MAX_XML_BYTES = 256 << 20
"""The largest project XML read (QGIS projects of thousands of layers stay well below)."""


class ProjectFileError(Exception):
    """The file is not a QGIS project this server can read; the message says why."""


def is_qgis_project(path: Path) -> bool:
    """Whether `path` names a QGIS project (by its suffix, as QGIS Server tells them)."""
    return path.suffix.lower() in (".qgs", ".qgz")


def read_project_xml(path: Path) -> tuple[etree._Element, list[str]]:
    """The `<qgis>` root element and warnings about the file itself (declared entities)."""
    raw = _qgz_member(path) if path.suffix.lower() == ".qgz" else _read(path)
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        raise ProjectFileError(f"not a QGIS project: the XML does not parse ({exc})") from None
    if root.tag != "qgis":
        raise ProjectFileError(f"not a QGIS project: the root element is <{root.tag}>, not <qgis>")
    warnings = []
    dtd: Any = root.getroottree().docinfo.internalDTD
    entities = list(dtd.iterentities()) if dtd is not None else []
    if entities:
        names = ", ".join(sorted(str(entity.name) for entity in entities))
        warnings.append(f"the file declares XML entities ({names}); they are not resolved")
    return root, warnings


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_XML_BYTES + 1)
    except OSError as exc:
        raise ProjectFileError(f"cannot read the file: {exc}") from None
    if len(raw) > MAX_XML_BYTES:
        raise ProjectFileError(f"the project is larger than {MAX_XML_BYTES >> 20} MiB")
    return raw


def _qgz_member(path: Path) -> bytes:
    """The `.qgs` inside a `.qgz` (QGIS writes exactly one, beside auxiliary `.qgd` data)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".qgs") and "/" not in n]
            if len(names) != 1:
                found = "no .qgs file" if not names else f"{len(names)} .qgs files"
                raise ProjectFileError(f"not a QGIS project: the .qgz holds {found}")
            with archive.open(names[0]) as member:
                raw = member.read(MAX_XML_BYTES + 1)
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise ProjectFileError(
            f"not a QGIS project: the .qgz is not a readable zip ({exc})"
        ) from None
    if len(raw) > MAX_XML_BYTES:
        raise ProjectFileError(f"the project is larger than {MAX_XML_BYTES >> 20} MiB")
    return raw
