"""GeoJSON Feature objects of a batch, as text, column by column.

A batch of 1,000 features made into 1,000 dicts (and their `properties` dicts) for orjson
cost more than orjson's writing of them. Here each column's values are formatted once for
the batch (`json_column`: one orjson call for a column of numbers, strings that need no escape
written as they are between quotes), and the features are put together as the GML writer puts
its members together: the columns zipped, with the text all features share (`"type"`, the
member names, the quotes of a plain string column, the geometries' type and brackets) in
between, and joined in C. The bytes are orjson's for
`{"type": "Feature", "id": id, "geometry": geometry, "properties": {name: value, ...}}`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import chain, repeat
from typing import Any

import orjson

from .geojson_write import TextColumn

# What orjson escapes in a string (RFC 8259 §7: quotation mark, reverse solidus, controls), and
# what it refuses (lone surrogates): a string without them is written between quotes as it is.
_NUMBERS = frozenset({int, float, bool, type(None)})
_STRINGS = frozenset({str, type(None)})


def json_default(value: Any) -> Any:
    """orjson's `default`: bytes as hex, other values it does not know as their text."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


def _plain(text: str) -> bool:
    """Whether orjson writes `text` as it is, between quotes: printable (no control character,
    no surrogate) with no quotation mark or reverse solidus; a string with other unprintable
    characters (U+00A0, say) is looked at closely."""
    if '"' in text or "\\" in text:
        return False
    if text.isprintable():
        return True
    return not any(c < " " or "\ud800" <= c <= "\udfff" for c in text)


def json_column(values: Sequence[Any]) -> TextColumn:
    """Each value as orjson writes it (with `json_default` for what it does not know).

    Numbers (booleans, nulls) come from one orjson call for the column, cut at its commas (no
    number's text has one); a column of strings that need no escape is the strings themselves,
    with the quotes in `open` and `close` (unless it has nulls); any other goes value by value.
    """
    if not len(values):
        return TextColumn("", [], "")
    types = set(map(type, values))
    if types <= _NUMBERS:
        return TextColumn("", orjson.dumps(list(values)).decode()[1:-1].split(","), "")
    if types <= _STRINGS:
        if type(None) not in types:
            if _plain("".join(values)):
                return TextColumn('"', values, '"')
        elif _plain("".join(v for v in values if v is not None)):
            return TextColumn("", [f'"{v}"' if v is not None else "null" for v in values], "")
    return TextColumn("", [orjson.dumps(v, default=json_default).decode() for v in values], "")


def prefixed_ids(prefix: str, ids: Sequence[Any]) -> TextColumn:
    """The JSON strings `<prefix><id>` (WFS's feature ids): integer keys are written by
    orjson as numbers are, with the prefix and the quotes around them once."""
    if len(ids) and set(map(type, ids)) == {int} and _plain(prefix):
        return TextColumn(f'"{prefix}', json_column(ids).texts, '"')
    return json_column([f"{prefix}{fid}" for fid in ids])


def feature_texts(
    ids: TextColumn, geometries: TextColumn | None, columns: Sequence[tuple[str, TextColumn]]
) -> list[str]:
    """Each row as a GeoJSON Feature object (`geometries` None: every geometry is null)."""
    parts = _parts(ids, geometries, columns, repeat)
    return list(map("".join, zip(*parts, strict=True)))


def features_text(
    ids: TextColumn, geometries: TextColumn | None, columns: Sequence[tuple[str, TextColumn]]
) -> str:
    """The rows as GeoJSON Feature objects separated by commas, in one text (one join over
    every piece of every feature)."""
    parts = _parts(ids, geometries, columns, _comma_after_first)
    return "".join(chain.from_iterable(zip(*parts, strict=True)))


def _comma_after_first(text: str, count: int) -> Iterable[str]:
    return chain((text,), repeat(f",{text}", count - 1)) if count else ()


def _parts(
    ids: TextColumn,
    geometries: TextColumn | None,
    columns: Sequence[tuple[str, TextColumn]],
    opening: Callable[[str, int], Iterable[str]],
) -> list[Iterable[str | None]]:
    """The pieces of the features, one iterable each, to be zipped: the columns' texts, and
    between them the text every feature has there (`opening`: how the first is repeated)."""
    n = len(ids.texts)
    parts: list[Iterable[str | None]] = [
        opening(f'{{"type":"Feature","id":{ids.open}', n),
        ids.texts,
    ]
    shared = f'{ids.close},"geometry":'
    if geometries is None:
        shared += "null"
    else:
        texts = geometries.texts
        if None in texts:  # missing geometries (from GEOS's writer only)
            texts = [t if t is not None else "null" for t in texts]
        parts += [repeat(shared + geometries.open, n), texts]
        shared = geometries.close
    shared += ',"properties":{'
    for number, (name, column) in enumerate(columns):
        key = orjson.dumps(name).decode()
        parts += [repeat(f"{shared}{',' if number else ''}{key}:{column.open}", n), column.texts]
        shared = column.close
    parts.append(repeat(f"{shared}}}}}", n))
    return parts
