"""Each stage imports only downward: core < data_prep < onegan < baselines < benchmark (issue 11's
code health: the method contract and the shared utilities live in ``core``, below every stage)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORDER = ("core", "data_prep", "onegan", "baselines", "benchmark")


def _imported_stages(path: Path) -> set[str]:
    stages = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        stages.update(name.split(".")[0] for name in names if name.split(".")[0] in ORDER)
    return stages


def test_every_stage_imports_only_the_stages_below_it():
    upward = []
    for level, stage in enumerate(ORDER):
        allowed = set(ORDER[: level + 1])
        for path in sorted((ROOT / stage).rglob("*.py")):
            for imported in _imported_stages(path) - allowed:
                upward.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert not upward, "\n".join(upward)


def test_the_check_sees_an_upward_import(tmp_path):
    bad = tmp_path / "x.py"
    bad.write_text("def f():\n    from benchmark.run import run\n")
    assert _imported_stages(bad) == {"benchmark"}


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    """Module -> the modules of ``packages`` it imports, at module level or inside a function (every
    ``import``/``from ... import`` in the file, ``TYPE_CHECKING`` blocks included: an import that only a
    type checker runs still says the two modules need each other). ``from pkg import name`` counts as an
    import of the submodule ``pkg.name`` when there is one, else of ``pkg``; a submodule's implicit import
    of its parent package is not counted (a package importing its own submodules is no circle)."""
    paths = {_module_name(root, p): p for package in packages for p in sorted((root / package).rglob("*.py"))}

    def known(name: str) -> str | None:
        while name and name not in paths:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for module, path in paths.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        imported = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(known(alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from . import x, from ..y import z
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                imported.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in paths else known(base)
                                for alias in node.names)
        graph[module] = imported - {None, module}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative): each
    is a set of modules that import one another, directly or through others."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def test_no_module_imports_itself_through_others():
    graph = import_graph(ROOT, ORDER)
    cycles = import_cycles(graph)
    described = [" <-> ".join(cycle) + ": " + "; ".join(f"{m} imports {', '.join(sorted(graph[m] & set(cycle)))}"
                                                       for m in cycle) for cycle in cycles]
    assert not cycles, "import circles:\n" + "\n".join(described)


def test_the_check_sees_a_circle_through_a_function_level_import(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from pkg.sub.b import B\n")  # a package's own: no circle
    (package / "a.py").write_text("from pkg.sub import b\n\nA = 1\n")
    (package / "sub" / "b.py").write_text("B = 2\n\n\ndef f():\n    from .. import c\n    return c\n")
    (package / "c.py").write_text("from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    import pkg.a\n")
    (package / "d.py").write_text("import pkg.a\n")  # imports into the circle, is not part of it
    graph = import_graph(tmp_path, ("pkg",))
    assert graph["pkg.sub.b"] == {"pkg.c"} and graph["pkg.c"] == {"pkg.a"} and graph["pkg.a"] == {"pkg.sub.b"}
    assert import_cycles(graph) == [["pkg.a", "pkg.c", "pkg.sub.b"]]
    (package / "c.py").write_text("")
    assert import_cycles(import_graph(tmp_path, ("pkg",))) == []
