"""provenance/checker.py: planning, safe writes, crash safety and convergence."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from freshness_support import DATASHEET, build_catalog, connector_env, serve_all, snapshot
from mlsysim.catalog import check, load_catalog
from mlsysim.catalog.freshness import claim_refs, convert, validator
from provenance.checker import Checker, CheckerError, Options, is_due, raw_file_url, select, strategy_for
from provenance.http import Fetcher, HttpPolicy
from provenance.verification import CheckState, read_verification

TODAY = dt.date(2026, 11, 21)
CHANGED_SHEET = DATASHEET.replace("4TB/s", "4.8TB/s")


def overrides(server: HTTPServer) -> dict[str, str]:
    return dict(item.rsplit("=", 1) for item in connector_env(server).split(","))


def run_checker(root: Path, server: HTTPServer, *, validate=..., before_replace=None, **opts) -> dict:
    catalog = load_catalog(root)
    with Fetcher(HttpPolicy(allow_addresses=frozenset({"127.0.0.1"}), backoff_base=0.01)) as fetcher:
        checker = Checker(root, claim_refs(catalog), fetcher=fetcher, convert=convert,
                          validate=validator(root) if validate is ... else validate,
                          options=Options(today=TODAY, connector_overrides=overrides(server), **opts),
                          environ={}, before_replace=before_replace)
        return checker.run()


@pytest.fixture
def root(tmp_path: Path, httpserver: HTTPServer) -> Path:
    return build_catalog(tmp_path / "catalog", httpserver)


def test_select_by_source_record_or_claim(root: Path) -> None:
    refs = claim_refs(load_catalog(root))
    assert {r.source_id for r in select(refs, "gb-live")} == {"gb-live"}
    assert {r.path for r in select(refs, "grids/live_grid")} == {"grids/live_grid#carbon_intensity"}
    assert {r.path for r in select(refs, "fx100")} == {r.path for r in refs if r.path.startswith("hardware/fx100#")}
    assert [r.path for r in select(refs, "hardware/fx100#tdp")] == ["hardware/fx100#tdp"]
    with pytest.raises(CheckerError, match="did you mean"):
        select(refs, "gb-lve")


def test_strategy_fallbacks(root: Path) -> None:
    refs = {r.path: r for r in claim_refs(load_catalog(root))}
    assert strategy_for(refs["hardware/fx100#memory.capacity"]) == "text_quote"  # datasheet with a quote
    assert strategy_for(refs["hardware/fx100#tdp"]) == "document"  # datasheet, no quote: hash only
    assert strategy_for(refs["grids/live_grid#carbon_intensity"]) == "json_path"
    assert strategy_for(refs["hardware/fx100#cloud_price"]) == "none"  # derived: checked through its inputs


def test_blob_pages_are_read_as_raw_files() -> None:
    assert raw_file_url("https://github.com/meta-llama/llama-models/blob/084b88e/models/sku_list.py") == \
        "https://raw.githubusercontent.com/meta-llama/llama-models/084b88e/models/sku_list.py"
    assert raw_file_url("https://huggingface.co/openai-community/gpt2-xl/blob/main/config.json") == \
        "https://huggingface.co/openai-community/gpt2-xl/raw/main/config.json"
    assert raw_file_url("https://example.org/page.html") == "https://example.org/page.html"


def test_every_auto_applied_live_value_in_the_catalog_has_a_plausibility_guard() -> None:
    live = [r for r in claim_refs(load_catalog()) if strategy_for(r) == "json_path" and r.policy.on_change == "apply"]
    assert {r.path for r in live} >= {"grids/great_britain_live#carbon_intensity_direct", "nodes/azure_nd96isr_h100_v5#cloud_price"}
    assert all(r.policy.plausible is not None and r.policy.json_path for r in live)


def test_due_follows_next_due() -> None:
    state = CheckState("match", TODAY, TODAY, next_due=TODAY + dt.timedelta(days=7))
    assert is_due(None, TODAY) and not is_due(state, TODAY) and is_due(state, TODAY + dt.timedelta(days=7))


def test_verification_is_sorted_and_stable(root: Path, httpserver: HTTPServer) -> None:
    serve_all(httpserver)
    run_checker(root, httpserver)
    text = (root / "verification.json").read_text()
    states, _ = read_verification(root)
    assert list(states) == sorted(states)
    assert states["nodes/fixture_node#cloud_price"].next_due == TODAY + dt.timedelta(days=7)
    run_checker(root, httpserver)
    assert (root / "verification.json").read_text() == text


def test_temp_files_of_a_killed_write_are_removed(root: Path, httpserver: HTTPServer) -> None:
    serve_all(httpserver)
    stale = root / "grids" / ".live_grid.yaml.x7k2p9.tmp"
    stale.write_text("half-writ")
    unrelated = root / "grids" / ".notes.tmp"
    unrelated.write_text("mine")
    run_checker(root, httpserver)
    assert not stale.exists() and unrelated.exists()


def test_an_edit_that_breaks_the_catalog_is_never_written(root: Path, httpserver: HTTPServer) -> None:
    serve_all(httpserver)
    before = snapshot(root)
    report = run_checker(root, httpserver, validate=lambda staged: ["grids/live_grid.yaml:5:10: carbon_intensity.value: injected failure"])
    claims = {c["path"]: c for s in report["sources"] for c in s["claims"]}
    assert claims["grids/live_grid#carbon_intensity"]["action"] == "failed"
    assert "NOT written" in claims["grids/live_grid#carbon_intensity"]["message"] and report["needs_attention"]
    after = snapshot(root)
    assert {k: v for k, v in after.items() if k != "verification.json"} == before
    assert read_verification(root)[0]["grids/live_grid#carbon_intensity"].result == "changed"


def test_derived_values_are_flagged_until_a_person_rewrites_them(root: Path, httpserver: HTTPServer) -> None:
    serve_all(httpserver)
    run_checker(root, httpserver)
    state = read_verification(root)[0]["hardware/fx100#cloud_price"]
    assert state.result == "changed" and "re-derive" in state.evidence["message"]
    run_checker(root, httpserver)  # nothing new: the flag stays
    assert read_verification(root)[0]["hardware/fx100#cloud_price"].result == "changed"
    hw = root / "hardware" / "cloud" / "fx100.yaml"
    hw.write_text(hw.read_text().replace("{value: 11.25,", "{value: 12.29,"))
    run_checker(root, httpserver)
    assert read_verification(root)[0]["hardware/fx100#cloud_price"].result == "skipped"


KILLER = """
import datetime as dt, os, signal, sys
from pathlib import Path
from mlsysim.catalog import load_catalog
from mlsysim.catalog.freshness import claim_refs, convert, validator
from provenance.checker import Checker, Options
from provenance.http import Fetcher, HttpPolicy

