"""Where a problem is in a project file: issues tied to a line and a key path of the YAML.

A `Loc` such as `("layers", 0, "source", "geopackage", "table")` (the form pydantic reports) is
walked through the composed YAML node tree to the line of the key it names, and written as
`layers[0].source.table`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Loc = tuple[str | int, ...]
"""A path into the project file: mapping keys and sequence indexes, as pydantic reports them."""

Severity = Literal["error", "refused", "warning"]
"""How bad an issue is: the project does not load ("error"); it loads without the layer the
issue names ("refused", QGIS projects only); or it loads with something approximated or
ignored ("warning", QGIS projects only)."""


@dataclass(frozen=True, slots=True)
class ProjectIssue:
    """One problem in a project file: where it is (file, 1-based line, dotted key) and what."""

    file: str
    line: int | None
    key: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        message = f"warning: {self.message}" if self.severity == "warning" else self.message
        return f"{where}: {self.key}: {message}" if self.key else f"{where}: {message}"


class ProjectError(Exception):
    """A project file failed to load; `issues` lists every problem found in it."""

    def __init__(self, issues: Sequence[ProjectIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


@dataclass(slots=True)
class Document:
    """The file name and YAML node tree, to turn a `Loc` into a line and a dotted key."""

    file: str
    root: Node | None = None

    def issue(self, loc: Loc, message: str, *, line: int | None = None) -> ProjectIssue:
        found_line, key = self.locate(loc)
        return ProjectIssue(self.file, found_line if line is None else line, key, message)

    def has(self, loc: Loc) -> bool:
        """Whether every key and index of `loc` is written in the file."""
        node = self.root
        for part in loc:
            if isinstance(node, MappingNode) and isinstance(part, str):
                pair = lookup(node, part)
                if pair is None:
                    return False
                node = pair[1]
            elif isinstance(node, SequenceNode) and isinstance(part, int):
                if not 0 <= part < len(node.value):
                    return False
                node = node.value[part]
            else:
                return False
        return node is not None

    def locate(self, loc: Loc) -> tuple[int | None, str]:
        """The line of the key `loc` names and the dotted form of `loc`.

        Elements that are not in the YAML (pydantic adds the discriminator tag of a union, e.g.
        "geopackage" in `layers.0.source.geopackage.table`; a style's symbol keys are validated
        under a `symbol` the file may not write) are dropped from the key. A missing final key
        (a required field) keeps the line of the mapping that lacks it, which is the line of the
        key holding that mapping (`source:`), or of the list item.
        """
        node = self.root
        if node is None:
            return None, dotted(loc)
        line: int | None = node.start_mark.line + 1
        parts: list[str | int] = []
        for i, part in enumerate(loc):
            if isinstance(node, MappingNode) and isinstance(part, str):
                pair = lookup(node, part)
                if pair is not None:
                    key_node, node = pair
                    line = key_node.start_mark.line + 1
                    parts.append(part)
                    continue
            elif (
                isinstance(node, SequenceNode)
                and isinstance(part, int)
                and 0 <= part < len(node.value)
            ):
                node = node.value[part]
                line = node.start_mark.line + 1
                parts.append(part)
                continue
            if i == len(loc) - 1:
                parts.append(part)
        return line, dotted(parts)


def lookup(node: MappingNode, key: str) -> tuple[Node, Node] | None:
    """The (key, value) nodes of `key` in a mapping node, or None."""
    # The last occurrence wins, as it does when PyYAML constructs the mapping.
    found = None
    for key_node, value_node in node.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            found = (key_node, value_node)
    return found


def line_of(node: Node) -> int:
    """The 1-based line a node starts on."""
    return int(node.start_mark.line) + 1


def dotted(loc: Sequence[str | int]) -> str:
    """`("layers", 0, "source")` -> `layers[0].source`."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
