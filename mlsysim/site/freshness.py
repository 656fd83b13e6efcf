"""The freshness page's view: what the checker's last run found, read from
catalog/verification.json through provenance.verification only, summarised for
people: how many values were checked by machine and when, how many rest on a
person's reading at retrieval, what is due when, per source. Hashes and
fingerprints (ETag, sha256, claim fingerprints) stay in verification.json.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from mlsysim.site.safety import http_url
from mlsysim.site.views import ClaimView, SiteModel, SourceView, exact

RESULTS = ("match", "changed", "missing", "unreachable", "blocked", "skipped")
_SETTLED = {"match", "skipped"}  # every other result needs a person
# Evidence as people read it; anything not named here (hashes, fingerprints) is not shown.
_EVIDENCE = {
    "url": "Fetched", "status": "HTTP status", "last_modified": "Last-Modified", "failure": "Failure",
    "message": "Checker says", "snippet": "Source text", "action": "Action",
}
_HASH = re.compile(r"^(sha256:)?[0-9a-f]{32,}$|^W?/?\"?[0-9a-f-]{20,}\"?$", re.IGNORECASE)


@dataclass
class Finding:
    """One claim whose last check needs a person: changed, missing, unreachable, blocked (or any other failure)."""

    path: str
    claim: ClaimView | None  # None when the claim is no longer in the catalog
    result: str
    last_checked: str
    observed: str
    proposal: str  # "old -> new" when the source now states another number
    evidence: list[tuple[str, str, str | None]]  # (label, text, http(s) link or None)


@dataclass
class SourceFreshness:
    source: SourceView
    checked: int  # values of this source the checker holds a result for
    next_due: str  # a date, "now" (overdue), or "" (never scheduled)


@dataclass
class Freshness:
    run: list[tuple[str, str]]  # the run's metadata as written by the checker, hashes left out
    checked: int
    results: dict[str, int]
    latest: str
    findings: list[Finding] = field(default_factory=list)
    never_checked: int = 0  # cited values no machine has checked: they rest on a person's reading
    not_current: int = 0  # stale: verified once, not re-verified within cadence
    estimated: int = 0
    total: int = 0
    retrieved_from: str = ""
    retrieved_to: str = ""
    due: list[tuple[str, int]] = field(default_factory=list)  # (when, values due then)
    sources: list[SourceFreshness] = field(default_factory=list)
    checked_current: int = 0  # verified or live as of the build

    @property
    def proposals(self) -> list[Finding]:
        return [f for f in self.findings if f.proposal]


def _text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    if isinstance(value, float):
        return exact(value)
    return "" if value is None else str(value)


def _human_key(key: str) -> str:
    text = key.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def freshness(model: SiteModel) -> Freshness:
    states, run = model.book.states, model.book.run
    today = model.book.today
    claims = {c.path: c for v in model.records.values() for c in v.claims}
    results = Counter(s.result for s in states.values())
    cited = [c for c in claims.values() if c.badge == "cited"]
    retrieved = sorted(c.source.retrieved for c in cited if c.source.retrieved)
    view = Freshness(
        run=[(_human_key(str(k)), _text(v)) for k, v in sorted(run.items()) if not _HASH.match(_text(v))],
        checked=len(states),
        results={**{r: results.get(r, 0) for r in RESULTS}, **{r: n for r, n in sorted(results.items()) if r not in RESULTS}},
        latest=max((s.last_checked for s in states.values()), default=None).isoformat() if states else "",
        never_checked=len(cited),
        not_current=sum(1 for c in claims.values() if c.badge == "stale"),
        estimated=sum(1 for c in claims.values() if c.badge == "estimated"),
        total=len(claims),
        retrieved_from=retrieved[0] if retrieved else "",
        retrieved_to=retrieved[-1] if retrieved else "",
        checked_current=sum(1 for c in claims.values() if c.badge in ("verified", "live")),
    )
    view.due = _due(claims.values(), today)
    view.sources = _per_source(model, today)
    for path, state in sorted(states.items()):
        if state.result in _SETTLED:
            continue
        claim = claims.get(path)
        proposal = ""
        if state.result == "changed" and isinstance(state.observed, (int, float)) and claim is not None and state.observed != claim.value:
            proposal = f"{claim.value_text} → {exact(float(state.observed))}{' ' + claim.unit if claim.unit else ''}"
        evidence = [(_EVIDENCE[k], _text(v), http_url(v)) for k, v in sorted(state.evidence.items(), key=lambda kv: list(_EVIDENCE).index(kv[0]) if kv[0] in _EVIDENCE else 99)
                    if k in _EVIDENCE and not _HASH.match(_text(v))]
        view.findings.append(Finding(
            path=path, claim=claim, result=state.result, last_checked=state.last_checked.isoformat(),
            observed=_text(state.observed), proposal=proposal, evidence=evidence,
        ))
    return view


def _due(claims: Any, today: dt.date) -> list[tuple[str, int]]:
    """When values are next due for a machine check: overdue, by month, or at the checker's first run."""
    buckets: Counter[str] = Counter()
    for c in claims:
        if c.method == "estimated":
            continue
        state = c.status.state
        if state is None or state.next_due is None:
            buckets["at the checker's first run (never checked)"] += 1
        elif state.next_due <= today:
            buckets["now (due or overdue)"] += 1
        else:
            buckets[state.next_due.strftime("%Y-%m")] += 1
    first = [k for k in ("now (due or overdue)",) if k in buckets]
    months = sorted(k for k in buckets if re.match(r"\d{4}-\d{2}$", k))
    never = [k for k in buckets if k.startswith("at the checker")]
    return [(k, buckets[k]) for k in first + months + never]


def _per_source(model: SiteModel, today: dt.date) -> list[SourceFreshness]:
    rows = []
    for source in model.sources.values():
        if not source.cited:
            continue
        checked = sum(1 for c in source.claims if c.status.state is not None)
        if source.next_due is None:
            due = ""
        elif source.next_due <= today:
            due = "now"
        else:
            due = source.next_due.isoformat()
        rows.append(SourceFreshness(source, checked, due))
    severity = ("broken", "changed", "stale", "unsourced", "cited", "verified", "live", "estimated")
    return sorted(rows, key=lambda r: (severity.index(r.source.status) if r.source.status in severity else 99,
                                       r.next_due or "9999", r.source.title.lower()))
