"""Badges as readers see them: the word (DESIGN.md's table), its colours, and
the dates behind it.

The badge is derived by provenance.verification.badge from the claim's method,
its effective check policy and its last check result; this module gathers those
inputs for every claim of a catalog and says how a badge looks. One distinction
is drawn here, as DESIGN.md's badge table draws it: a value no machine has ever
verified is `cited` (it rests on a person's reading at retrieval), not `stale`;
`stale` is kept for a past verification that has expired.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from provenance.model import CheckPolicy, effective_policy
from mlsysim.errors import MlsysimError
from provenance.verification import BADGES, VERIFICATION_FILE, CheckState, badge, read_verification


@dataclass(frozen=True)
class BadgeStyle:
    symbol: str  # shown before the word; decorative (aria-hidden), the word carries the meaning
    fg: str
    bg: str
    border: str
    shields: str  # shields.io colour name for endpoint JSON


# One entry per badge word of DESIGN.md. Dark text on a light tint keeps every
# badge above WCAG AA contrast; the word, not the colour, carries the meaning.
BADGE_STYLES: dict[str, BadgeStyle] = {
    "cited": BadgeStyle("❝", "#2f3e4e", "#e8eef4", "#7d8fa3", "informational"),
    "verified": BadgeStyle("✓", "#0b5d1e", "#dcf5e3", "#3c9a55", "brightgreen"),
    "live": BadgeStyle("●", "#0b4a8b", "#dceafb", "#4a83c4", "blue"),
    "stale": BadgeStyle("◷", "#5c4200", "#fcefc2", "#c79a1e", "yellow"),
    "changed": BadgeStyle("!", "#8a3300", "#fde2cc", "#d9772f", "orange"),
    "broken": BadgeStyle("✕", "#8f1111", "#fbdada", "#d04545", "red"),
    "estimated": BadgeStyle("~", "#46366b", "#ebe6f5", "#8b79b8", "lightgrey"),
    "unsourced": BadgeStyle("?", "#333333", "#e6e6e6", "#8a8a8a", "inactive"),
}
# What each word means on the site (DESIGN.md, "Verification state and badges").
BADGE_MEANINGS: dict[str, str] = {
    **BADGES,
    "cited": "cited and read by a person at retrieval; never checked by machine yet",
    "stale": "a past machine verification has expired (not re-verified within its cadence)",
}
BADGE_ORDER: tuple[str, ...] = tuple(BADGE_STYLES)
assert set(BADGE_STYLES) == set(BADGE_MEANINGS) >= set(BADGES), "every badge word needs a style and a meaning"

# Worst first: the badge that speaks for a set of values (a record, a source).
_SEVERITY = ("broken", "changed", "stale", "unsourced", "cited", "verified", "live", "estimated")


@dataclass(frozen=True)
class ClaimStatus:
    """One claim's badge with what it rests on."""

    badge: str
    policy: CheckPolicy
    state: CheckState | None
    retrieved: str = ""  # when a person read the source (sources.yaml `retrieved`)

    @property
    def meaning(self) -> str:
        return BADGE_MEANINGS[self.badge]

    def title(self) -> str:
        """The tooltip: the badge's meaning and the dates behind it."""
        if self.badge == "estimated":
            return "estimated: not a figure the source states; the note says what the estimate rests on"
        parts = [f"{self.badge}: {self.meaning}"]
        if self.retrieved:
            parts.append(f"retrieved {self.retrieved}")
        if self.state is None:
            parts.append("never checked")
        else:
            parts.append(f"last checked {self.state.last_checked.isoformat()} ({self.state.result})")
            parts.append(f"last verified {self.state.last_verified.isoformat() if self.state.last_verified else 'never'}")
            if self.state.next_due:
                parts.append(f"next due {self.state.next_due.isoformat()}")
        parts.append(f"policy: {self.policy.strategy}, {self.policy.volatility}, every {self.policy.cadence_days} days")
        return "; ".join(parts)


class BadgeBook:
    """Badges of every claim of a catalog as of `today`, from its verification.json."""

    def __init__(self, catalog: Any, today: dt.date):
        self.today = today
        try:
            self.states, self.run = read_verification(catalog.root)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # bad JSON, a missing field, a bad date
            raise MlsysimError(
                f"{catalog.root / VERIFICATION_FILE}: cannot read the verification state ({type(exc).__name__}: {exc}); "
                "it is written only by the freshness checker: re-run it, or delete the file to show every value as unchecked"
            ) from None
        self._sources = catalog.sources
        self._source_policy: dict[str, CheckPolicy] = {}

    def _policy(self, source_id: str, claim_check: Any) -> CheckPolicy:
        """effective_policy(source type, the source's check, the claim's check)."""
        source = self._sources.get(source_id, {})
        if claim_check is not None:
            return effective_policy(source.get("type", "webpage"), _policy(source.get("check")), _policy(claim_check))
        if source_id not in self._source_policy:
            self._source_policy[source_id] = effective_policy(source.get("type", "webpage"), _policy(source.get("check")))
        return self._source_policy[source_id]

    def status(self, path: str, claim: dict[str, Any]) -> ClaimStatus:
        policy = self._policy(claim["source"], claim.get("check"))
        state = self.states.get(path)
        word = badge(claim.get("method", "stated"), policy.volatility or "static", policy.cadence_days or 1, state, self.today)
        if word == "stale" and (state is None or state.last_verified is None):
            word = "cited"  # nothing has expired: no machine ever verified it
        retrieved = self._sources.get(claim["source"], {}).get("retrieved")
        return ClaimStatus(word, policy, state, str(retrieved) if retrieved else "")


def _policy(raw: Any) -> CheckPolicy | None:
    if raw is None or isinstance(raw, CheckPolicy):
        return raw
    return CheckPolicy.model_validate(raw)


def worst(badges: Iterable[str]) -> str | None:
    """The badge that speaks for several: the most severe one present."""
    present = set(badges)
    return next((b for b in _SEVERITY if b in present), None)


def counts(badges: Iterable[str]) -> dict[str, int]:
    """Badge -> how many, in DESIGN.md's order, zero counts included."""
    tally = Counter(badges)
    return {b: tally.get(b, 0) for b in BADGE_ORDER}


def shields_endpoint(label: str, badges: list[str]) -> dict[str, Any]:
    """A shields.io endpoint document for a set of values (https://shields.io/badges/endpoint-badge).

    The message counts checked-and-current values ("12/15 verified"), or says
    "15 cited" while no machine has verified any; the colour is that of the
    worst badge, so one broken source turns the badge red.
    """
    cited = [b for b in badges if b != "estimated"]
    current = sum(b in ("verified", "live") for b in cited)
    if cited and all(b == "cited" for b in cited):
        message = f"{len(cited)} cited"
        if len(cited) < len(badges):
            message += f", {len(badges) - len(cited)} estimated"
    elif cited:
        message = f"{current}/{len(cited)} verified"
        if len(cited) < len(badges):
            message += f", {len(badges) - len(cited)} estimated"
    else:
        message = f"{len(badges)} estimated" if badges else "no values"
    colour = BADGE_STYLES[worst(cited) or "estimated"].shields
    return {"schemaVersion": 1, "label": label, "message": message, "color": colour}
