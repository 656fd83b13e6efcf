"""Interactive labs of the static site: the roofline explorer and the optimization waterfall.

`write_labs` is called by `mlsysim.site.build` and writes, under `labs/` of the site:

- roofline.html, roofline.js, roofline-data.js (the catalog terms, `explorer.explorer_data`);
- waterfall.html, waterfall.js, waterfall-data.js (the index, `waterfall.waterfall_data`) and
  waterfall/<model>.js (that model's steps on every accelerator, loaded when picked);
- labs.css.

Data files are JavaScript assignments, not JSON fetched at run time, so the pages work
from file:// as well as from any static host.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from mlsysim.errors import MlsysimError
from mlsysim.site.labs.explorer import explorer_data
from mlsysim.site.labs.waterfall import waterfall_data

__all__ = ["write_labs", "explorer_data", "waterfall_data", "script_assignment"]

ASSETS = ("roofline.js", "waterfall.js", "labs.css")
# What the explorer shows first (if the catalog has them): a common teaching case.
DEFAULTS = {"hardware": "h100_sxm", "model": "llama3_8b", "batch": 1, "seq_len": 512}


def script_assignment(target: str, data: Any) -> str:
    """`target = <data as JSON>;` safe to embed in a <script> (no '</script>', no '<!--')."""
    text = json.dumps(data, separators=(",", ":"), sort_keys=True, allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return f"{target} = {text};\n"


def write_labs(catalog: Any, page: Callable[..., None], write: Callable[[str, Any], None], template_dir: Path) -> int:
    """Write both labs into the site being built; returns the number of HTML pages written."""
    try:
        explorer = explorer_data(catalog)
    except MlsysimError as problem:  # a catalog without the cited assumptions the solvers read
        explorer = {"error": str(problem), "hardware": [], "models": []}
    try:
        index, per_model = waterfall_data(catalog)
    except MlsysimError as problem:
        index, per_model = {"error": str(problem)}, {}
    if not explorer.get("error"):
        write("labs/roofline-data.js", script_assignment("window.MLSYSIM_ROOFLINE", explorer))
    if not index.get("error"):
        write("labs/waterfall-data.js", script_assignment("window.MLSYSIM_WATERFALL", index))
    for model_id, cases in per_model.items():
        write(f"labs/waterfall/{model_id}.js",
              script_assignment(f"window.MLSYSIM_WATERFALL_CASES[{json.dumps(model_id)}]", cases))
    assets = template_dir / "labs"
    for name in ASSETS:
        write(f"labs/{name}", (assets / name).read_bytes())
    hw_ids = {h["id"] for h in explorer["hardware"]}
    model_ids = {m["id"] for m in explorer["models"]}
    defaults = dict(DEFAULTS)
    defaults["hardware"] = defaults["hardware"] if defaults["hardware"] in hw_ids else ""
    defaults["model"] = defaults["model"] if defaults["model"] in model_ids else ""
    page("labs/roofline.html", "labs/roofline.html", "Roofline explorer", data=explorer, defaults=defaults)
    wf_default = {"model": DEFAULTS["model"] if DEFAULTS["model"] in per_model else "",
                  "hardware": DEFAULTS["hardware"]}
    page("labs/waterfall.html", "labs/waterfall.html", "Optimization waterfall", data=index, defaults=wf_default)
    return 2
