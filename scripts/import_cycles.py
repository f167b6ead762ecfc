"""Print the import cycles of a package: strongly connected components of its import graph.

    python scripts/import_cycles.py                 # src/ogcserve
    python scripts/import_cycles.py src/ogcserve/compat
    python scripts/import_cycles.py --deferred      # imports inside functions count too

Only imports that run when a module is imported count: those at module level (also inside
module-level `if`, `try`, `with` and class bodies), not those inside functions (unless
`--deferred`: the cycles that imports inside functions dodge), never those under
`if TYPE_CHECKING:`. `from a import b` is an edge to `a.b` when that is a module, else to `a`;
importing `a.b` is not counted as an edge to the package `a` itself. Exits 1 when there is a
cycle.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def module_name(path: Path, root: Path) -> str:
    """`root/a/b/c.py` -> `a.b.c`; `root/a/b/__init__.py` -> `a.b`."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(body: list[ast.stmt], deferred: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements that run when a module with this body is imported (with
    `deferred`, also those inside functions); never those under `if TYPE_CHECKING:`."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from imports(node.orelse, deferred)
        elif deferred or not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.ExceptHandler | ast.match_case):
                    yield from imports(child.body, deferred)
            for field in ("body", "orelse", "finalbody"):
                block = getattr(node, field, None)
                if isinstance(block, list):
                    yield from imports(block, deferred)


def targets(
    node: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules: set[str]
) -> Iterator[str]:
    """The module names one import statement imports."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        anchor = ".".join(package[: len(package) - node.level + 1])
        base = f"{anchor}.{base}" if base else anchor
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        yield submodule if submodule in modules else base


def import_graph(root: Path, package: Path, deferred: bool = False) -> dict[str, set[str]]:
    """module -> the modules of the package it imports at import time."""
    files = {module_name(p, root): p for p in sorted(package.rglob("*.py"))}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        for node in imports(ast.parse(path.read_text(), str(path)).body, deferred):
            for target in targets(node, name, is_package, set(files)):
                if target in files and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for child in sorted(graph[node]):
            if child not in index:
                visit(child)
                low[node] = min(low[node], low[child])
            elif child in on_stack:
                low[node] = min(low[node], index[child])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(1000, 4 * len(graph)))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def main(argv: list[str]) -> int:
    """Print every cycle; 1 if there is one."""
    deferred = "--deferred" in argv
    paths = [a for a in argv if a != "--deferred"]
    package = Path(paths[0]).resolve() if paths else SRC / "ogcserve"
    root = package
    while (root / "__init__.py").exists():
        root = root.parent
    graph = import_graph(root, package, deferred)
    found = cycles(graph)
    for component in found:
        print(f"{len(component)} modules: {', '.join(component)}")
    print(f"{len(found)} cycle(s) among {len(graph)} modules")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
