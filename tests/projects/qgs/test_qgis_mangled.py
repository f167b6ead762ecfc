"""A project QGIS wrote, mangled: elements removed, texts and attributes replaced by odd values.
Reading it gives a project or issues, never an exception; a layer whose subset changed is
filtered by the new subset or refused, never served unfiltered."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from ogcserve.access import AccessLayer
from ogcserve.projects.qgis import read_qgis_project

ODD = st.sampled_from(
    ["", " ", "-1", "0", "1e309", "nan", "x" * 300, "../../../etc/passwd", "|layername=", "'\"",
     "table=", "sql=", "é☃", "1|2", "Qt::Checked", "/vsicurl/http://127.0.0.1:9/a.gpkg"]
)  # fmt: skip


@given(
    removals=st.lists(st.integers(min_value=0, max_value=10_000), max_size=4),
    texts=st.lists(st.tuples(st.integers(min_value=0, max_value=10_000), ODD), max_size=4),
    attributes=st.lists(st.tuples(st.integers(min_value=0, max_value=10_000), ODD), max_size=4),
)
def test_mangled_projects_never_raise(
    qgis_folder: Path,
    removals: list[int],
    texts: list[tuple[int, str]],
    attributes: list[tuple[int, str]],
) -> None:
    root = etree.parse(str(qgis_folder / "main.qgs")).getroot()
    elements = [e for e in root.iter() if isinstance(e.tag, str)][1:]
    for index, value in texts:
        elements[index % len(elements)].text = value
    for index, value in attributes:
        element = elements[index % len(elements)]
        names = list(element.attrib)
        if names:
            element.set(names[index % len(names)], value)
    for index in removals:
        element = elements[index % len(elements)]
        parent = element.getparent()
        if parent is not None and element.getroottree() is root.getroottree():
            parent.remove(element)
    path = qgis_folder / "mangled.qgs"
    path.write_bytes(etree.tostring(root))

    loaded = read_qgis_project(path, AccessLayer().check_source)

    assert loaded.project is not None or any(i.severity == "error" for i in loaded.issues)
    for layer in loaded.project.data_layers() if loaded.project else ():
        subset = _subset_of(root, layer.name)
        if subset:  # a subset that is still there is the layer's filter
            assert layer.filter, f"{layer.name} served without its subset {subset!r}"


def _subset_of(root: etree._Element, name: str) -> str:
    for maplayer in root.iterfind("projectlayers/maplayer"):
        names = {maplayer.findtext("shortname"), maplayer.findtext("layername")}
        if name in names:
            source = maplayer.findtext("datasource") or ""
            return source.partition("|subset=")[2].strip() or source.partition("sql=")[2].strip()
    return ""
