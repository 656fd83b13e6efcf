"""The freshness checker: re-verify cited sources, refresh live values, never corrupt a record.

One run:
1. plan: the selected claims (`only`: a source id, a record or a claim path),
   only those due by their cadence when `due_only`;
2. fetch each URL once however many claims cite it (conditional GET with the
   validators of the last verified version), politely and in parallel;
3. run each claim's strategy on its document;
4. act on each change by the claim's `on_change`: `apply` rewrites a live
   value that passed its guards, `propose` puts the edit in the report (and
   with `apply_proposals` into the YAML), `alert` only reports; a changed
   input marks the values derived from it for review;
5. under the catalog lock, merge this run's results into the current
   catalog/verification.json (sorted, stable) and write the YAML edits through
   the round-trip editor (validated, atomic); then return the report.

Hostile input is contained: every document's failure (unreachable, blocked,
malformed, too slow) is that document's result, never the run's; the run has
an overall deadline after which the rest is `skipped`; and a run in which the
network, not the sources, failed (an OUTAGE: every host failing the same way,
or more than `outage_share` of the documents failing) writes nothing at all,
so no badge turns red because a laptop was offline.

Domain-agnostic: the caller supplies the claims, a unit converter and a
catalog validator.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from provenance import connectors
from provenance.atomic import write_text_atomic
from provenance.editor import EditError, Validator, commit, stage_edits
from provenance.http import Fetched, Fetcher, Redactor, Request, host_key
from provenance.lock import catalog_lock
from provenance.model import DEFAULT_MAX_STEP
from provenance.problems import ProvenanceError
from provenance.strategies import ClaimRef, Outcome, arxiv_version, document, json_path, text_quote
from provenance.verification import ATTENTION, VERIFICATION_FILE, CheckState, read_verification

ATTENTION_RESULTS = ATTENTION
REPORT_FORMAT = 1
DEFAULT_DEADLINE = 1200.0  # seconds for one run's fetching, inside the CI job's 30 minutes; then the rest is skipped


class CheckerError(ProvenanceError):
    """Bad input to the checker (e.g. --only names nothing); exit 1."""


class Progress(Protocol):
    def start(self, total: int) -> None: ...
    def advance(self, label: str, fetched: Fetched) -> None: ...


@dataclass(frozen=True)
class Options:
    today: dt.date
    only: str | None = None
    due_only: bool = False
    apply_proposals: bool = False
    offline: bool = False
    arxiv_api: str = arxiv_version.API
    connector_overrides: Mapping[str, str] = field(default_factory=dict)  # URL prefix -> connector, for local servers
    deadline: float | None = DEFAULT_DEADLINE  # seconds for the whole run's fetching; None: no limit
    outage_share: float = 0.5  # more than this share of the documents failing is an outage, not rot
    outage_min_documents: int = 3  # ... when at least this many documents were fetched
    lock_timeout: float = 600.0  # seconds to wait for another run's catalog lock


@dataclass
class ClaimResult:
    ref: ClaimRef
    strategy: str
    outcome: Outcome
    action: str = "none"  # none | applied | proposed | written | accepted | alert | failed
    fetch: dict[str, Any] = field(default_factory=dict)

    @property
    def needs_attention(self) -> bool:
        return self.outcome.result in ATTENTION_RESULTS or self.action in ("proposed", "written", "accepted", "alert", "failed")


@dataclass
class Group:
    """Claims that share one fetched document."""

    url: str
    strategy_of: dict[str, str] = field(default_factory=dict)  # claim path -> strategy
    refs: list[ClaimRef] = field(default_factory=list)
    connector: ModuleType | None = None
    headers: dict[str, str] = field(default_factory=dict)
    skip: str | None = None  # reason the group is not fetched
    fetch_url: str | None = None  # the URL as the connector prepared it (e.g. with query parameters)
    local: str | None = None  # a source that is a file in the catalog: its path there, read instead of fetched


# ---------------------------------------------------------------- planning


def select(claims: Sequence[ClaimRef], only: str | None) -> list[ClaimRef]:
    """Claims matching a source id, a record (`kind/id` or `id`) or a claim path."""
    if not only:
        return list(claims)
    chosen = [c for c in claims if only in (c.source_id, c.path, c.path.split("#", 1)[0], c.path.split("#", 1)[0].split("/", 1)[-1])]
    if not chosen:
        import difflib

        names = sorted({c.source_id for c in claims} | {c.path.split("#", 1)[0] for c in claims})
        close = difflib.get_close_matches(only, names, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else "; give a source id from sources.yaml, a record (e.g. grids/great_britain) or a claim path"
        raise CheckerError(f"--only {only!r} matches no cited value{hint}")
    return chosen


def is_due(state: CheckState | None, today: dt.date) -> bool:
    return state is None or state.next_due is None or state.next_due <= today


def strategy_for(ref: ClaimRef) -> str:
    """The strategy actually run: the policy's, with fallbacks for what a claim or source lacks."""
    strategy = ref.policy.strategy or "document"
    has_quote = bool(ref.claim.get("as_stated"))
    if strategy == "json_path":
        if ref.claim.get("method") == "derived":
            return "none"  # checked through its inputs
        if not ref.policy.json_path:  # an "api" source that is really a file: read it as text
            return "text_quote" if has_quote else "document"
    if strategy == "arxiv_version" and not ref.source.get("arxiv"):
        return "text_quote" if has_quote else "document"
    if strategy == "text_quote" and not has_quote:
        return "document"
    return strategy


