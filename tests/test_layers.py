"""What the import contracts of pyproject.toml (``lint-imports`` in .ci/run) cannot say: where
the one upward import sits, and which hardware modules import no JAX."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest

import dynapse2
from dynapse2 import hardware

PACKAGE = Path(dynapse2.__file__).parent
HEAVY = {"jax", "jaxlib", "equinox", "optax", "samna"}
# The methods of Module that may import the hardware layer (DESIGN.md: the one exception).
DEPLOYMENT_METHODS = {
    ("nn/module.py", "Module", "to_hardware"),
    ("nn/module.py", "Module", "to_config"),
}


def _hardware_imports(tree: ast.AST) -> list[tuple[int, tuple[str, ...]]]:
    """``(line, enclosing class/function names)`` of every import of ``dynapse2.hardware``."""
    found: list[tuple[int, tuple[str, ...]]] = []

    def visit(node: ast.AST, scope: tuple[str, ...]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, scope + (child.name,))
                continue
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom) and child.module:
                names = [child.module] + [f"{child.module}.{a.name}" for a in child.names]
            if any(n == "dynapse2.hardware" or n.startswith("dynapse2.hardware.") for n in names):
                found.append((child.lineno, scope))
            visit(child, scope)

    visit(tree, ())
    return found


def _nn_hardware_imports() -> list[tuple[str, int, tuple[str, ...]]]:
    out = []
    for path in sorted((PACKAGE / "nn").rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for line, scope in _hardware_imports(ast.parse(path.read_text(), rel)):
            out.append((rel, line, scope))
    return out


def test_nn_imports_hardware_only_inside_the_deployment_methods():
    imports = _nn_hardware_imports()
    misplaced = [(f, n, s) for f, n, s in imports if (f, *s) not in DEPLOYMENT_METHODS]
    assert not misplaced, f"nn imports the hardware layer outside Module.to_hardware: {misplaced}"
    # Both methods do import it (else the ignore_imports of pyproject.toml are stale).
    assert {(f, *s) for f, _, s in imports} == DEPLOYMENT_METHODS


def test_the_import_finder_sees_module_level_and_nested_imports():
    src = (
        "import dynapse2.hardware.chip\n"
        "from dynapse2 import hardware\n"
        "class Module:\n"
        "    def to_hardware(self):\n"
        "        from dynapse2.hardware.device import to_hardware\n"
        "    def other(self):\n"
        "        if True:\n"
        "            import dynapse2.hardware as hw\n"
        "import dynapse2.nn\n"
    )
    assert _hardware_imports(ast.parse(src)) == [
        (1, ()),
        (2, ()),
        (5, ("Module", "to_hardware")),
        (8, ("Module", "other")),
    ]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("dynapse2", include_external_packages=True)


@pytest.mark.parametrize("name", hardware.JAX_FREE)
def test_hardware_modules_named_jax_free_import_no_jax(graph, name):
    module = f"dynapse2.hardware.{name}"
    heavy = {m for m in graph.find_upstream_modules(module) if m.split(".")[0] in HEAVY}
    chain = graph.find_shortest_chain(module, sorted(heavy)[0]) if heavy else None
    assert not heavy, f"{module} imports {sorted(heavy)}, e.g. {chain}"


def test_the_jax_free_list_is_complete(graph):
    """Every hardware module that imports no JAX is named (the list is the truth, both ways)."""
    free = {
        m.rsplit(".", 1)[1]
        for m in graph.find_children("dynapse2.hardware")
        if not {u for u in graph.find_upstream_modules(m) if u.split(".")[0] in HEAVY}
    }
    assert free == set(hardware.JAX_FREE)
