"""The API reference (doc/api.rst) covers the public API.

The documentation build fails on a module that does not import; these checks catch what it cannot:
a public name of the package that no page of the reference documents.
"""

import importlib
import inspect
import pathlib
import re

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
