"""Keep the tutorial notebooks and their jupytext twins in step.

The percent-format ``docs/tutorials/*.py`` files are the reviewable source; the ``.ipynb``
files next to them carry the executed outputs that the documentation site shows.

    python docs/notebooks.py sync [name ...]   # .py -> .ipynb, executed (writes outputs)
    python docs/notebooks.py check     # fail if a .ipynb's cells differ from its .py
    python docs/notebooks.py execute   # execute every notebook in memory, print the times

Needs ``jupytext``, ``nbclient`` and ``ipykernel`` (``pip install -e ".[docs]"``).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = ROOT / "docs" / "tutorials"
TIMEOUT_S = 600  # per cell


def sources() -> list[Path]:
    """The percent-format sources, sorted."""
    return sorted(TUTORIALS.glob("*.py"))


def cells(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """(cell type, source without trailing blank space) of every cell."""
    return [(c.cell_type, c.source.rstrip()) for c in nb.cells]


def from_py(path: Path) -> nbformat.NotebookNode:
    return jupytext.read(path)


def execute(nb: nbformat.NotebookNode) -> float:
    """Execute ``nb`` in place in a fresh kernel started in the repository root; seconds."""
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env_path) if p)
    t0 = time.perf_counter()
    NotebookClient(
        nb, timeout=TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    ).execute()
    return time.perf_counter() - t0


def sync(names: list[str]) -> None:
    """Execute and write the notebooks of ``names`` (stems, e.g. ``silicon``; all if empty)."""
    for py in sources():
        if names and py.stem not in names:
            continue
        nb = from_py(py)
        seconds = execute(nb)
        nbformat.write(nb, py.with_suffix(".ipynb"))
        print(f"{py.name}: executed in {seconds:.1f} s -> {py.with_suffix('.ipynb').name}")


def check() -> int:
    bad = 0
    for py in sources():
        ipynb = py.with_suffix(".ipynb")
        if not ipynb.exists():
            print(f"{ipynb.name}: missing (run: python docs/notebooks.py sync)")
            bad += 1
            continue
        committed = nbformat.read(ipynb, as_version=4)
        a, b = cells(from_py(py)), cells(committed)
        hint = "run: python docs/notebooks.py sync"
        if a != b:
            i = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
            where = f"cell {i}" if i is not None else f"{len(a)} vs {len(b)} cells"
            print(f"{ipynb.name}: differs from {py.name} ({where}); {hint}")
            bad += 1
        elif not all(c.get("execution_count") for c in committed.cells if c.cell_type == "code"):
            print(f"{ipynb.name}: not executed; {hint}")
            bad += 1
        else:
            print(f"{ipynb.name}: matches {py.name}")
    return bad


def execute_all() -> int:
    total = 0.0
    for py in sources():
        seconds = execute(from_py(py))
        total += seconds
        print(f"{py.name}: executed in {seconds:.1f} s")
    print(f"all notebooks: {total:.1f} s")
    return 0


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "sync":
        sync(sys.argv[2:])
    elif cmd == "check":
        sys.exit(1 if check() else 0)
    elif cmd == "execute":
        sys.exit(execute_all())
    else:
        sys.exit(__doc__)
