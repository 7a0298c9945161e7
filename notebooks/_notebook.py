"""What every ``build_*.py`` generator shares: its cell constructors and the notebook they make.

A generator lists its ``cells`` and calls :func:`notebook` on them; the stored ``.ipynb`` is exactly
what it writes (tests/test_notebooks.py checks that).
"""

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

md, code = new_markdown_cell, new_code_cell


def notebook(cells):
    """The notebook of ``cells``, without outputs; cell ids are numbered so the file is
    reproducible."""
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"
    return nb
