"""The freshness page's view: what the checker's last run found, read from
catalog/verification.json through provenance.verification only."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from mlsysim.site.safety import http_url
from mlsysim.site.views import ClaimView, SiteModel, exact

_ATTENTION = ("changed", "missing", "unreachable", "blocked")
RESULTS = ("match", "changed", "missing", "unreachable", "blocked", "skipped")


@dataclass
class Finding:
    """One claim whose last check needs a person: changed, missing, unreachable or blocked."""

    path: str
    claim: ClaimView | None  # None when the claim is no longer in the catalog
    result: str
    last_checked: str
    observed: str
    proposal: str  # "old -> new" when the source now states another number
    evidence: list[tuple[str, str, str | None]]  # (key, text, http(s) link or None)


@dataclass
class Freshness:
    run: list[tuple[str, str]]  # the run's metadata as written by the checker
    checked: int
    results: dict[str, int]
    latest: str
    findings: list[Finding] = field(default_factory=list)
    never_checked: int = 0
    not_current: int = 0  # stale: cited but not verified within cadence

    @property
    def proposals(self) -> list[Finding]:
        return [f for f in self.findings if f.proposal]


def _text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    if isinstance(value, float):
        return exact(value)
    return "" if value is None else str(value)


def freshness(model: SiteModel) -> Freshness:
    states, run = model.book.states, model.book.run
    claims = {c.path: c for v in model.records.values() for c in v.claims}
    results = Counter(s.result for s in states.values())
    view = Freshness(
        run=[(str(k), _text(v)) for k, v in sorted(run.items())],
        checked=len(states),
        results={r: results.get(r, 0) for r in RESULTS},
        latest=max((s.last_checked for s in states.values()), default=None).isoformat() if states else "",
        never_checked=sum(1 for p, c in claims.items() if p not in states and c.method != "estimated"),
        not_current=sum(1 for c in claims.values() if c.badge == "stale"),
    )
    for path, state in sorted(states.items()):
        if state.result not in _ATTENTION:
            continue
        claim = claims.get(path)
        proposal = ""
        if state.result == "changed" and isinstance(state.observed, (int, float)) and claim is not None and state.observed != claim.value:
            proposal = f"{claim.value_text} → {exact(float(state.observed))}{' ' + claim.unit if claim.unit else ''}"
        evidence = [(str(k), _text(v), http_url(v)) for k, v in sorted(state.evidence.items())]
        view.findings.append(Finding(
            path=path, claim=claim, result=state.result, last_checked=state.last_checked.isoformat(),
            observed=_text(state.observed), proposal=proposal, evidence=evidence,
        ))
    return view
