"""The notebooks run top to bottom on the demo data, offline, so that they cannot rot."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_both_notebooks_are_there():
    assert {p.name for p in NOTEBOOKS} >= {"quickstart.ipynb", "what_if.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, graph_cache):
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3").execute(cwd=str(path.parent))
    errors = [
        out
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.output_type == "error"
    ]
    assert not errors
    # the maps were made (plotly figures in the outputs)
    kinds = {
        kind
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        for kind in out.get("data", {})
    }
    if path.name == "quickstart.ipynb":
        assert "application/vnd.plotly.v1+json" in kinds
