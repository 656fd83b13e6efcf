"""Freshness strategies: one small module each, all fed by the one HTTP helper.

- `document`: conditional GET + content hash.
- `text_quote`: find the claim's `as_stated` words in the fetched text (HTML or PDF).
- `json_path`: extract one value from an API response, with guards.
- `arxiv_version`: a pinned arXiv version is immutable; a newer one raises an alert.

A strategy never fetches and never writes: the checker fetches each URL once,
hands the response to the strategy of every claim citing it, and decides what
to do with the Outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provenance.model import CheckPolicy
from provenance.verification import Result


@dataclass(frozen=True)
class ClaimRef:
    """One cited value as the checker sees it: where it is written and whom it cites."""

    path: str  # "grids/great_britain#carbon_intensity"
    file: Path  # the YAML file holding it
    keys: tuple[str, ...]  # the claim mapping's location in that file, e.g. ("memory", "bandwidth")
    claim: Mapping[str, Any]  # the claim's fields as written: value, unit, as_stated, locator, method, ...
    source_id: str
    source: Mapping[str, Any]  # the source's entry in sources.yaml
    policy: CheckPolicy  # effective check policy (source type defaults + source + claim overrides)

    @property
    def value(self) -> float:
        return float(self.claim["value"])

    @property
    def unit(self) -> str:
        return str(self.claim.get("unit", ""))


@dataclass
class Outcome:
    """What a strategy concluded about one claim."""

    result: Result
    message: str = ""
    observed: Any = None  # the value (or text) the source shows now
    snippet: str | None = None  # the words around the evidence, for people
    proposal: dict[str, Any] = field(default_factory=dict)  # claim field -> new value
    guarded: bool = False  # the proposal passed declared plausibility and assert guards
    advance_baseline: bool = False  # the fetched document may become the new verified version