def fetch_url(ref: ClaimRef, strategy: str, arxiv_api: str) -> str:
    if strategy == "arxiv_version":
        return arxiv_version.api_url(ref.source["arxiv"]["id"], arxiv_api)
    if strategy == "json_path":
        return str(ref.source["url"])
    if ref.source.get("document_url"):
        return str(ref.source["document_url"])
    return raw_file_url(str(ref.source["url"]))


_GITHUB_BLOB = re.compile(r"^https://github\.com/([^/]+)/([^/]+)/blob/([^?#]+)$")
_HF_BLOB = re.compile(r"^https://huggingface\.co/(.+?)/blob/([^?#]+)$")


def raw_file_url(url: str) -> str:
    """The raw text of a file shown on a GitHub or Hugging Face "blob" page.

    Their blob pages render the file with JavaScript from embedded JSON, so the
    text a quote must be found in is only in the raw file.
    """
    if m := _GITHUB_BLOB.match(url):
        return f"https://raw.githubusercontent.com/{m[1]}/{m[2]}/{m[3]}"
    if m := _HF_BLOB.match(url):
        return f"https://huggingface.co/{m[1]}/raw/{m[2]}"
    return url


def auth_var(source: Mapping[str, Any]) -> str | None:
    auth = (source.get("access") or {}).get("auth")
    return auth.split(":", 1)[1] if isinstance(auth, str) and auth.startswith("env:") else None


# ---------------------------------------------------------------- the run


class _Document:
    """One fetched document, its text or JSON read at most once; a failure to read it is kept as words."""

    def __init__(self, got: Fetched, redactor: Redactor, parse_json: bool):
        self.got = got
        self._redactor = redactor
        self._text: tuple[str | None, str | None] | None = None
        self._json: tuple[Any, str | None] = (None, None)
        if parse_json:
            try:
                self._json = (json_path.parse(got.body), None)
            except ValueError as exc:
                self._json = (None, redactor.text(str(exc)))
            except Exception as exc:
                self._json = (None, redactor.text(f"cannot read the JSON ({type(exc).__name__})"))

    def json(self) -> tuple[Any, str | None]:
        return self._json

    def text(self) -> tuple[str | None, str | None]:
        if self._text is None:
            try:
                self._text = (text_quote.document_text(self.got), None)
            except text_quote.TextError as exc:
                self._text = (None, self._redactor.text(str(exc)))
            except Exception as exc:  # a parser failing on hostile bytes
                self._text = (None, self._redactor.text(f"cannot extract the document's text ({type(exc).__name__}: {str(exc)[:200]})"))
        return self._text


