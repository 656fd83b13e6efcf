"""Domain-agnostic provenance: sources, cited values (claims), check policies,
the ProvenanceMap, and YAML reading/writing that keeps positions and bytes.

This package knows claims and sources, nothing about GPUs; it never imports
mlsysim. Names are imported lazily so that reading a cached catalog does not
pay for pydantic.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "Access": "provenance.model",
    "ArxivRef": "provenance.model",
    "CheckPolicy": "provenance.model",
    "Claim": "provenance.model",
    "Source": "provenance.model",
    "claim_path": "provenance.model",
    "split_claim_path": "provenance.model",
    "Problem": "provenance.problems",
    "ProvenanceError": "provenance.problems",
    "ProvenanceEntry": "provenance.provmap",
    "ProvenanceMap": "provenance.provmap",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'provenance' has no attribute {name!r}")
    return getattr(import_module(module), name)
