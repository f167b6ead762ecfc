"""QGIS labels (`<labeling>`) as the `label:` of a style: the field or a text template, size,
colour, weight, buffer (halo) and placement. Label expressions made of fields, strings, `||`,
`concat()`, `format_number()` and `round()` become templates; other expressions fall back to
their first field, named in a warning."""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from .style_symbols import Units, number, qgis_color, with_alpha

Element = etree._Element

_TOKEN = re.compile(
    r"""\s*(?:(?P<field>"(?:[^"]|"")*")|(?P<string>'(?:[^']|'')*')|(?P<number>\d+(?:\.\d+)?)"""
    r"""|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>\|\||[(),+]))"""
)
_POINT_PLACEMENTS = {"0": "point", "6": "point"}
_LINE_PLACEMENTS = {"2": "line"}
# Around a polygon's centroid at no distance, QGIS centres the label on it, as `centroid` does.
_POLYGON_PLACEMENTS = {"0": "centroid", "1": "centroid", "4": "centroid"}
_NAMES = {
    "0": "around the point",
    "1": "over the point",
    "2": "parallel to the line",
    "3": "curved",
    "4": "horizontal",
    "5": "free",
    "6": "at ordered positions around the point",
    "7": "curved along the perimeter",
    "8": "outside the polygon",
}


def read_labels(
    maplayer: Element, geometry: str, units: Units, warnings: list[str]
) -> dict[str, Any] | None:
    """The `label:` mapping of a layer's simple labels, or None when it draws none."""
    labeling = maplayer.find("labeling")
    if labeling is None or maplayer.get("labelsEnabled", "1") == "0":
        return None
    settings = _settings(labeling, warnings)
    if settings is None:
        return None
    style = settings.find("text-style")
    if style is None:
        return None
    label = _text(style, warnings)
    if label is None:
        return None
    size = number(style.get("fontSize"), 10.0)
    px = units.pixels(size, style.get("fontSizeUnit", "Point"), "font size")
    label["size"] = round(min(max(px, 1.0), 128.0), 2)
    color = qgis_color(style.get("textColor")) or "#000000"
    opacity = number(style.get("textOpacity"), 1.0)
    label["color"] = with_alpha(color, opacity) if opacity < 1 else color
    label["bold"] = _bold(style)
    label["halo"] = _halo(style, units)
    placement = _placement(settings, geometry, warnings)
    if placement is not None:
        label["placement"] = placement
    _ignored(style, settings, warnings)
    return label


def _settings(labeling: Element, warnings: list[str]) -> Element | None:
    kind = labeling.get("type")
    if kind == "simple":
        return labeling.find("settings")
    if kind == "rule-based":
        rules = labeling.findall(".//rule")
        active = [
            r for r in rules if r.get("active", "1") != "0" and r.find("settings") is not None
        ]
        if not active:
            return None
        first = active[0]
        if len(active) > 1 or first.get("filter") or first.get("scalemindenom"):
            warnings.append(
                "rule-based labels are drawn with the settings of the first rule, for every "
                "feature (their filters and scales are ignored)"
            )
        return first.find("settings")
    if kind not in (None, "", "none"):
        warnings.append(f"labeling {kind!r} is not supported: no labels are drawn")
    return None


def _text(style: Element, warnings: list[str]) -> dict[str, Any] | None:
    source = style.get("fieldName") or ""
    if not source.strip():
        return None
    if style.get("isExpression") != "1":
        return {"field": source}
    template = expression_template(source)
    if template is not None:
        fields = re.findall(r"\{([^}:]+)", template)
        if len(fields) == 1 and template == "{" + fields[0] + "}":
            return {"field": fields[0]}
        return {"expression": template}
    first = re.search(r'"((?:[^"]|"")+)"', source)
    if first is None:
        warnings.append(f"label expression {source!r} is not supported: no labels are drawn")
        return None
    name = first.group(1).replace('""', '"')
    warnings.append(f"label expression {source!r} is not supported: labelled with {name!r}")
    return {"field": name}


def expression_template(expression: str) -> str | None:
    """A label expression as a `{field}` template, or None when it is more than concatenation
    of fields and strings (with `concat`, `format_number` and `round`)."""
    tokens = []
    pos = 0
    text = expression.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            return None
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    parser = _Concat(tokens)
    result = parser.concat()
    return result if result is not None and parser.at_end() else None


