"""The API reference (doc/api.rst) covers the public API.

The documentation build fails on a module that does not import; these checks catch what it cannot:
a public name of the package that no page of the reference documents.
"""

import importlib
import inspect
import os
import pathlib
import re
import subprocess
import sys

import pytest

import convexnn

API = pathlib.Path(__file__).resolve().parent.parent / "doc" / "api.rst"


def _documented_modules():
    """The modules the reference lists (one per autosummary line)."""
    return re.findall(r"^   (convexnn(?:\.\w+)+)\s*$", API.read_text(encoding="utf-8"), re.M)


def _documented_objects():
    objects = set()
    for name in _documented_modules():
        module = importlib.import_module(name)
        objects.update(id(getattr(module, attr)) for attr in getattr(module, "__all__", ()))
    return objects


def test_reference_lists_importable_modules_with_all():
    modules = _documented_modules()
    assert len(modules) == len(set(modules)) >= 10
    for name in modules:
        assert hasattr(importlib.import_module(name), "__all__"), f"{name} has no __all__"


def test_every_top_level_name_is_documented():
    documented = _documented_objects()
    modules = set(_documented_modules())
    for name in convexnn.__all__:
        obj = getattr(convexnn, name)
        if inspect.ismodule(obj):
            assert obj.__name__ in modules, f"doc/api.rst does not list {obj.__name__}"
        else:
            assert id(obj) in documented, (
                f"convexnn.{name} is in no module that doc/api.rst lists (via its __all__)"
            )


USER_GUIDE = pathlib.Path(__file__).resolve().parent.parent / "doc" / "user_guide.rst"


def _python_blocks(text):
    """The bodies of the ``.. code-block:: python`` directives of a reST page, dedented."""
    blocks = []
    for match in re.finditer(r"^\.\. code-block:: python\n\n((?:(?: {4}.*)?\n)+)", text, re.M):
        lines = match.group(1).rstrip().splitlines()
        blocks.append("\n".join(line[4:] for line in lines))
    return blocks


GUIDE_BLOCKS = _python_blocks(USER_GUIDE.read_text(encoding="utf-8"))


@pytest.mark.parametrize("index", range(len(GUIDE_BLOCKS)))
def test_user_guide_python_block_runs_as_pasted(index, tmp_path):
    """Each python block of the user guide runs in a fresh interpreter; a ``print`` marked
    ``# True`` prints True."""
    code = GUIDE_BLOCKS[index]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    marked = [line for line in code.splitlines() if re.search(r"print\(.*#\s*True", line)]
    printed = proc.stdout.split()
    assert printed.count("True") >= len(marked) and "False" not in printed, proc.stdout


def test_the_user_guide_has_code_blocks():
    assert len(GUIDE_BLOCKS) >= 2
