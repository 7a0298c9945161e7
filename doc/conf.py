"""Sphinx configuration of the convexnn documentation.

Build: ``pip install '.[docs]' && sphinx-build doc doc/_build/html`` (CI adds ``-W --keep-going``).
The notebooks (``doc/notebooks`` is a link to the repository's ``notebooks/``) are stored without
outputs and executed by myst-nb during the build, so the pages show what the code does today.
"""

import os
import sys

# the package of this checkout comes first, so the reference documents this source
sys.path.insert(0, os.path.abspath(".."))
# one BLAS thread in the notebook kernels: the build runs on shared CI machines
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import convexnn  # noqa: E402

project = "convexnn"
author = "the convexnn developers"
copyright = "the convexnn developers, BSD-3-Clause"
version = release = convexnn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",
]

source_suffix = {".rst": "restructuredtext", ".ipynb": "myst-nb", ".md": "myst-nb"}
templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
root_doc = "index"

# API reference: one page per public object (autosummary), docstrings parsed by numpydoc
autosummary_generate = True
autosummary_ignore_module_all = False  # a module's public names are its __all__
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"
numpydoc_show_class_members = False  # the class template lists the members itself
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# notebooks: executed at every build (they are stored without outputs)
nb_execution_mode = "force"
nb_execution_timeout = 600
nb_execution_raise_on_error = True  # a failing cell fails the build
nb_execution_show_tb = True
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]

html_theme = "furo"
html_title = f"convexnn {release}"
html_static_path = []


def _skip_metadata_requests(app, what, name, obj, skip, options):
    """Leave out scikit-learn's generated ``set_*_request`` methods (metadata routing): they
    document scikit-learn, not convexnn, and cite its glossary."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_requests)
