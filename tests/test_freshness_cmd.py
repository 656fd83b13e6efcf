"""`mlsysim freshness check` end to end: a catalog whose sources are served on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from freshness_support import AZURE_PATH, DATASHEET, TOKEN, build_catalog, connector_env, payload, serve_all, snapshot
from provenance.verification import read_verification


@pytest.fixture
def site(httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MLSYSIM_FRESHNESS_ALLOW_ADDRESSES", "127.0.0.1")
    monkeypatch.setenv("MLSYSIM_FRESHNESS_BACKOFF", "0.01")
    monkeypatch.setenv("MLSYSIM_FRESHNESS_TIMEOUT", "2")
    monkeypatch.setenv("MLSYSIM_FRESHNESS_CONNECTORS", connector_env(httpserver))
    monkeypatch.delenv("ELECTRICITYMAPS_TOKEN", raising=False)
    root = build_catalog(tmp_path / "catalog", httpserver)
    return root


def run(cli, root: Path, *args: str):
    report = root.parent / "report.json"
    summary = root.parent / "summary.md"
    result = cli("freshness", "check", "--catalog", str(root), "--report", str(report), "--summary", str(summary), *args)
    return result, json.loads(report.read_text()), summary.read_text()


def claims_of(report: dict) -> dict[str, dict]:
    return {c["path"]: c for s in report["sources"] for c in s["claims"]}


def test_first_run_applies_live_values_and_records_verification(cli, site: Path, httpserver: HTTPServer) -> None:
    serve_all(httpserver)
    result, report, summary = run(cli, site)
    c = claims_of(report)
    # exit 4: the applied live values are routine, but a value derived from one needs a person
    assert result.code == 4, result.out + result.err
    assert [p for p, x in c.items() if x["action"] not in ("none", "applied")] == ["hardware/fx100#cloud_price"]
    assert c["grids/live_grid#carbon_intensity"]["action"] == "applied"
    assert c["grids/live_grid#carbon_intensity"]["new"] == {"value": 164.0, "valid_time": "2026-03-20T03:30Z"}
    assert c["nodes/fixture_node#cloud_price"]["new"]["value"] == 98.32
    assert c["hardware/fx100#memory.capacity"]["result"] == "match"
    assert c["grids/em_grid#carbon_intensity"]["result"] == "skipped"
    grid = (site / "grids" / "live_grid.yaml").read_text()
    assert "value: 164\n" in grid and 'valid_time: "2026-03-20T03:30Z"' in grid
    states, _ = read_verification(site)
    assert states["grids/live_grid#carbon_intensity"].result == "match"
    assert states["grids/live_grid#carbon_intensity"].observed == 164.0
    assert "## Applied live values" in summary and "164" in summary
    # the derived per-GPU price is flagged because its input changed; a derived value is never guessed
    assert c["hardware/fx100#cloud_price"]["result"] == "changed" and "re-derive" in c["hardware/fx100#cloud_price"]["message"]


def test_each_url_is_fetched_once_however_many_claims_cite_it(cli, site: Path, httpserver: HTTPServer) -> None:
    serve_all(httpserver)
    run(cli, site)
    paths = [entry[0].path for entry in httpserver.log]
    assert paths.count("/datasheet.html") == 1 and paths.count("/model-card.html") == 1
    assert len(paths) == len(set(paths))


def test_a_second_run_right_after_the_first_changes_nothing(cli, site: Path, httpserver: HTTPServer) -> None:
    serve_all(httpserver)
    run(cli, site)
    before = snapshot(site)
    result, report, _ = run(cli, site)
    assert snapshot(site) == before
    assert "applied" not in report["counts"]


def test_unchanged_document_is_confirmed_by_304(cli, site: Path, httpserver: HTTPServer) -> None:
    serve_all(httpserver, etag='"v1"')
    run(cli, site)
    httpserver.clear()
    httpserver.expect_request("/datasheet.html", headers={"If-None-Match": '"v1"'}).respond_with_data("", status=304)
    serve_all(httpserver)
    result, report, _ = run(cli, site, "--only", "fixture-datasheet")
    c = claims_of(report)
    assert c["hardware/fx100#memory.capacity"]["result"] == "match"
    assert c["hardware/fx100#memory.capacity"]["evidence"]["status"] == 304
    assert "304" in c["hardware/fx100#memory.capacity"]["message"]


def test_200_with_the_same_bytes_matches_by_hash(cli, site: Path, httpserver: HTTPServer) -> None:
    serve_all(httpserver)
    run(cli, site)
    result, report, _ = run(cli, site, "--only", "fixture-datasheet")
    c = claims_of(report)["hardware/fx100#memory.bandwidth"]
    assert c["result"] == "match" and c["message"] == "document unchanged since it was last verified"


def test_a_changed_document_where_the_quote_still_holds_is_verified(cli, site: Path, httpserver: HTTPServer) -> None:
    serve_all(httpserver)
    run(cli, site)
    old_sha = read_verification(site)[0]["hardware/fx100#memory.bandwidth"].evidence["verified_sha256"]
    httpserver.clear()
    serve_all(httpserver, datasheet=DATASHEET.replace("<h1>Fixture FX100</h1>", "<h1>Fixture FX100 (rev. B)</h1><p>New footnote.</p>"))
    result, report, _ = run(cli, site, "--only", "fixture-datasheet")
    c = claims_of(report)
    for quoted in ("hardware/fx100#memory.bandwidth", "hardware/fx100#memory.capacity"):
        assert c[quoted]["result"] == "match" and c[quoted]["message"] == "as_stated found in the document"
    # a value with no quote to look for can only be re-read by a person once its document changes
    assert c["hardware/fx100#tdp"]["result"] == "changed" and "re-read it" in c["hardware/fx100#tdp"]["message"]
    assert result.code == 4
    new_sha = read_verification(site)[0]["hardware/fx100#memory.bandwidth"].evidence["verified_sha256"]
    assert new_sha != old_sha  # the revised document is now the verified version of the quoted values
    # a person re-read it: --apply accepts the revised document for the unquoted values too
    result, report, _ = run(cli, site, "--only", "fixture-datasheet", "--apply")
    assert claims_of(report)["hardware/fx100#tdp"]["action"] == "accepted" and result.code == 4
    result, report, _ = run(cli, site, "--only", "fixture-datasheet")
    assert result.code == 0 and claims_of(report)["hardware/fx100#tdp"]["result"] == "match"


def test_a_changed_number_is_proposed_and_written_only_with_apply(cli, site: Path, httpserver: HTTPServer) -> None:
    serve_all(httpserver)
    run(cli, site)
    httpserver.clear()
    serve_all(httpserver, datasheet=DATASHEET.replace("4TB/s", "4.8TB/s"))
    hw = site / "hardware" / "cloud" / "fx100.yaml"
    before = hw.read_bytes()
    result, report, summary = run(cli, site, "--only", "fixture-datasheet")
    assert result.code == 4 and "needs review" in result.err
    c = claims_of(report)["hardware/fx100#memory.bandwidth"]
    assert c["result"] == "changed" and c["action"] == "proposed"
    assert c["new"] == {"value": 4.8, "as_stated": "Memory bandwidth 4.8TB/s"} and "4.8TB/s" in c["snippet"]
    assert hw.read_bytes() == before
    assert "## Proposed edits" in summary and "`fixture-datasheet`" in summary
    result, report, _ = run(cli, site, "--only", "fixture-datasheet", "--apply")
    assert result.code == 4  # written, still for a person to review in the pull request
    after = hw.read_text()
    assert after == before.decode().replace('{value: 4, unit: TB/s, source: fixture-datasheet, as_stated: "Memory bandwidth 4TB/s"}',
                                            '{value: 4.8, unit: TB/s, source: fixture-datasheet, as_stated: "Memory bandwidth 4.8TB/s"}')
    result, report, _ = run(cli, site, "--only", "fixture-datasheet")
    assert claims_of(report)["hardware/fx100#memory.bandwidth"]["result"] == "match"


@pytest.mark.parametrize("status", [404, 410])
def test_a_gone_source_is_broken(cli, site: Path, httpserver: HTTPServer, status: int) -> None:
    httpserver.expect_request("/datasheet.html").respond_with_data("gone", status=status)
    serve_all(httpserver)
    result, report, summary = run(cli, site, "--only", "fixture-datasheet")
    assert result.code == 4
    c = claims_of(report)["hardware/fx100#memory.capacity"]
    assert c["result"] == "unreachable" and f"HTTP {status}" in c["message"]
    assert "## Needs review" in summary
    assert read_verification(site)[0]["hardware/fx100#memory.capacity"].result == "unreachable"


def test_500_then_success_is_verified(cli, site: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/datasheet.html").respond_with_data("busy", status=500)
    httpserver.expect_ordered_request("/datasheet.html").respond_with_data(DATASHEET, content_type="text/html")
    result, report, _ = run(cli, site, "--only", "fixture-datasheet")
    assert result.code == 0 and claims_of(report)["hardware/fx100#memory.capacity"]["result"] == "match"


def test_429_with_retry_after_is_waited_for(cli, site: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/grid.csv").respond_with_data("slow down", status=429, headers={"Retry-After": "1"})
    httpserver.expect_ordered_request("/grid.csv").respond_with_data("region,year\n")
    result, report, _ = run(cli, site, "--only", "fixture-grid-data")
    assert result.code == 0 and claims_of(report)["grids/fixture_grid#carbon_intensity"]["result"] == "match"


def test_a_timeout_is_unreachable(cli, site: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("MLSYSIM_FRESHNESS_TIMEOUT", "0.3")
    httpserver.expect_request("/grid.csv").respond_with_handler(lambda request: time.sleep(0.8) or "late")
    result, report, _ = run(cli, site, "--only", "fixture-grid-data")
    assert result.code == 4
    assert "timed out" in claims_of(report)["grids/fixture_grid#carbon_intensity"]["message"]


def test_a_redirect_to_a_private_address_is_blocked(cli, site: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/grid.csv").respond_with_data("", status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    result, report, _ = run(cli, site, "--only", "fixture-grid-data")
    c = claims_of(report)["grids/fixture_grid#carbon_intensity"]
    assert result.code == 4 and c["result"] == "blocked" and "non-public address" in c["message"]


def test_a_redirect_loop_is_unreachable(cli, site: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/grid.csv").respond_with_data("", status=302, headers={"Location": "/grid2.csv"})
    httpserver.expect_request("/grid2.csv").respond_with_data("", status=302, headers={"Location": "/grid.csv"})
    result, report, _ = run(cli, site, "--only", "fixture-grid-data")
    assert "redirect loop" in claims_of(report)["grids/fixture_grid#carbon_intensity"]["message"]


def test_malformed_json_is_malformed_and_nothing_is_written(cli, site: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/gb/intensity/date").respond_with_data('{"data": [', content_type="application/json")
    before = snapshot(site)
    result, report, _ = run(cli, site, "--only", "gb-live")
    c = claims_of(report)["grids/live_grid#carbon_intensity"]
    assert result.code == 4 and c["result"] == "malformed" and c["message"].startswith("malformed JSON at line 1")
    assert {k: v for k, v in snapshot(site).items() if k != "verification.json"} == before


@pytest.mark.parametrize("rows, words", [(0, "no value matches"), (2, "2 values match")])
def test_a_json_api_with_zero_or_two_matching_rows_fails(cli, site: Path, httpserver: HTTPServer, rows: int, words: str) -> None:
    doc = payload("azure_retail_prices_nd96isr_h100_v5.json")
    linux = doc["Items"][0]
    doc["Items"] = doc["Items"][1:] + [dict(linux, retailPrice=97.0 + i) for i in range(rows)]
    httpserver.expect_request("/azure/prices").respond_with_json(doc)
    node = (site / "systems" / "nodes" / "fixture_node.yaml").read_bytes()
    result, report, _ = run(cli, site, "--only", "price-api")
    c = claims_of(report)["nodes/fixture_node#cloud_price"]
    assert result.code == 4 and c["result"] == "missing" and words in c["message"]
    assert (site / "systems" / "nodes" / "fixture_node.yaml").read_bytes() == node


def test_an_implausible_live_value_is_not_applied(cli, site: Path, httpserver: HTTPServer) -> None:
    doc = payload("gb_carbon_intensity_date.json")
    doc["data"][7]["intensity"]["actual"] = 16400  # a unit slip upstream: 16.4 kg
    httpserver.expect_request("/gb/intensity/date").respond_with_json(doc)
    before = (site / "grids" / "live_grid.yaml").read_bytes()
    result, report, summary = run(cli, site, "--only", "gb-live")
    c = claims_of(report)["grids/live_grid#carbon_intensity"]
    assert result.code == 4 and c["result"] == "changed" and c["action"] == "alert"
    assert "implausible: 16400 gCO2/kWh is outside the plausible range [0, 1000]" in c["message"]
    assert (site / "grids" / "live_grid.yaml").read_bytes() == before
    assert "## Needs review" in summary


def test_without_its_token_electricity_maps_is_skipped_not_failed(cli, site: Path, httpserver: HTTPServer) -> None:
    result, report, summary = run(cli, site, "--only", "em-live")
    assert result.code == 0
    c = claims_of(report)["grids/em_grid#carbon_intensity"]
    assert c["result"] == "skipped" and "ELECTRICITYMAPS_TOKEN is not set" in c["message"]
    assert "ELECTRICITYMAPS_TOKEN is not set" in result.out and "## Skipped" in summary
    assert len(httpserver.log) == 0


def test_the_token_never_appears_in_any_output(cli, site: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The key travels in a header; even a server that echoes it back never gets it into a file or the terminal."""
    monkeypatch.setenv("ELECTRICITYMAPS_TOKEN", TOKEN)
    doc = dict(payload("electricity_maps_latest_de.json"), note=f"debug: your token is {TOKEN}", zone="FR")
    httpserver.expect_request("/em/latest", headers={"auth-token": TOKEN}).respond_with_json(doc)
    httpserver.expect_request("/em/redirect").respond_with_data("", status=302, headers={"Location": f"/em/latest?zone=DE&token={TOKEN}"})
    result, report, summary = run(cli, site, "--only", "em-live")
    c = claims_of(report)["grids/em_grid#carbon_intensity"]
    assert c["result"] == "changed" and "zone is 'FR'" in c["message"]  # the echoed zone guard fired
    outputs = [result.out, result.err, json.dumps(report), summary, (site / "verification.json").read_text()]
    outputs += [p.read_text(errors="replace") for p in site.rglob("*.yaml")]
    assert all(TOKEN not in text for text in outputs)
    assert "***" in c["snippet"]


