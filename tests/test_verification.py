"""provenance/verification.py: badges derived from the last check, never stored."""

from __future__ import annotations

import datetime as dt

from provenance.verification import CheckState, badge

TODAY = dt.date(2026, 11, 21)


def state(result: str, verified_days_ago: int | None = 0) -> CheckState:
    verified = TODAY - dt.timedelta(days=verified_days_ago) if verified_days_ago is not None else None
    return CheckState(result, TODAY, verified)  # type: ignore[arg-type]


def test_badges_follow_the_last_check() -> None:
    assert badge("stated", "static", 90, state("match"), TODAY) == "verified"
    assert badge("stated", "live", 7, state("match", 3), TODAY) == "live"
    assert badge("stated", "live", 7, state("match", 8), TODAY) == "stale"
    assert badge("stated", "static", 90, state("changed"), TODAY) == "changed"
    assert badge("stated", "static", 90, state("missing"), TODAY) == "changed"
    assert badge("stated", "static", 90, state("unreachable"), TODAY) == "broken"
    assert badge("stated", "static", 90, state("blocked"), TODAY) == "broken"
    assert badge("stated", "static", 90, state("skipped", None), TODAY) == "stale"
    assert badge("stated", "static", 90, None, TODAY) == "stale"
    assert badge("estimated", "static", 90, state("match"), TODAY) == "estimated"


def test_a_verification_dated_in_the_future_is_not_trusted() -> None:
    assert badge("stated", "static", 90, state("match", -3), TODAY) == "stale"


def test_a_derived_value_takes_its_weakest_input() -> None:
    assert badge("derived", "static", 90, state("skipped", None), TODAY, inputs=["live", "verified"]) == "verified"
    assert badge("derived", "static", 90, None, TODAY, inputs=["live", "live"]) == "live"
    assert badge("derived", "static", 90, None, TODAY, inputs=["verified", "estimated"]) == "estimated"
    assert badge("derived", "static", 90, None, TODAY, inputs=["verified", "broken"]) == "broken"
    # the checker's own flag (an input changed) wins over the inputs' badges
    assert badge("derived", "static", 90, state("changed"), TODAY, inputs=["live"]) == "changed"


def test_a_malformed_document_is_broken_and_every_result_is_enumerated() -> None:
    from typing import get_args

    from provenance.verification import ATTENTION, RESULTS, Result

    assert badge("stated", "static", 90, state("malformed"), TODAY) == "broken"
    assert set(RESULTS) == set(get_args(Result)) and "malformed" in ATTENTION and "skipped" not in ATTENTION
