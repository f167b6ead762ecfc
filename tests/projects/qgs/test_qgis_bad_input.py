"""Bad QGIS project files: each a clear `ogcserve check` finding, never a traceback, a hang, an
entity resolved or a layer served unfiltered. (Layers with a missing source, an unknown provider
or an untranslatable subset are in test_qgis_reader.py: the project serves its other layers.)"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from ogcserve.access import AccessLayer
from ogcserve.projects import ProjectError, check_project, load_project


def problems(path: Path) -> list[str]:
    issues = check_project(path, AccessLayer().check_source)
    with pytest.raises(ProjectError) as refused:
        load_project(path)
    assert [str(i) for i in refused.value.issues] == [str(i) for i in issues]
    assert all(issue.severity == "error" for issue in issues)
    return [issue.message for issue in issues]


def test_truncated_project(qgis_folder: Path, tmp_path: Path) -> None:
    text = (qgis_folder / "main.qgs").read_bytes()
    path = tmp_path / "truncated.qgs"
    path.write_bytes(text[: len(text) // 3])
    [message] = problems(path)
    assert message.startswith("not a QGIS project: the XML does not parse")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "the XML does not parse"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "the XML does not parse"),
        (b"layers:\n  - name: x\n", "the XML does not parse"),
        (b"<html><body>a map</body></html>", "the root element is <html>, not <qgis>"),
    ],
)
def test_not_a_qgis_project(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "wrong.qgs"
    path.write_bytes(content)
    [message] = problems(path)
    assert expected in message


def test_qgz_without_a_qgs(qgis_folder: Path, tmp_path: Path) -> None:
    path = tmp_path / "empty.qgz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "no project here")
        archive.writestr("main.qgd", b"SQLite format 3\x00")
    assert problems(path) == ["not a QGIS project: the .qgz holds no .qgs file"]
    not_zip = tmp_path / "plain.qgz"
    not_zip.write_bytes((qgis_folder / "main.qgs").read_bytes())
    [message] = problems(not_zip)
    assert message.startswith("not a QGIS project: the .qgz is not a readable zip")


def test_entities_and_dtd_are_not_resolved(qgis_folder: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    text = (qgis_folder / "main.qgs").read_text()
    doctype = (
        "<!DOCTYPE qgis ["
        f'<!ENTITY xxe SYSTEM "file://{secret}">'
        '<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        '<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;'
        "]>"
    )
    text = re.sub(r"<!DOCTYPE[^>]*>", doctype, text, count=1)
    text = text.replace(">Main WMS<", ">&xxe;&lol2;<")
    text = text.replace(
        "<abstract>Natural Earth countries</abstract>", "<abstract>&xxe;</abstract>"
    )
    path = qgis_folder / "entities.qgs"  # beside the data its layers name
    path.write_text(text)

    project = load_project(path, opener=AccessLayer().check_source)
    everything = repr(project) + "".join(repr(layer) for layer in project.walk())
    assert "TOP-SECRET" not in everything and "lollol" not in everything
    assert project.title == "Main project"  # the WMS title held only entities
    countries = project.layer("countries")
    assert countries is not None and countries.abstract == ""
    messages = [str(issue) for issue in check_project(path, AccessLayer().check_source)]
    assert any("declares XML entities" in m and "not resolved" in m for m in messages)
