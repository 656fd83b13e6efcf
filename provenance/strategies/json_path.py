"""`json_path`: one value from an API response, converted and guarded.

The response is parsed as JSON, passed through the API's connector (which
drops ineligible rows and knows the unit and the time of the values), then the
claim's `json_path` must select exactly one number: none, or several, is a
failure, never "no change". The `assert` guards compare fields of the selected
row (or absolute `$.` paths) with expected values; the connector adds its own
semantic guards (zone and basis echoed back, pay-as-you-go rows only). The
number is converted to the claim's unit with pint (through `convert`, supplied
by the caller) and must lie inside the `plausible` range before it may be
applied. Within `tolerance` (relative) of the catalog value it is a match.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from types import ModuleType
from typing import Any

from provenance import jsonpath
from provenance.connectors import ShapeError
from provenance.strategies import ClaimRef, Outcome

Convert = Callable[[float, str, str], float]


MAX_DEPTH = 64  # API answers are a few levels deep; anything deeper is hostile or broken


def parse(body: bytes) -> Any:
    """JSON from a response body, or ValueError saying where it is malformed (or too deeply nested)."""
    try:
        document = json.loads(body.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"the response is not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise ValueError(f"the JSON is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise ValueError(f"malformed JSON: {str(exc)[:120]}") from None
    if depth_exceeds(document, MAX_DEPTH):
        raise ValueError(f"the JSON is nested more than {MAX_DEPTH} levels deep")
    return document


def depth_exceeds(document: Any, limit: int) -> bool:
    """Is any value nested deeper than limit? (Iterative: no recursion however deep.)"""
    stack = [(document, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            if depth >= limit:
                return True
            stack.extend((child, depth + 1) for child in node if isinstance(child, (dict, list)))
    return False


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value.replace(",", ""))
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=0.0)
    return a == b


def _lookup(key: str, document: Any, row: Any) -> Any:
    """An assert key: an absolute `$.` path (exactly one match), else dotted keys inside the selected row."""
    if key.startswith("$"):
        found = jsonpath.find(key, document)
        return found[0].value if len(found) == 1 else jsonpath.MISSING
    return jsonpath.get(row, key.split("."))


def check(ref: ClaimRef, document: Any, connector: ModuleType | None, convert: Convert, url: str) -> Outcome:
    """Extract, guard, convert and compare one live value."""
    policy = ref.policy
    if not policy.json_path:
        return Outcome("skipped", "strategy json_path needs a 'json_path' in the check policy, e.g. '$.data[0].value'")
    if connector is not None:
        try:
            document = connector.normalise(document)
        except ShapeError as exc:
            return Outcome("missing", f"{connector.NAME}: {exc}")
    try:
        matches = jsonpath.find(policy.json_path, document)
    except jsonpath.JsonPathError as exc:
        return Outcome("skipped", f"bad json_path: {exc}")
    if not matches:
        return Outcome("missing", f"no value matches {policy.json_path}; an empty answer is a failure, not 'no change'")
    if len(matches) > 1:
        where = ", ".join(m.path for m in matches[:5])
        return Outcome("missing", f"{len(matches)} values match {policy.json_path} ({where}); the answer is ambiguous, expected exactly one")
    match = matches[0]
    raw = _number(match.value)
    if raw is None:
        return Outcome("missing", f"{match.path} is {match.value!r}, not a number")

    problems = []
    for key, expected in (policy.assert_ or {}).items():
        actual = _lookup(key, document, match.row)
        if actual is jsonpath.MISSING:
            problems.append(f"{key} is absent (expected {expected!r})")
        elif not _same(actual, expected):
            problems.append(f"{key} is {actual!r}, expected {expected!r}")
    if connector is not None:
        problems += connector.guards(url, document, match.row, dict(ref.claim.get("qualifiers") or {}))
    snippet = json.dumps(match.row, sort_keys=True, ensure_ascii=False)[:400] if isinstance(match.row, (dict, list)) else None
    if problems:
        return Outcome("changed", "guard failed: " + "; ".join(problems), observed=raw, snippet=snippet)

    source_unit = (connector.unit(document, match.row) if connector is not None else None) or ref.unit
    if source_unit == ref.unit:
        value = raw
    else:
        try:
            value = float(f"{convert(raw, source_unit, ref.unit):.12g}")
        except (ValueError, ArithmeticError) as exc:
            return Outcome("missing", f"cannot convert {raw:g} {source_unit} to {ref.unit}: {exc}", observed=raw)
    valid_time = connector.valid_time(document, match.row) if connector is not None else None

    plausible = policy.plausible
    if plausible is not None and ((plausible.min is not None and value < plausible.min) or (plausible.max is not None and value > plausible.max)):
        bounds = f"[{'' if plausible.min is None else f'{plausible.min:g}'}, {'' if plausible.max is None else f'{plausible.max:g}'}]"
        return Outcome("changed", f"implausible: {value:g} {ref.unit} is outside the plausible range {bounds}; not applied",
                       observed=value, snippet=snippet)

    tolerance = policy.tolerance or 0.0
    old = ref.value
    if math.isclose(value, old, rel_tol=max(tolerance, 1e-12), abs_tol=0.0):
        return Outcome("match", f"{match.path} = {value:g} {ref.unit}" + (f" ({valid_time})" if valid_time else ""),
                       observed=value, snippet=snippet)
    proposal: dict[str, Any] = {"value": value}
    if valid_time is not None and "valid_time" in ref.claim and str(ref.claim["valid_time"]) != valid_time:
        proposal["valid_time"] = valid_time
    return Outcome("changed", f"{match.path} is now {value:g} {ref.unit} (catalog: {old:g})" + (f" for {valid_time}" if valid_time else ""),
                   observed=value, snippet=snippet, proposal=proposal, guarded=plausible is not None)