class Checker:
    def __init__(
        self,
        root: Path,
        claims: Sequence[ClaimRef],
        *,
        fetcher: Fetcher,
        convert: json_path.Convert,
        validate: Validator | None,
        options: Options,
        environ: Mapping[str, str] | None = None,
        before_replace: Callable[[Path], None] | None = None,
    ):
        self.root = Path(root)
        self.claims = list(claims)
        self.fetcher = fetcher
        self.convert = convert
        self.validate = validate
        self.options = options
        self.environ = dict(os.environ if environ is None else environ)
        self.before_replace = before_replace
        self.redactor: Redactor = fetcher.redactor
        # Every key any source names is a secret, whether or not this run uses it.
        for claim in self.claims:
            var = auth_var(claim.source)
            if var:
                self.redactor.add(self.environ.get(var))
        self.states, _ = _read_states(self.root)

    # ---------------------------------------------------------------- plan

    def plan(self) -> list[ClaimRef]:
        chosen = select(self.claims, self.options.only)
        if self.options.due_only:
            chosen = [c for c in chosen if is_due(self.states.get(c.path), self.options.today)]
        return sorted(chosen, key=lambda c: c.path)

    def _groups(self, planned: Sequence[ClaimRef]) -> tuple[dict[str, Group], list[ClaimResult]]:
        groups: dict[str, Group] = {}
        unfetched: list[ClaimResult] = []
        for ref in planned:
            strategy = strategy_for(ref)
            if strategy == "none":
                why = "derived value: checked through its inputs" if ref.claim.get("method") == "derived" else "check strategy is 'none'"
                unfetched.append(ClaimResult(ref, strategy, Outcome("skipped", why)))
                continue
            local = None if ref.source.get("url") else str(ref.source["path"])
            url = f"catalog:{local}" if local else fetch_url(ref, strategy, self.options.arxiv_api)
            group = groups.setdefault(url, Group(url, local=local))
            group.refs.append(ref)
            group.strategy_of[ref.path] = strategy
        for group in groups.values():
            if group.local is not None:
                continue  # read from the catalog itself, offline or not
            if self.options.offline:
                group.skip = "offline: not fetched"
                continue
            group.connector = connectors.connector_for(group.url, self.options.connector_overrides) if "json_path" in group.strategy_of.values() else None
            if group.connector is not None:
                try:
                    url, headers, secret = group.connector.prepare(group.url, self.environ, auth_var(group.refs[0].source))
                except connectors.MissingCredential as exc:
                    group.skip = str(exc)
                    continue
                self.redactor.add(secret)
                group.fetch_url, group.headers = url, headers
        return groups, unfetched

    def _settled(self, ref: ClaimRef) -> CheckState | None:
        """The claim's last state if it matched and the claim is still written as it was then."""
        state = self.states.get(ref.path)
        if state is None or state.result != "match" or state.evidence.get("claim") != fingerprint(ref):
            return None
        return state

    def _request(self, group: Group) -> Request:
        """Conditional only when every claim citing the document matched its same verified version.

        Live APIs are always fetched in full: their value, not the document, is what is checked.
        """
        etag = last_modified = None
        prior = [self._settled(r) for r in group.refs]
        if "json_path" not in group.strategy_of.values() and all(prior):
            validators = {(s.evidence.get("etag"), s.evidence.get("last_modified"), s.evidence.get("verified_sha256")) for s in prior if s}
            if len(validators) == 1:
                etag, last_modified, _ = validators.pop()
        return Request(group.fetch_url or group.url, headers=group.headers, etag=etag, last_modified=last_modified, key=group.url)

    # ---------------------------------------------------------------- run

    def run(self, progress: Progress | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + self.options.deadline if self.options.deadline else None
        planned = self.plan()
        groups, results = self._groups(planned)
        to_fetch = [g for g in groups.values() if g.skip is None and g.local is None]
        if progress and to_fetch:
            progress.start(len(to_fetch))
        requests = [self._request(g) for g in to_fetch]
        fetched = self.fetcher.fetch_many(
            requests,
            on_done=(lambda req, got: progress.advance(self.redactor.url(req.url), got)) if progress else None,
            deadline=deadline,
        )
        for group in groups.values():
            if group.skip is not None:
                results += [ClaimResult(r, group.strategy_of[r.path], Outcome("skipped", group.skip)) for r in group.refs]
            elif group.local is not None:
                results += self._evaluate_contained(group, self._read_local(group.local))
            else:
                results += self._evaluate_contained(group, fetched[group.url])
        results.sort(key=lambda r: r.ref.path)
        outage = None if self.options.offline else detect_outage(requests, fetched, self.options.outage_share, self.options.outage_min_documents)
        if outage is not None:
            return self._report(results, planned, outage=outage)  # nothing decided, nothing written
        self._decide(results)
        if not self.options.offline:
            self._write(results)
        return self._report(results, planned)

    def _read_local(self, path: str) -> Fetched:
        """A source file inside the catalog, as if fetched: its bytes, or `gone` if it is missing."""
        url = f"catalog:{path}"
        try:
            return Fetched(url=url, status=200, body=(self.root / path).read_bytes())
        except OSError as exc:
            return Fetched(url=url, failure="gone", message=f"no file {path} in the catalog ({type(exc).__name__})",
                           reason="internal")

    def _evaluate_contained(self, group: Group, got: Fetched) -> list[ClaimResult]:
        """_evaluate, with any failure on a hostile document turned into that document's `malformed` result."""
        try:
            return self._evaluate(group, got)
        except Exception as exc:
            message = self.redactor.text(f"cannot read the document ({type(exc).__name__}: {str(exc)[:200]})")
            return [ClaimResult(ref, group.strategy_of[ref.path], Outcome("malformed", message), fetch=got.evidence()) for ref in group.refs]

    def _evaluate(self, group: Group, got: Fetched) -> list[ClaimResult]:
        evidence = got.evidence()
        if not got.ok:
            result = {"blocked": "blocked", "skipped": "skipped"}.get(got.failure or "", "unreachable")
            return [ClaimResult(ref, group.strategy_of[ref.path], Outcome(result, got.message), fetch=evidence)  # type: ignore[arg-type]
                    for ref in group.refs]
        doc = _Document(got, self.redactor, parse_json="json_path" in group.strategy_of.values() and not got.not_modified)
        out = []
        for ref in group.refs:
            try:
                outcome = self._outcome(group, doc, ref)
            except Exception as exc:  # one claim's strategy failing on this document
                outcome = Outcome("malformed", self.redactor.text(f"cannot check this value in the document ({type(exc).__name__}: {str(exc)[:200]})"))
            out.append(ClaimResult(ref, group.strategy_of[ref.path], outcome, fetch=evidence))
        return out

    def _outcome(self, group: Group, doc: _Document, ref: ClaimRef) -> Outcome:
        """One claim's outcome on its fetched document."""
        got = doc.got
        strategy = group.strategy_of[ref.path]
        prior = self.states.get(ref.path)
        verified = prior.evidence.get("verified_sha256") if prior else None
        settled = self._settled(ref)
        unchanged = settled is not None and (got.not_modified or (got.sha256 is not None and got.sha256 == verified))
        if unchanged and strategy in ("document", "text_quote"):
            return Outcome("match", "HTTP 304 Not Modified" if got.not_modified else "document unchanged since it was last verified",
                           observed=settled.observed if settled else None)
        if got.not_modified:
            return Outcome("missing", "HTTP 304 to an unconditional request; the server sent no document")
        if strategy == "document":
            return document.check(got, verified)
        if strategy == "text_quote":
            text, error = doc.text()
            return Outcome("malformed", error) if error is not None else text_quote.check(ref, text or "")
        if strategy == "json_path":
            parsed, error = doc.json()
            return Outcome("malformed", error) if error is not None else json_path.check(ref, parsed, group.connector, self.convert, group.url)
        arxiv = ref.source["arxiv"]
        return arxiv_version.check(got, arxiv["id"], arxiv["version"])

    # ---------------------------------------------------------------- decide and write

    def _decide(self, results: list[ClaimResult]) -> None:
        """Turn outcomes into actions by each claim's on_change; mark dependents of changed inputs."""
        for r in results:
            o, on_change = r.outcome, r.ref.policy.on_change or "alert"
            if o.result != "changed":
                continue
            if o.proposal and any(self.redactor.leaks(str(v)) for v in o.proposal.values()):
                r.action = "alert"
                o.proposal = {}
                o.message += "; not written: the new text would contain a secret"
                continue
            if o.proposal and "value" in o.proposal and on_change == "apply" and r.strategy == "json_path":
                held = None if o.guarded else "the claim declares no 'plausible' range, so it is proposed instead"
                held = held or self._held_back(r)
                if held is None:
                    r.action = "applied"
                else:
                    r.action = "proposed"
                    o.message += f"; not applied: {held}"
            elif o.proposal and on_change in ("apply", "propose"):
                r.action = "written" if self.options.apply_proposals else "proposed"
            elif r.strategy == "document" and self.options.apply_proposals:
                # Accepting a revised document as the verified version touches only
                # verification.json; in CI it lands in the pull request for a person to confirm.
                r.action = "accepted"
            else:
                r.action = "alert"
        changed_inputs = {r.ref.path: r for r in results if r.action in ("applied", "written") and "value" in r.outcome.proposal}
        if not changed_inputs:
            return
        by_path = {r.ref.path: r for r in results}
        for ref in self.claims:
            inputs = [p for p in ref.claim.get("derived_from") or [] if p in changed_inputs]
            if not inputs:
                continue
            what = "; ".join(f"input {p} changed from {changed_inputs[p].ref.value:g} to {changed_inputs[p].outcome.proposal['value']:g}" for p in inputs)
            formula = ref.claim.get("formula", "")
            outcome = Outcome("changed", f"{what}; re-derive this value ({formula})")
            if ref.path in by_path:
                by_path[ref.path].outcome, by_path[ref.path].action = outcome, "alert"
            else:
                dependent = ClaimResult(ref, "derived", outcome, action="alert")
                results.append(dependent)
                by_path[ref.path] = dependent
        results.sort(key=lambda r: r.ref.path)

    def _held_back(self, r: ClaimResult) -> str | None:
        """Why a guarded live value must not be applied without review: too large a step, or unstable."""
        o, policy = r.outcome, r.ref.policy
        old, new = r.ref.value, float(o.proposal["value"])
        max_step = policy.max_step if policy.max_step is not None else DEFAULT_MAX_STEP
        if old == 0:
            return f"the catalog value is 0, so a change to {new:g} has no relative size; a person should check it"
        step = abs(new - old) / abs(old)
        if step > max_step:
            return (f"a change of {step:.0%} is more than the {max_step:.0%} step applied without review "
                    f"(check.max_step); a person should check it")
        prior = self.states.get(r.ref.path)
        if prior is None or prior.last_checked is None or prior.evidence.get("moved_on") != prior.last_checked.isoformat():
            return None  # the last run saw no movement
        last, before = prior.observed, prior.evidence.get("previous_observed")
        if not (_is_number(last) and _is_number(before)):
            return None
        tolerance = max(policy.tolerance or 0.0, 1e-12)
        if math.isclose(new, last, rel_tol=tolerance, abs_tol=0.0):
            return None  # the source said the same twice in a row: settled
        if (last - before) * (new - last) < 0:
            return (f"unstable: the source moved from {before:g} to {last:g} on the last run and back towards {new:g} now; "
                    "a value that changes direction on consecutive runs is not applied")
        return None

    def _write(self, results: list[ClaimResult]) -> None:
        """Under the catalog lock: stage and validate every YAML edit, merge this run's results into
        the current verification.json and write it, then the YAML files.

        The lock is held from reading the files to the last rename, so a concurrent run
        (another `--only`, another machine sharing the checkout) never overwrites this
        run's results or edits: each run re-reads verification.json under the lock and
        merges its own results into it.

        verification.json goes first and already records the edited values' fingerprints: a
        run killed before the last YAML file is replaced leaves claims whose text disagrees
        with their recorded fingerprint, so the next run checks (and applies) them again.
        """
        with catalog_lock(self.root, timeout=self.options.lock_timeout):
            self._remove_stale_temp_files()
            current, _ = _read_states(self.root)
            plans: dict[Path, dict[tuple[str | int, ...], Any]] = {}
            for r in results:
                if r.action in ("applied", "written"):
                    for name, value in r.outcome.proposal.items():
                        plans.setdefault(r.ref.file, {})[(*r.ref.keys, name)] = value
            staged: dict[Path, str] = {}
            if plans:
                try:
                    staged = stage_edits(plans, self.validate)
                except EditError as exc:
                    for r in results:
                        if r.action in ("applied", "written"):
                            r.action = "failed"
                            r.outcome.message += f"; NOT written: {exc}"
            states = dict(current)
            for r in results:
                new = self._state(r, current.get(r.ref.path, self.states.get(r.ref.path)))
                if new is not None:
                    states[r.ref.path] = new
            if not self.options.only:
                known = {c.path for c in self.claims}
                states = {p: s for p, s in states.items() if p in known}
            self._write_verification(states)
            commit(staged, self.before_replace)

    def _remove_stale_temp_files(self) -> None:
        """Temp files of an earlier run killed inside an atomic write (`.<name>.<random>.tmp`)."""
        for temp in self.root.rglob(".*.tmp"):
            m = re.match(r"^\.(.+)\.[^.]+\.tmp$", temp.name)
            if m and (temp.parent / m.group(1)).is_file():
                try:
                    temp.unlink()
                except OSError:
                    pass

    def _state(self, r: ClaimResult, prior: CheckState | None) -> CheckState | None:
        today = self.options.today
        o = r.outcome
        if o.result == "skipped":
            # A skipped check says nothing new: keep what is known, unless the claim was rewritten since.
            if prior is not None and prior.result != "skipped" and prior.evidence.get("claim") == fingerprint(r.ref):
                return None
            return CheckState("skipped", today, next_due=today, evidence={"claim": fingerprint(r.ref), "message": o.message})
        settled = o.result == "match" or r.action in ("applied", "written", "accepted")
        evidence: dict[str, Any] = {k: v for k, v in r.fetch.items() if k in ("url", "status", "sha256", "failure")}
        keep = {k: prior.evidence[k] for k in ("verified_sha256", "etag", "last_modified") if prior and k in prior.evidence}
        if settled and r.fetch.get("status") != 304 and (o.advance_baseline or r.action == "accepted" or r.strategy in ("json_path", "text_quote")) and r.fetch.get("sha256"):
            keep = {"verified_sha256": r.fetch["sha256"]}
            keep.update({k: r.fetch[k] for k in ("etag", "last_modified") if k in r.fetch})
        evidence.update(keep)
        evidence["claim"] = fingerprint(r.ref, o.proposal if r.action in ("applied", "written") else None)
        if not settled:
            # Why it needs review. A match stores no prose, so that re-checking an unchanged
            # source leaves verification.json byte-identical.
            evidence.update({k: v for k, v in (("message", o.message), ("snippet", o.snippet)) if v})
            if r.action != "none":
                evidence["action"] = r.action
        observed = o.observed  # the source's own words or number, whatever was done with it
        if r.strategy == "json_path" and _is_number(observed):
            evidence.update(_movement(prior, float(observed), r.ref.value, today))
        cadence = r.ref.policy.cadence_days or 30
        return CheckState(
            result="match" if settled else o.result,
            last_checked=today,
            last_verified=today if settled else (prior.last_verified if prior else None),
            next_due=today + dt.timedelta(days=cadence if settled else 1),
            observed=observed,
            evidence=self.redactor.scrub(evidence),
        )

    def _write_verification(self, states: Mapping[str, CheckState]) -> None:
        data = {
            "format": 1,
            "generated_by": "mlsysim freshness check (never edit by hand)",
            "claims": {p: states[p].to_json() for p in sorted(states)},
        }
        text = json.dumps(self.redactor.scrub(data), indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"
        path = self.root / VERIFICATION_FILE
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            return
        if self.before_replace is not None:
            self.before_replace(path)
        write_text_atomic(path, text)

    # ---------------------------------------------------------------- report

    def _report(self, results: list[ClaimResult], planned: Sequence[ClaimRef], outage: str | None = None) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for r in results:
            counts[r.outcome.result] = counts.get(r.outcome.result, 0) + 1
            if r.action != "none":
                counts[r.action] = counts.get(r.action, 0) + 1
        sources: dict[str, dict[str, Any]] = {}
        for r in results:
            src = sources.setdefault(r.ref.source_id, {
                "id": r.ref.source_id,
                "title": r.ref.source.get("title", r.ref.source_id),
                "url": r.ref.source.get("url"),
                "claims": [],
            })
            entry: dict[str, Any] = {
                "path": r.ref.path,
                "file": _relative(r.ref.file, self.root),
                "strategy": r.strategy,
                "on_change": r.ref.policy.on_change,
                "result": r.outcome.result,
                "action": r.action,
                "message": r.outcome.message,
                "old": {"value": r.ref.claim.get("value"), "unit": r.ref.unit,
                        **({"valid_time": r.ref.claim["valid_time"]} if "valid_time" in r.ref.claim else {}),
                        **({"as_stated": r.ref.claim["as_stated"]} if r.ref.claim.get("as_stated") else {})},
            }
            if r.outcome.proposal:
                entry["new"] = dict(r.outcome.proposal)
            if r.outcome.observed is not None:
                entry["observed"] = r.outcome.observed
            if r.outcome.snippet:
                entry["snippet"] = r.outcome.snippet
            if r.fetch:
                entry["evidence"] = r.fetch
            src["claims"].append(entry)
        report = {
            "format": REPORT_FORMAT,
            "date": self.options.today.isoformat(),
            "options": {"only": self.options.only, "due": self.options.due_only, "apply": self.options.apply_proposals,
                        "offline": self.options.offline},
            "planned": len(planned),
            "counts": dict(sorted(counts.items())),
            "needs_attention": any(r.needs_attention for r in results),
            "sources": [sources[k] for k in sorted(sources)],
        }
        if outage is not None:
            report["outage"] = outage
        return self.redactor.scrub(report)


def _read_states(root: Path) -> tuple[dict[str, CheckState], dict[str, Any]]:
    """read_verification, with an unreadable file as bad input that says the fix."""
    try:
        return read_verification(root)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # bad JSON, a missing field, a bad date
        path = Path(root) / VERIFICATION_FILE
        raise CheckerError(f"{path}: cannot read the verification state ({type(exc).__name__}: {str(exc)[:120]}); "
                           f"it is generated: restore it with `git checkout -- {path.name}`") from None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _movement(prior: CheckState | None, observed: float, catalog_value: float, today: dt.date) -> dict[str, Any]:
    """A live value's last movement: the value before it and the day it happened.

    Carried unchanged while the source keeps saying the same thing, so re-checking an
    unchanged live value leaves verification.json byte-identical.
    """
    last = float(prior.observed) if prior is not None and _is_number(prior.observed) else catalog_value
    if not math.isclose(observed, last, rel_tol=1e-12, abs_tol=0.0):
        return {"previous_observed": last, "moved_on": today.isoformat()}
    if prior is not None and "previous_observed" in prior.evidence:
        return {k: prior.evidence[k] for k in ("previous_observed", "moved_on") if k in prior.evidence}
    return {}


# Failures that say the run could not see its sources, rather than that a source is bad.
def _outage_like(got: Fetched) -> bool:
    return got.failure in ("unreachable", "blocked") and got.reason not in ("policy", "http", "internal") \
        or got.failure in ("unreachable", "blocked") and got.reason == "http" and (got.status or 0) >= 500


def detect_outage(requests: Sequence[Request], fetched: Mapping[str, Fetched], share: float, min_documents: int) -> str | None:
    """Words saying why this run is an outage, or None.

    An outage: every host failed for the same network reason (two hosts or more), or more
    than `share` of at least `min_documents` fetched documents failed for network reasons
    (no answer, refused, timed out, DNS, TLS, a 5xx from everything). Documents skipped by
    the run's deadline and requests our own rules refused are not counted.
    """
    attempted: list[tuple[str, Fetched]] = []
    for req in requests:
        got = fetched.get(req.key)
        if got is None or got.reason in ("run-deadline", "policy"):
            continue
        try:
            attempted.append((host_key(req.url), got))
        except Exception:
            continue
    if not attempted:
        return None
    failing = [(h, g) for h, g in attempted if _outage_like(g)]
    hosts = {h for h, _ in attempted}
    reasons = sorted({g.reason or "unknown" for _, g in failing})
    if len(failing) == len(attempted) and len(hosts) >= 2 and len(reasons) == 1 and failing[0][1].network_failure:
        return (f"OUTAGE: every host ({len(hosts)}) failed the same way ({reasons[0]}); this says the network failed, "
                "not the sources")
    if len(attempted) >= min_documents and len(failing) > share * len(attempted):
        return (f"OUTAGE: {len(failing)} of {len(attempted)} documents could not be fetched ({', '.join(reasons)}), "
                f"more than {share:.0%}; this says the network failed, not the sources")
    return None


def fingerprint(ref: ClaimRef, changes: Mapping[str, Any] | None = None) -> str:
    """A short hash of what was checked (value, unit, quote, time), after `changes` are written."""
    import hashlib

    fields = {k: ref.claim.get(k) for k in ("value", "unit", "as_stated", "valid_time")}
    fields.update(changes or {})
    if isinstance(fields.get("value"), (int, float)):
        fields["value"] = float(fields["value"])
    text = json.dumps(fields, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


# ---------------------------------------------------------------- Markdown


def _cell(value: Any, limit: int = 160) -> str:
    text = "" if value is None else str(value)
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _value(d: Mapping[str, Any] | None) -> str:
    if not d:
        return ""
    parts = []
    if "value" in d:
        parts.append(f"{d['value']:g}" if isinstance(d["value"], (int, float)) else str(d["value"]))
    if d.get("unit"):
        parts[-1:] = [f"{parts[-1]} {d['unit']}"] if parts else [d["unit"]]
    if "valid_time" in d:
        parts.append(f"@ {d['valid_time']}")
    if "as_stated" in d and "value" not in d:
        parts.append(f"“{d['as_stated']}”")
    return " ".join(parts)


_SECTIONS = (
    ("Applied live values", lambda c: c["action"] == "applied"),
    ("Proposed edits", lambda c: c["action"] in ("proposed", "written")),
    ("Needs review", lambda c: c["action"] in ("alert", "failed", "accepted") or (c["result"] in ATTENTION_RESULTS and c["action"] == "none")),
)


def markdown_summary(report: Mapping[str, Any]) -> str:
    """The report as Markdown, ready for a CI step summary or a pull-request body."""
    counts = report["counts"]
    lines = [f"# Freshness check, {report['date']}", ""]
    order = ("match", "changed", "missing", "unreachable", "blocked", "malformed", "skipped",
             "applied", "proposed", "written", "accepted", "alert", "failed")
    lines.append(" · ".join(f"**{counts[k]}** {k}" for k in order if k in counts) or "nothing was checked")
    lines.append("")
    if report["options"].get("offline"):
        lines += ["_Offline run: nothing was fetched and no file was written._", ""]
    if report.get("outage"):
        lines += [f"**{_cell(report['outage'], 400)}.** Nothing in the catalog was changed: verification.json and every "
                  "badge are as they were. Run again when the network is back.", ""]
    for title, wanted in _SECTIONS:
        blocks = []
        for source in report["sources"]:
            claims = [c for c in source["claims"] if wanted(c)]
            if not claims:
                continue
            link = f"[{_cell(source['title'], 120)}]({source['url']})" if source.get("url") else _cell(source["title"])
            blocks.append(f"### `{source['id']}`: {link}")
            blocks.append("")
            blocks.append("| value | result | old | new | evidence |")
            blocks.append("|---|---|---|---|---|")
            for c in claims:
                ev = c.get("evidence", {})
                bits = []
                if ev.get("status") is not None:
                    bits.append(f"HTTP {ev['status']}")
                if ev.get("sha256"):
                    bits.append(f"sha256 `{ev['sha256'][:12]}`")
                bits.append(_cell(c["message"], 200))
                if c.get("snippet"):
                    bits.append(f"“{_cell(c['snippet'], 200)}”")
                new = c.get("new")
                lines_new = _value({**new, "unit": c["old"].get("unit")} if new and "value" in new else new)
                blocks.append(f"| `{c['path']}` (`{c['file']}`) | {c['result']}{' / ' + c['action'] if c['action'] != 'none' else ''} "
                              f"| {_cell(_value(c['old']))} | {_cell(lines_new)} | {'; '.join(bits)} |")
            blocks.append("")
        if blocks:
            lines += [f"## {title}", "", *blocks]
    skipped = [c for s in report["sources"] for c in s["claims"] if c["result"] == "skipped"]
    if skipped:
        reasons: dict[str, int] = {}
        for c in skipped:
            reasons[c["message"]] = reasons.get(c["message"], 0) + 1
        lines += ["## Skipped", ""] + [f"- {n} × {_cell(m, 200)}" for m, n in sorted(reasons.items())] + [""]
    if not report["needs_attention"]:
        lines += ["Nothing needs review.", ""]
    return "\n".join(lines)
