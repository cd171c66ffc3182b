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
