"""The catalog side: YAML records read, validated and cached into typed,
cited records (`Record`, `Value`), the registries people look them up by, the
unit registry, and the schemas every record kind obeys.

Nothing here imports the solvers, the evaluators, the site or the CLI: data
flows one way, from these records down to them.
"""

from mlsysim.catalog.core import Catalog, check, default_catalog, load_catalog, scan

__all__ = ["Catalog", "check", "default_catalog", "load_catalog", "scan"]
