"""The tutorial notebooks (.ipynb, with outputs) hold the same cells as their reviewable
jupytext sources (.py), and every notebook has been executed."""

from pathlib import Path

import jupytext
import nbformat
import pytest

TUTORIALS = Path(__file__).resolve().parent.parent / "docs" / "tutorials"
SOURCES = sorted(TUTORIALS.glob("*.py"))


def _cells(nb):
    return [(c.cell_type, c.source.rstrip()) for c in nb.cells]


def test_tutorials_exist():
    assert {p.stem for p in SOURCES} >= {
        "quick_start",
        "neuron_zoo",
        "mismatch",
        "beyond_one_core",
        "speed_and_scale",
    }


@pytest.mark.parametrize("py", SOURCES, ids=[p.stem for p in SOURCES])
def test_notebook_matches_source_and_has_outputs(py):
    ipynb = py.with_suffix(".ipynb")
    assert ipynb.exists(), "run: python docs/notebooks.py sync"
    committed = nbformat.read(ipynb, as_version=4)
    assert _cells(committed) == _cells(jupytext.read(py)), (
        f"{ipynb.name} differs from {py.name}; run: python docs/notebooks.py sync"
    )
    code = [c for c in committed.cells if c.cell_type == "code"]
    assert code and all(c.get("execution_count") for c in code), f"{ipynb.name} not executed"
    assert not any(o.get("output_type") == "error" for c in code for o in c.get("outputs", []))
