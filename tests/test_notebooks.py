"""The teaching notebooks cannot go stale.

They are stored without outputs, so what a reader sees is what the code does when they are run:
the documentation build (``sphinx-build doc ...``, run by ``.ci/run``) executes every one of them
and fails on an error. The checks here are cheap and run with the test suite:

* every notebook is stored without outputs, execution counts or execution metadata, and mentions
  no absolute path of the machine that wrote it;
* a notebook written by a generator (``notebooks/build_*.py``) is exactly what the generator
  writes, so the two cannot drift apart.

Executing the notebooks here as well is opt-in, for a machine without the documentation extras:
``CONVEXNN_RUN_NOTEBOOKS=1 pytest tests/test_notebooks.py``.
"""

import os
import pathlib
import re
import runpy

import pytest

nbformat = pytest.importorskip("nbformat")

HERE = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(HERE.glob("*.ipynb"))
GENERATORS = sorted(HERE.glob("build_*.py"))

# an absolute path of a POSIX or Windows machine: /home/..., /Users/..., /tmp/..., C:\Users\...
_ABSOLUTE_PATH = re.compile(
    r"(?<![\w.~])/(home|Users|tmp|work|root|var|opt|mnt|private)/|\b[A-Za-z]:\\(Users|Windows|Temp)\b"
)
_CLEAR = ("clear them with `jupyter nbconvert --clear-output --inplace {path}` (or rerun its "
          "build_*.py generator)")


def _ids(paths):
    return [p.name for p in paths]


def test_there_are_notebooks():
    assert NOTEBOOKS and GENERATORS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [], f"{path.name}, cell {i} has outputs: " + _CLEAR.format(path=path)
        assert cell.execution_count is None, f"{path.name}, cell {i}: " + _CLEAR.format(path=path)
        assert "execution" not in cell.metadata, f"{path.name}, cell {i} keeps execution metadata"
    assert set(nb.metadata) <= {"kernelspec", "language_info"}, sorted(nb.metadata)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_names_no_absolute_path(path):
    nb = nbformat.read(path, as_version=4)
    texts = [("metadata", str(nb.metadata))]
    texts += [(f"cell {i}", cell.source + str(cell.metadata)) for i, cell in enumerate(nb.cells)]
    for where, text in texts:
        found = _ABSOLUTE_PATH.search(text)
        assert found is None, f"{path.name}, {where} names a local path: {text[found.start():][:60]!r}"


@pytest.mark.parametrize("generator", GENERATORS, ids=_ids(GENERATORS))
def test_generator_writes_the_stored_notebook(generator):
    namespace = runpy.run_path(str(generator))  # defines the cells; writes only as __main__
    path = namespace["PATH"]
    assert path.exists(), f"{generator.name} writes {path.name}, which is not stored"
    expected = nbformat.writes(namespace["notebook"]()) + "\n"
    assert path.read_text(encoding="utf-8") == expected, (
        f"{path.name} differs from what {generator.name} writes: edit the generator and run "
        f"`python notebooks/{generator.name}`"
    )


@pytest.mark.skipif(
    os.environ.get("CONVEXNN_RUN_NOTEBOOKS") != "1",
    reason="the documentation build executes the notebooks; set CONVEXNN_RUN_NOTEBOOKS=1 to "
    "execute them here too",
)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs_top_to_bottom(path):
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()  # raises CellExecutionError, with the traceback, on the first failing cell
