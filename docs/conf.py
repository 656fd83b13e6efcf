"""Sphinx configuration of the mlsysim documentation.

Build it with `mlsysim site build --docs` (the zoo goes into `zoo/`, the tutorials are
executed); `sphinx-build docs OUT` works too but builds no zoo.
"""

from __future__ import annotations

import datetime as _dt
import os
import sys
from pathlib import Path

import mlsysim
from mlsysim.catalog.paths import bundled_templates

_HERE = Path(__file__).resolve().parent

project = "mlsysim"
author = "mlsysim contributors"
copyright = f"{_dt.date.today().year}, {author}"
release = version = mlsysim.__version__

extensions = [
    "myst_nb",                 # Markdown pages and executed text-notebook tutorials
    "sphinx.ext.autodoc",      # the API reference and the math pages, from the docstrings
    "sphinx.ext.napoleon",     # numpydoc sections (Parameters, Returns, References)
    "mlsysim.site.docs_pages", # writes api/ and math/ from the package before reading
]
root_doc = "index"
exclude_patterns = ["_build", "_theme", "README.md", "**.ipynb_checkpoints"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb"}

# MyST
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# Tutorials are executed on every build and a cell that raises fails the build.
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_timeout = 180
nb_merge_streams = True
nb_ipywidgets_js = {}          # no widget JavaScript from a CDN
nb_output_stderr = "remove-warn"

# autodoc + napoleon (numpydoc)
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_default_options = {"members": True, "show-inheritance": False}
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_preprocess_types = False
add_module_names = False
python_display_short_literal_types = True

# HTML: the zoo's look (its header and stylesheet) with a small theme of our own; no CDN.
html_theme = "mlsysim"
html_theme_path = ["_theme"]
html_title = f"mlsysim {release} documentation"
html_static_path = [str(bundled_templates() / "static")]
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = "%Y-%m-%d"
html_permalinks_icon = "#"
html_context = {"labs_base": os.environ.get("MLSYSIM_DOCS_LABS_BASE", "zoo/labs/")}
math_number_all = False
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header"]
