"""Checks that need the whole catalog: ids, aliases, sources, references, derivations."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

from provenance.problems import Problem


def normalize_name(name: str) -> str:
    """Lookup key: case-insensitive, ignoring spaces, dashes, dots and underscores."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    candidates = list(candidates)
    by_key = {normalize_name(c): c for c in candidates}
    hits = difflib.get_close_matches(normalize_name(name), list(by_key), n=n, cutoff=0.5)
    return [by_key[h] for h in hits]


def _suggest(name: str, candidates: Iterable[str]) -> str:
    close = closest(name, candidates, n=1)
    return f"did you mean {close[0]!r}?" if close else "check the spelling"


def cross_check(
    records: list[dict[str, Any]],
    sources: dict[str, Any],
    sources_file: str,
    invalid: set[tuple[str, str]] = frozenset(),  # type: ignore[assignment]
) -> list[Problem]:
    """Problems across files. References to records that exist but are invalid
    (`invalid`, as (kind, id)) are not reported again."""
    problems: list[Problem] = []

    def at(rec: dict[str, Any], field: str, message: str) -> Problem:
        line, col = rec["positions"].get(field, (1, 1))
        return Problem(rec["file"], line, col, field, message)

    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for rec in records:
        same_kind = by_kind.setdefault(rec["kind"], {})
        if rec["id"] in same_kind:
            first = same_kind[rec["id"]]["file"]
            problems.append(at(rec, "id", f"duplicate id {rec['id']!r}, also used by {first}; give one of them another id"))
        else:
            same_kind[rec["id"]] = rec

    for kind, recs in by_kind.items():
        owner: dict[str, str] = {}
        for rec in recs.values():
            names = [(f"aliases.{i}", a) for i, a in enumerate(rec["aliases"])]
            for field, name in names:
                key = normalize_name(name)
                other = owner.get(key)
                if other is not None and other != rec["id"]:
                    problems.append(at(rec, field, f"alias {name!r} is also a name of {kind}/{other}; remove it from one of them"))
                owner.setdefault(key, rec["id"])
            owner.setdefault(normalize_name(rec["id"]), rec["id"])

    claim_paths = {f"{r['kind']}/{r['id']}#{path}" for r in records for path in r["claims"]}
    for rec in records:
        for path, claim in rec["claims"].items():
            if claim["source"] not in sources and ("sources", claim["source"]) not in invalid:
                problems.append(at(rec, path, f"source {claim['source']!r} is not in {sources_file}; add it there or {_suggest(claim['source'], sources)}"))
            for ref in claim.get("derived_from", []):
                if ref not in claim_paths and tuple(ref.split("#")[0].split("/", 1)) not in invalid:
                    problems.append(at(rec, path, f"derived_from {ref!r} names no cited value; {_suggest(ref, claim_paths)}"))
        for field, (target, ref_id) in rec["refs"].items():
            if ref_id not in by_kind.get(target, {}) and (target, ref_id) not in invalid:
                problems.append(at(rec, field, f"no {target} record with id {ref_id!r}; {_suggest(ref_id, by_kind.get(target, {}))}"))
    problems += _derivation_cycles(records, at)
    return problems


def _derivation_cycles(records: list[dict[str, Any]], at: Any) -> list[Problem]:
    """A value derived from itself, directly or through others, cites nothing."""
    where = {f"{r['kind']}/{r['id']}#{path}": (r, path) for r in records for path in r["claims"]}
    edges = {claim_path: [d for d in r["claims"][path].get("derived_from", []) if d in where]
             for claim_path, (r, path) in where.items()}
    problems, state = [], {}
    for start in sorted(edges):
        if start in state:
            continue
        stack = [(start, iter(edges[start]))]
        trail = [start]
        state[start] = "open"
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = "done"
                stack.pop()
                trail.pop()
            elif state.get(child) == "open":
                loop = trail[trail.index(child):] + [child]
                rec, path = where[node]
                problems.append(at(rec, path, f"derived_from makes a cycle ({' -> '.join(loop)}); "
                                              "a derived value must rest on stated values, so cite what the derivation starts from"))
            elif child not in state:
                state[child] = "open"
                stack.append((child, iter(edges[child])))
                trail.append(child)
    return problems
