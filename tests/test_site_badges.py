"""mlsysim/site/badges.py: each claim's badge from its policy and verification state, how badges look,
and the shields.io endpoint documents."""

from __future__ import annotations

import datetime as dt

import pytest

from mlsysim.site.badges import BADGE_MEANINGS, BADGE_STYLES, BadgeBook, counts, shields_endpoint, worst
from provenance.verification import BADGES
from site_helpers import TODAY, write_verification


def _relative_luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@pytest.mark.parametrize("word", sorted(BADGE_MEANINGS))
def test_every_badge_word_has_a_style_readable_at_wcag_aa(word):
    """WCAG 2.1 contrast ratio (L1 + 0.05) / (L2 + 0.05) of badge text on its background >= 4.5."""
    style = BADGE_STYLES[word]
    light, dark = sorted((_relative_luminance(style.fg), _relative_luminance(style.bg)), reverse=True)
    assert (light + 0.05) / (dark + 0.05) >= 4.5


def test_badges_follow_policy_cadence_and_source_type(catalog_copy):
    from mlsysim.catalog import load_catalog

    root = catalog_copy()
    grid = root / "grids" / "fixture_grid.yaml"
    # A per-claim check override: this price is refreshed daily from a live API.
    grid.write_text(grid.read_text().replace(
        "electricity_price: {value: 0.1, unit: USD/kWh, source: fixture-grid-data, valid_time: 2024}",
        "electricity_price: {value: 0.1, unit: USD/kWh, source: fixture-grid-data, valid_time: 2024, check: {volatility: live, cadence_days: 1}}",
    ))
    day = dt.timedelta(days=1)
    write_verification(root, {
        "grids/fixture_grid#electricity_price": {"result": "match", "last_checked": str(TODAY), "last_verified": str(TODAY)},
        "grids/fixture_grid#carbon_intensity": {"result": "match", "last_checked": str(TODAY - 80 * day), "last_verified": str(TODAY - 80 * day)},
        "hardware/fx100#tdp": {"result": "match", "last_checked": str(TODAY - 91 * day), "last_verified": str(TODAY - 91 * day)},
        "hardware/fx100#memory.bandwidth": {"result": "blocked", "last_checked": str(TODAY)},
        "hardware/fx100#memory.capacity": {"result": "missing", "last_checked": str(TODAY)},
        "hardware/fx100#compute.fp16": {"result": "skipped", "last_checked": str(TODAY)},
    })
    catalog = load_catalog(root)
    book = BadgeBook(catalog, TODAY)

    def status(ref: str, field: str):
        record = catalog.find(ref)
        return book.status(f"{record.ref}#{field}", record.claims[field])

    assert status("grids/fixture_grid", "electricity_price").badge == "live"
    assert status("grids/fixture_grid", "carbon_intensity").badge == "verified"  # dataset: 90-day cadence
    assert status("hardware/fx100", "tdp").badge == "stale"  # datasheet: 90 days, verified 91 days ago
    assert status("hardware/fx100", "memory.bandwidth").badge == "broken"
    assert status("hardware/fx100", "memory.capacity").badge == "changed"
    assert status("hardware/fx100", "compute.fp16").badge == "cited"  # skipped, never verified: nothing expired
    assert status("hardware/fx100", "compute.fp8").badge == "cited"  # never checked at all
    assert status("hardware/fx100", "unit_cost").badge == "estimated"
    title = status("hardware/fx100", "tdp").title()
    assert title == ("stale: a past machine verification has expired (not re-verified within its cadence); "
                     "retrieved 2026-11-21; last checked 2026-08-22 (match); "
                     "last verified 2026-08-22; policy: text_quote, static, every 90 days")
    assert status("hardware/fx100", "compute.fp8").title() == (
        "cited: cited and read by a person at retrieval; never checked by machine yet; retrieved 2026-11-21; "
        "never checked; policy: text_quote, static, every 90 days")
    assert BadgeBook(catalog, TODAY + 2 * day).status(
        "grids/fixture_grid#electricity_price", catalog.find("grids/fixture_grid").claims["electricity_price"]
    ).badge == "stale"


def test_worst_and_counts():
    assert worst(["verified", "estimated", "stale", "live"]) == "stale"
    assert worst(["verified", "estimated", "cited"]) == "cited"
    assert worst(["cited", "stale"]) == "stale"
    assert worst(["verified", "broken", "changed"]) == "broken"
    assert worst(["estimated"]) == "estimated"
    assert worst([]) is None
    assert counts(["stale", "stale", "verified", "cited"]) == {
        "cited": 1, "verified": 1, "live": 0, "stale": 2, "changed": 0, "broken": 0, "estimated": 0, "unsourced": 0,
    }


@pytest.mark.parametrize(("badges", "message", "colour"), [
    (["verified", "live", "verified"], "3/3 verified", "brightgreen"),
    (["verified", "stale", "estimated"], "1/2 verified, 1 estimated", "yellow"),
    (["verified", "changed"], "1/2 verified", "orange"),
    (["verified", "broken", "changed"], "1/3 verified", "red"),
    (["estimated", "estimated"], "2 estimated", "lightgrey"),
    (["cited", "cited", "estimated"], "2 cited, 1 estimated", "informational"),
    (["cited", "verified"], "1/2 verified", "informational"),
    ([], "no values", "lightgrey"),
])
def test_shields_endpoint(badges, message, colour):
    assert shields_endpoint("H100", badges) == {"schemaVersion": 1, "label": "H100", "message": message, "color": colour}
