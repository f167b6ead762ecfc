"""CQL2 LIKE patterns matched without regular expressions, in time linear in pattern times value."""

from __future__ import annotations


class LikeMatcher:
    """A CQL2 LIKE pattern (`%` any run, `_` one character, `\\` escapes), matched in time
    linear in pattern times value. (As a regex, `%a%a%a...%b` backtracks exponentially: twelve
    `%a` took 11 s on a 30-character value.)

    The pattern is split at its `%` into segments of literal characters and `_` (None); each
    segment is matched at the leftmost place it fits, which is the whole-match answer since
    `%` takes any run.
    """

    def __init__(self, pattern: str, nocase: bool) -> None:
        self.nocase = nocase
        segments: list[list[str | None]] = [[]]
        chars = iter(pattern)
        for char in chars:
            if char == "%":
                segments.append([])
            elif char == "_":
                segments[-1].append(None)
            else:
                literal = next(chars, "\\") if char == "\\" else char
                segments[-1].append(literal.lower() if nocase else literal)
        self.segments = segments

    def fullmatch(self, value: str) -> bool:
        text = [c.lower() for c in value] if self.nocase else list(value)
        first, *middle = self.segments
        if len(self.segments) == 1:
            return len(text) == len(first) and _fits(first, text, 0)
        last = middle.pop()
        if len(first) + len(last) > len(text) or not _fits(first, text, 0):
            return False
        end = len(text) - len(last)
        if not _fits(last, text, end):
            return False
        position = len(first)
        for segment in middle:
            found = _find(segment, text, position, end)
            if found is None:
                return False
            position = found + len(segment)
        return True


def _fits(segment: list[str | None], text: list[str], start: int) -> bool:
    return all(c is None or c == text[start + i] for i, c in enumerate(segment))


def _find(segment: list[str | None], text: list[str], start: int, end: int) -> int | None:
    """The leftmost position from `start` where `segment` fits wholly before `end`."""
    for position in range(start, end - len(segment) + 1):
        if _fits(segment, text, position):
            return position
    return None
