"""The direction of dependencies (DESIGN.md, "Parts and the direction of dependencies"):
every import in `src/tessera` — at the top of a module, inside a function or under
`TYPE_CHECKING` alike — points to its own layer or one below, and no modules import each
other in a circle. A new module must be given a layer here.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# Lowest first. A module belongs to the layer of the longest prefix that names it.
LAYERS: list[tuple[str, list[str]]] = [
    (
        "light parts (what other services import: no web framework, ORM, driver or hasher)",
        [
            "tessera.clock",
            "tessera.errors",
            "tessera.remote",
            "tessera.fetch",
            "tessera.logs",
            "tessera.tokens",
            "tessera.dpop",
            "tessera.inspect",
            "tessera.hazmat",
            "tessera.revocations",  # its root, the feed and the revoked set
            "tessera.verify",
            "tessera.client",
            "tessera.web",
        ],
    ),
    (
        "core",
        [
            "tessera.connection_urls",
            "tessera.settings",
            "tessera.sealing",
            "tessera.store",
            "tessera.keys",
            "tessera.sessions",
            "tessera.users",
            "tessera.revocations.watch",
            "tessera.revocations.signal",
            "tessera.revocations.waiters",
            "tessera.limits",
            "tessera.metrics",
        ],
    ),
    ("use cases", ["tessera.actions"]),
    ("assembly", ["tessera.service", "tessera.maintenance"]),
    ("front door: HTTP", ["tessera.http"]),
    ("front door: Tessera in a Django process", ["tessera.django"]),
    ("front door: command line", ["tessera.cli", "tessera.__main__"]),
    ("package root", ["tessera"]),
]


def module_name(path: Path, src: Path = SRC) -> str:
    parts = path.relative_to(src).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(src: Path = SRC) -> dict[str, Path]:
    return {module_name(p, src): p for p in (src / "tessera").rglob("*.py")}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The tessera modules `path` imports, wherever the import statement is."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "tessera")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != "tessera":
                continue
            for alias in node.names:  # `from pkg import submodule` imports the submodule
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in known else node.module)
    return found


def layer_of(module: str) -> int:
    best, best_length = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            # The package root names only itself, not every module below it.
            below = prefix != "tessera" and module.startswith(prefix + ".")
            matches = module == prefix or below
            if matches and len(prefix) > best_length:
                best, best_length = index, len(prefix)
    return best


def upward_arrows(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, targets in sorted(graph.items()):
        here = layer_of(module)
        if here < 0:
            problems.append(f"{module} is in no layer: add it to LAYERS in {Path(__file__).name}")
            continue
        for target in sorted(targets):
            there = layer_of(target)
            if there > here:
                problems.append(
                    f"{module} ({LAYERS[here][0]}) imports {target} ({LAYERS[there][0]})"
                )
    return problems


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    found = modules(src)
    known = set(found)
    return {name: imports_of(path, known) - {name} for name, path in found.items()}


def test_every_arrow_points_down() -> None:
    problems = upward_arrows(import_graph())
    assert not problems, "\n".join(problems)


def test_no_modules_import_each_other_in_a_circle() -> None:
    found = circles(import_graph())
    assert not found, "\n".join(" <-> ".join(c) for c in found)


def test_the_checks_catch_what_they_are_for() -> None:
    """The two checks on a made-up graph: an upward arrow, a circle, a module in no layer."""
    graph = {
        "tessera.store.sessions": {"tessera.http.routes"},
        "tessera.http.routes": {"tessera.service"},
        "tessera.service": {"tessera.http.routes"},
        "tessera.nowhere": set(),
    }
    problems = upward_arrows(graph)
    assert any("tessera.store.sessions (core) imports tessera.http.routes" in p for p in problems)
    assert any("tessera.service (assembly) imports tessera.http.routes" in p for p in problems)
    assert any("tessera.nowhere is in no layer" in p for p in problems)
    assert circles(graph) == [["tessera.http.routes", "tessera.service"]]


def package_arrows(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    """The graph between top-level parts (`tessera.http`, `tessera.service`, ...)."""

    def part(module: str) -> str:
        return ".".join(module.split(".")[:2])

    return {
        (part(a), part(b)) for a, targets in graph.items() for b in targets if part(a) != part(b)
    }


if __name__ == "__main__":  # `make layers [SRC=dir]`: the arrows between parts, and problems
    import sys

    src = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else SRC
    graph = import_graph(src)
    for a, b in sorted(package_arrows(graph)):
        print(f"{a} -> {b}")
    problems = upward_arrows(graph) + [" <-> ".join(c) for c in circles(graph)]
    print(f"\n{len(problems)} upward or circular arrows")
    for problem in problems:
        print("  " + problem)
