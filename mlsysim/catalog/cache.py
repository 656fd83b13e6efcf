"""The validated-catalog cache: per-file results keyed by content hash.

Loading the bundled catalog must not dominate start-up, so a fresh process
that finds every file unchanged reads one pickle and imports neither pint,
pydantic nor ruamel. A changed file is re-validated alone; checks across
files always run again.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

from mlsysim.catalog.paths import cache_dir

FORMAT = 5
# Files whose contents change what validation produces (plus every schema module).
_CODE = ["units.txt", "units.py", "loader.py", "crosscheck.py", "cache.py", "records.py"]


@lru_cache(maxsize=1)
def _code_fingerprint() -> str:
    here = Path(__file__).resolve().parent
    digest = hashlib.blake2b(str(FORMAT).encode(), digest_size=16)
    files = [here / name for name in _CODE] + sorted((here / "schemas").glob("*.py"))
    files.append(here.parent.parent / "provenance" / "model.py")
    for path in files:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def file_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _cache_file(root: Path) -> Path:
    key = hashlib.blake2b(str(root).encode(), digest_size=8).hexdigest()
    return cache_dir() / f"catalog-{key}.pickle"


def read(root: Path) -> dict[str, Any] | None:
    """The cache for this catalog root if it was written by this code, else None."""
    try:
        with _cache_file(root).open("rb") as fh:
            cached = pickle.load(fh)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None
    if not isinstance(cached, dict) or cached.get("code") != _code_fingerprint():
        return None
    return cached


def write(root: Path, content: dict[str, Any]) -> None:
    """Store atomically; a cache that cannot be written is simply not used."""
    target = _cache_file(root)
    content = {**content, "code": _code_fingerprint()}
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(content, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, target)
    except OSError:
        try:
            os.unlink(tmp)  # type: ignore[possibly-undefined]
        except (OSError, NameError):
            pass