class _Concat:
    """A recursive-descent reader of `a || b || concat(c, d)` over the tokens."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.i = 0

    def at_end(self) -> bool:
        return self.i == len(self.tokens)

    def _peek(self) -> tuple[str, str]:
        return self.tokens[self.i] if self.i < len(self.tokens) else ("", "")

    def _take(self, value: str) -> bool:
        if self._peek() == ("op", value):
            self.i += 1
            return True
        return False

    def concat(self) -> str | None:
        parts = [self.term()]
        while self._take("||"):
            parts.append(self.term())
        return None if any(p is None for p in parts) else "".join(p or "" for p in parts)

    def term(self) -> str | None:
        kind, value = self._peek()
        self.i += 1
        if kind == "field":
            return "{" + value[1:-1].replace('""', '"') + "}"
        if kind == "number":
            return value
        if kind == "string":
            return value[1:-1].replace("''", "'").replace("{", "{{").replace("}", "}}")
        if kind == "op" and value == "(":
            inner = self.concat()
            return inner if self._take(")") else None
        if kind == "name":
            return self._call(value.lower())
        return None

    def _call(self, name: str) -> str | None:
        if not self._take("("):
            return None
        args = [self.concat()]
        while self._take(","):
            args.append(self.concat())
        if not self._take(")") or any(a is None for a in args):
            return None
        if name == "concat":
            return "".join(a or "" for a in args)
        field = re.fullmatch(r"\{([^{}:]+)\}", args[0] or "")
        digits = args[1] if len(args) == 2 else None
        if field is None or digits is None or not digits.isdigit():
            return None
        if name == "format_number":
            return "{" + field.group(1) + ":,." + digits + "f}"
        if name == "round":
            return "{" + field.group(1) + ":." + digits + "f}"
        return None


def _bold(style: Element) -> bool:
    weight = number(style.get("fontWeight"), 50)
    return weight >= 63 or "bold" in (style.get("namedStyle") or "").lower()


def _halo(style: Element, units: Units) -> dict[str, Any] | None:
    buffer = style.find("text-buffer")
    if buffer is None or buffer.get("bufferDraw") != "1":
        return None
    color = qgis_color(buffer.get("bufferColor")) or "#ffffff"
    opacity = number(buffer.get("bufferOpacity"), 1.0)
    width = units.pixels(
        number(buffer.get("bufferSize"), 1.0), buffer.get("bufferSizeUnits", "MM"), "buffer size"
    )
    # QGIS strokes the text outline with a pen as wide as the buffer size: half of it shows
    # outside the glyphs; the style model's halo width is that outside part.
    return {
        "color": with_alpha(color, opacity) if opacity < 1 else color,
        "width": round(min(max(width / 2, 0.0), 16.0), 3),
    }


def _placement(settings: Element, geometry: str, warnings: list[str]) -> str | None:
    element = settings.find("placement")
    code = element.get("placement", "0") if element is not None else "0"
    table = {"point": _POINT_PLACEMENTS, "line": _LINE_PLACEMENTS}.get(
        geometry, _POLYGON_PLACEMENTS
    )
    found = table.get(code)
    if found is None:
        found = {"point": "point", "line": "line"}.get(geometry, "centroid")
        warnings.append(
            f"label placement {_NAMES.get(code, code)!r} is drawn as the {found!r} placement"
        )
    if element is not None:
        dist = number(element.get("dist"), 0.0)
        x, y = number(element.get("xOffset"), 0.0), number(element.get("yOffset"), 0.0)
        if dist or x or y:
            warnings.append("label distance and offsets are ignored")
    return found


def _ignored(style: Element, settings: Element, warnings: list[str]) -> None:
    family = style.get("fontFamily") or ""
    if family and not family.startswith(("DejaVu Sans", "DejaVu LGC Sans")):
        warnings.append(f"font {family!r} is drawn in DejaVu Sans")
    if style.get("fontItalic") == "1":
        warnings.append("italic labels are drawn upright")
    for tag, attr, what in (
        ("background", "shapeDraw", "label backgrounds"),
        ("shadow", "shadowDraw", "label shadows"),
    ):
        part = style.find(tag)
        if part is not None and part.get(attr) == "1":
            warnings.append(f"{what} are ignored")
    rendering = settings.find("rendering")
    if rendering is not None and rendering.get("scaleVisibility") == "1":
        warnings.append("the labels' scale range is ignored (labels are drawn at every scale)")