root, kill_at = Path(sys.argv[1]), int(sys.argv[2])
overrides = dict(item.rsplit("=", 1) for item in sys.argv[3].split(","))
writes = 0

def before_replace(path):
    global writes
    writes += 1
    if writes == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)  # the run dies between two writes

with Fetcher(HttpPolicy(allow_addresses=frozenset({"127.0.0.1"}))) as fetcher:
    Checker(root, claim_refs(load_catalog(root)), fetcher=fetcher, convert=convert, validate=validator(root),
            options=Options(today=dt.date(2026, 11, 21), apply_proposals=True, connector_overrides=overrides),
            environ={}, before_replace=before_replace).run()
"""


def test_a_run_killed_between_writes_leaves_every_file_intact_and_the_next_run_converges(tmp_path: Path, httpserver: HTTPServer) -> None:
    serve_all(httpserver, datasheet=CHANGED_SHEET)  # three YAML files change, then verification.json
    reference = build_catalog(tmp_path / "reference", httpserver)
    original = snapshot(reference)
    run_checker(reference, httpserver, apply_proposals=True)
    final = snapshot(reference)
    changed = sorted(k for k in final if original.get(k) != final[k])
    assert changed == ["grids/live_grid.yaml", "hardware/cloud/fx100.yaml", "systems/nodes/fixture_node.yaml", "verification.json"]
    order = ["verification.json", "grids/live_grid.yaml", "hardware/cloud/fx100.yaml", "systems/nodes/fixture_node.yaml"]

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    for kill_at in range(1, len(changed) + 1):
        root = build_catalog(tmp_path / f"killed{kill_at}", httpserver)
        proc = subprocess.run([sys.executable, "-c", KILLER, str(root), str(kill_at), connector_env(httpserver)],
                              env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == -9, proc.stderr
        now = snapshot(root)
        # every file is wholly old or wholly new, and the catalog still loads
        for name, data in now.items():
            if name.endswith(".tmp"):
                continue
            assert data in (original.get(name), final.get(name)), f"{name} is neither the old nor the new version"
        assert [now.get(k) == final[k] for k in order] == [i < kill_at - 1 for i in range(len(order))]
        assert check(root)[1] == []
        # the next run finishes the job: same files as an uninterrupted run
        run_checker(root, httpserver, apply_proposals=True)
        assert {k: v for k, v in snapshot(root).items() if not k.endswith(".tmp")} == final