def test_only_with_an_unknown_name_is_bad_input(cli, site: Path) -> None:
    result = cli("freshness", "check", "--catalog", str(site), "--only", "fixture-datasheat")
    assert result.code == 1
    assert "--only 'fixture-datasheat' matches no cited value; did you mean fixture-datasheet" in result.err
    assert "Traceback" not in result.err


def test_an_unwritable_report_path_is_bad_input(cli, site: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = cli("freshness", "check", "--catalog", str(site), "--offline", "--report", str(blocker / "report.json"))
    assert result.code == 1 and "cannot write" in result.err and "Traceback" not in result.err


def test_offline_fetches_nothing_and_writes_nothing(cli, site: Path, httpserver: HTTPServer) -> None:
    before = snapshot(site)
    result, report, summary = run(cli, site, "--offline")
    assert result.code == 0 and len(httpserver.log) == 0 and snapshot(site) == before
    assert report["counts"] == {"skipped": report["planned"]} and "Offline run" in summary


def test_due_checks_only_what_its_cadence_asks_for(cli, site: Path, httpserver: HTTPServer) -> None:
    serve_all(httpserver)
    run(cli, site)
    httpserver.clear()
    serve_all(httpserver)
    result, report, _ = run(cli, site, "--due")
    # everything verified today is due again only after its cadence; the skipped EM value stays due
    assert report["planned"] == 1 and list(claims_of(report)) == ["grids/em_grid#carbon_intensity"]
    assert len(httpserver.log) == 0


def test_plain_progress_lines_when_not_a_terminal(cli, site: Path, httpserver: HTTPServer) -> None:
    serve_all(httpserver)
    result, _, _ = run(cli, site, "--only", "fixture-datasheet")
    assert "fetching 1 document" in result.err and "/datasheet.html -> 200" in result.err


def test_help_lists_the_options(cli) -> None:
    result = cli("freshness", "check", "--help")
    assert result.code == 0
    for option in ("--only", "--due", "--apply", "--report", "--summary", "--offline", "--deadline"):
        assert option in result.out


def test_azure_path_matches_the_catalog_source() -> None:
    """The test stand-in uses the same json_path as the real catalog source."""
    from mlsysim.catalog import load_catalog

    real = load_catalog().sources["azure-retail-prices-nd96isr-h100-v5"]["check"]
    assert real["json_path"] == AZURE_PATH
