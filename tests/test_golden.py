"""Golden values: the quick-start calls on the frozen test catalog give exactly what
tests/golden.json recorded. Any change in a number, better or worse, fails here until it
is re-recorded on purpose (`python scripts/record_golden.py`, then commit the diff)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.golden_calls import FROZEN_CATALOG, golden_outputs

GOLDEN = Path(__file__).resolve().parent / "golden.json"


def test_golden_outputs_are_as_recorded():
    recorded = json.loads(GOLDEN.read_text(encoding="utf-8"))
    now = golden_outputs(FROZEN_CATALOG)
    assert set(now) == set(recorded), "the set of golden calls changed; re-record with scripts/record_golden.py"
    moved = {k: (recorded[k], v) for k, v in now.items() if v != pytest.approx(recorded[k], rel=1e-9, abs=0)}
    assert not moved, f"re-record on purpose with scripts/record_golden.py: {moved}"


def test_the_frozen_catalog_is_a_pinned_snapshot():
    from mlsysim.catalog import load_catalog

    frozen = load_catalog(FROZEN_CATALOG)
    assert frozen.identity["fingerprint"] == json.loads(FROZEN_CATALOG.read_text(encoding="utf-8"))["fingerprint"]
