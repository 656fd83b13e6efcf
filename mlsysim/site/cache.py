"""What one zoo build hands the next: the SVG charts it drew and the display-unit
factors it computed, keyed by their exact inputs.

Drawing the charts with matplotlib (importing it included) and building the pint
registry for a handful of display-unit factors cost more than every page together,
yet their inputs rarely change between builds. A build that finds a chart's inputs
(chart kind and the repr of every argument: names, floats to the last bit) in this
cache copies the SVG it drew last time; one that finds every chart and factor here
imports neither matplotlib nor pint. What the cache holds is exactly what the same
code would draw again: its fingerprint covers the chart and unit code, the units
definitions file and the matplotlib version, and any change there empties it.

Like the validated-catalog cache, it holds data, never code: JSON that starts with a
digest of its own payload (altered bytes are never served), read only from a regular
file this user owns and nobody else may write, written atomically (temp file +
rename). Anything wrong with it means the charts are drawn again, never that a build
fails. Only the entries one build used are written back, so it never grows stale.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from mlsysim.catalog.cache import read_cache_file, write_cache_file
from mlsysim.catalog.paths import cache_dir

FORMAT = 1
MAGIC = b"mlsysim-site-cache"
_FILE = "site-charts.json"


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A digest of everything besides its inputs that decides a chart's bytes or a unit factor."""
    site = Path(__file__).resolve().parent
    catalog = site.parent / "catalog"
    digest = hashlib.blake2b(f"{FORMAT}".encode(), digest_size=16)
    for path in (site / "charts.py", catalog / "units.py", catalog / "units.txt"):
        digest.update(path.read_bytes())
    for package in ("matplotlib", "pint"):
        try:
            digest.update(f"{package} {metadata.version(package)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{package} absent".encode())
    return digest.hexdigest()


class BuildCache:
    """Charts and unit factors from the last build, and those of this one to store.

    `path` None: $MLSYSIM_CACHE_DIR (or the user cache directory) / site-charts.json.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or cache_dir() / _FILE
        self._old_charts, self._old_factors = self._read()
        self._charts: dict[str, str] = {}
        self._factors: dict[str, float] = {}
        self.hits = 0
        self.misses = 0

    def _read(self) -> tuple[dict[str, str], dict[str, float]]:
        payload = read_cache_file(self.path, MAGIC)
        if payload is None:
            return {}, {}
        try:
            data = json.loads(payload)
        except (ValueError, TypeError, UnicodeDecodeError, RecursionError, MemoryError):
            return {}, {}
        if not isinstance(data, dict) or data.get("code") != code_fingerprint():
            return {}, {}
        charts, factors = data.get("charts"), data.get("factors")
        if not isinstance(charts, dict) or not isinstance(factors, dict):
            return {}, {}
        charts = {k: v for k, v in charts.items() if isinstance(v, str)}
        factors = {k: float(v) for k, v in factors.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        return charts, factors

    def chart(self, kind: str, args: tuple[Any, ...], draw: Callable[[], str]) -> str:
        """The SVG of chart `kind` for `args`: the one drawn for the same inputs before, else `draw()`."""
        svg = self.get_chart(kind, args)
        if svg is None:
            svg = draw()
            self.put_chart(kind, args, svg)
        return svg

    def get_chart(self, kind: str, args: tuple[Any, ...]) -> str | None:
        """The SVG of chart `kind` drawn for the same `args` before (kept for the next build), else None."""
        key = f"{kind}{args!r}"
        svg = self._charts.get(key)
        if svg is None:
            svg = self._old_charts.get(key)
            if svg is None:
                self.misses += 1
                return None
            self.hits += 1
            self._charts[key] = svg
        return svg

    def put_chart(self, kind: str, args: tuple[Any, ...], svg: str) -> None:
        """Remember the SVG just drawn for chart `kind` and `args`."""
        self._charts[f"{kind}{args!r}"] = svg

    def factor(self, unit: str, dimension: str) -> float:
        """1 `unit` in the canonical unit of `dimension` (units.to_canonical), remembered across builds."""
        key = f"{unit}\u0000{dimension}"
        value = self._factors.get(key)
        if value is None:
            value = self._old_factors.get(key)
            if value is None:
                from mlsysim.catalog.units import to_canonical

                value = to_canonical(1.0, unit, dimension)
            self._factors[key] = value
        return value

    def save(self) -> None:
        """Store what this build used (atomically, owner-only write); unchanged or unwritable: nothing happens."""
        if self._charts == self._old_charts and self._factors == self._old_factors:
            return
        payload = json.dumps({"code": code_fingerprint(), "charts": self._charts, "factors": self._factors},
                             sort_keys=True, separators=(",", ":")).encode("utf-8")
        write_cache_file(self.path, MAGIC, payload)
