"""Verification state (catalog/verification.json) and the badge derived from it.

The freshness checker is the only writer of verification.json; everything else
reads it. A badge is never stored: it is derived from the claim's method, its
check policy and its last check result, as of a given day.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Result = Literal["match", "changed", "missing", "unreachable", "blocked", "malformed", "skipped"]

# Every result, in the order reports list them; those that need a person.
RESULTS: tuple[str, ...] = ("match", "changed", "missing", "unreachable", "blocked", "malformed", "skipped")
ATTENTION: frozenset[str] = frozenset({"changed", "missing", "unreachable", "blocked", "malformed"})
Badge = Literal["verified", "live", "stale", "changed", "broken", "estimated", "unsourced"]

VERIFICATION_FILE = "verification.json"

BADGES: dict[str, str] = {
    "verified": "last check matched and is within cadence",
    "live": "value refreshed from a live API within cadence",
    "stale": "cited, but not verified within cadence",
    "changed": "the source changed or disagrees: needs review",
    "broken": "the source is unreachable, gone, or serves a document that cannot be read",
    "estimated": "method: estimated",
    "unsourced": "record failed validation",
}


@dataclass(frozen=True)
class CheckState:
    """The last freshness-check result for one claim."""

    result: Result
    last_checked: dt.date
    last_verified: dt.date | None = None
    next_due: dt.date | None = None
    observed: Any = None
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("last_checked", "last_verified", "next_due"):
            out[key] = out[key].isoformat() if out[key] else None
        out["evidence"] = dict(self.evidence)
        return {k: v for k, v in out.items() if v is not None and v != {}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CheckState:
        def day(key: str) -> dt.date | None:
            return dt.date.fromisoformat(data[key]) if data.get(key) else None

        return cls(
            result=data["result"],
            last_checked=day("last_checked"),  # type: ignore[arg-type]
            last_verified=day("last_verified"),
            next_due=day("next_due"),
            observed=data.get("observed"),
            evidence=data.get("evidence", {}),
        )


def read_verification(catalog_root: Path) -> tuple[dict[str, CheckState], dict[str, Any]]:
    """Claim path -> last check state, and the run metadata. Empty when never checked."""
    path = Path(catalog_root) / VERIFICATION_FILE
    if not path.is_file():
        return {}, {}
    data = json.loads(path.read_text(encoding="utf-8"))
    claims = {p: CheckState.from_json(s) for p, s in data.get("claims", {}).items()}
    return claims, data.get("run", {})


# Worst first: a derived value is no more trustworthy than its weakest input.
_WEAKEST_FIRST: tuple[Badge, ...] = ("unsourced", "changed", "broken", "stale", "estimated", "verified", "live")


def badge(method: str, volatility: str, cadence_days: int, state: CheckState | None, today: dt.date,
          inputs: Sequence[Badge] = ()) -> Badge:
    """The badge a reader sees for one claim (DESIGN.md, "Verification state and badges").

    A derived value that the checker has not itself flagged (no state, or its check was
    skipped because it is verified through its inputs) takes the weakest badge of the
    `inputs` it is derived from, when the caller passes them; `live` inputs make it `live`.
    """
    if method == "estimated":
        return "estimated"
    if inputs and (state is None or state.result == "skipped"):
        return min(inputs, key=_WEAKEST_FIRST.index)
    if state is None:
        return "stale"
    if state.result in ("changed", "missing"):
        return "changed"
    if state.result in ("unreachable", "blocked", "malformed"):
        return "broken"
    if state.result == "match" and state.last_verified is not None:
        if 0 <= (today - state.last_verified).days <= cadence_days:
            return "live" if volatility == "live" else "verified"
    return "stale"
