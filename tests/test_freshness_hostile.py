"""The freshness checker against hostile sources and faults, end to end on real servers on 127.0.0.1.

Every case comes from a hostile-input campaign against the checker: slow and
hostile documents, private addresses, keys echoed back encoded, concurrent
runs, killed runs, flapping live values and network outages.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request as WRequest
from werkzeug import Response

from freshness_support import DATASHEET, build_catalog, connector_env, payload, serve_all, snapshot, sources_yaml
from hostile_servers import RawServer, cdata_html, deep_json, pdf_bomb, refusing_port, trickling_body
from provenance.verification import read_verification

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def site(httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLSYSIM_FRESHNESS_ALLOW_ADDRESSES", "127.0.0.1")
    monkeypatch.setenv("MLSYSIM_FRESHNESS_BACKOFF", "0.01")
    monkeypatch.setenv("MLSYSIM_FRESHNESS_TIMEOUT", "2")
    monkeypatch.setenv("MLSYSIM_FRESHNESS_CONNECTORS", connector_env(httpserver))
    monkeypatch.delenv("ELECTRICITYMAPS_TOKEN", raising=False)
    return build_catalog(tmp_path / "catalog", httpserver)


def run(cli, root: Path, *args: str):
    report, summary = root.parent / "report.json", root.parent / "summary.md"
    for p in (report, summary):
        p.unlink(missing_ok=True)
    result = cli("freshness", "check", "--catalog", str(root), "--report", str(report), "--summary", str(summary), *args)
    return result, json.loads(report.read_text()), summary.read_text()


def claims_of(report: dict) -> dict[str, dict]:
    return {c["path"]: c for s in report["sources"] for c in s["claims"]}


def gb(value: float) -> dict:
    row = {"from": "2026-03-20T03:30Z", "to": "2026-03-20T04:00Z", "intensity": {"forecast": value, "actual": value, "index": "high"}}
    return {"data": [row]}


def repoint(root: Path, source_id: str, url: str) -> None:
    """Point one source of the test catalog at another URL."""
    text = (root / "sources.yaml").read_text()
    start = text.index(f"{source_id}:\n")
    line = text.index("  url: ", start)
    end = text.index("\n", line)
    (root / "sources.yaml").write_text(text[:line] + f"  url: {url}" + text[end:])


# ---------------------------------------------------------------- one bad document is that document's result


def test_hostile_documents_are_their_own_results_and_everything_else_is_kept(cli, site: Path, httpserver: HTTPServer) -> None:
    """A PDF bomb and JSON nested 200,000 deep each ended the whole run (exit 1, nothing written); now each is one source's result."""
    httpserver.expect_request("/datasheet.html").respond_with_data(pdf_bomb(96 * 1024 * 1024), content_type="application/pdf")
    httpserver.expect_request("/gb/intensity/date").respond_with_data(deep_json(200_000), content_type="application/json")
    serve_all(httpserver)
    result, report, summary = run(cli, site)
    assert result.code == 4 and "internal error" not in result.err and "Traceback" not in result.err
    c = claims_of(report)
    assert c["hardware/fx100#memory.capacity"]["result"] == "malformed" and "LimitReachedError" in c["hardware/fx100#memory.capacity"]["message"]
    assert c["grids/live_grid#carbon_intensity"]["result"] == "malformed" and "nested more than 64" in c["grids/live_grid#carbon_intensity"]["message"]
    assert c["nodes/fixture_node#cloud_price"]["action"] == "applied"  # the other sources' good results are kept
    states, _ = read_verification(site)
    assert states["hardware/fx100#memory.capacity"].result == "malformed" and states["nodes/fixture_node#cloud_price"].result == "match"
    assert "malformed" in summary


def test_markup_that_crashed_the_parser_is_read(cli, site: Path, httpserver: HTTPServer) -> None:
    """`<![<![<![` raised an AssertionError inside html.parser and ended the run."""
    httpserver.expect_request("/datasheet.html").respond_with_data(cdata_html() + DATASHEET.encode(), content_type="text/html")
    serve_all(httpserver)
    result, report, _ = run(cli, site, "--only", "fixture-datasheet")
    assert result.code == 0, result.out + result.err
    assert claims_of(report)["hardware/fx100#memory.capacity"]["result"] == "match"


def test_the_run_deadline_skips_what_is_left_and_writes_what_was_found(cli, site: Path, httpserver: HTTPServer) -> None:
    serve_all(httpserver)
    with RawServer(trickling_body(every=0.2)) as slow:
        repoint(site, "fixture-datasheet", slow.url("/datasheet.html"))
        start = time.monotonic()
        result, report, _ = run(cli, site, "--deadline", "2")
        took = time.monotonic() - start
    assert took < 60  # the trickle alone would take 100,000 x 0.2 s
    c = claims_of(report)
    assert c["hardware/fx100#memory.capacity"]["result"] == "skipped" and "deadline" in c["hardware/fx100#memory.capacity"]["message"]
    assert c["nodes/fixture_node#cloud_price"]["action"] == "applied" and c["grids/fixture_grid#carbon_intensity"]["result"] == "match"
    states, _ = read_verification(site)
    assert states["nodes/fixture_node#cloud_price"].result == "match" and states["hardware/fx100#memory.capacity"].result == "skipped"


# ---------------------------------------------------------------- keys echoed back encoded

TOKEN = "em/tok+en=Zq8v/2Lk9=="


def forms(secret: str) -> list[str]:
    raw = secret.encode()
    return [secret, quote(secret, safe=""), quote(secret), quote_plus(secret), quote(secret, safe="").lower(),
            base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode(), base64.b64encode(raw).decode().rstrip("=")]


def test_a_token_echoed_in_any_encoding_is_never_written_or_shown(cli, site: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELECTRICITYMAPS_TOKEN", TOKEN)
    echo = dict(payload("electricity_maps_latest_de.json"), zone="DE")
    echo["debug"] = {"raw": TOKEN, "quoted": quote(TOKEN, safe=""), "plus": quote_plus(TOKEN),
                     "b64": base64.b64encode(TOKEN.encode()).decode(), "b64url": base64.urlsafe_b64encode(TOKEN.encode()).decode()}
    echo["carbonIntensity"] = "not a number " + quote(TOKEN, safe="")  # lands in the message as the observed text
    httpserver.expect_request("/em/latest").respond_with_data(
        "", status=302, headers={"Location": f"/em/final/{quote(TOKEN, safe='')}?zone=DE&t={quote_plus(TOKEN)}"})
    httpserver.expect_request(f"/em/final/{TOKEN}").respond_with_json(echo)
    result, report, summary = run(cli, site, "--only", "em-live")
    c = claims_of(report)["grids/em_grid#carbon_intensity"]
    assert c["result"] == "missing" and "not a number" in c["message"] and "***" in c["message"]
    assert "***" in c["evidence"]["url"]
    outputs = [result.out, result.err, json.dumps(report), summary, (site / "verification.json").read_text()]
    outputs += [p.read_text(errors="replace") for p in site.rglob("*.yaml")]
    for form in forms(TOKEN):
        assert all(form not in text for text in outputs), form


def test_a_literal_key_in_auth_is_reported_without_echoing_it(cli, catalog_copy) -> None:
    key = "sk-live-Q2/9+zz=ABCDEF0123"
    root = catalog_copy()
    (root / "sources.yaml").write_text((root / "sources.yaml").read_text() + (
        "leaky-api:\n  title: An API\n  publisher: Someone\n  type: api\n  url: https://example.org/api\n"
        f"  access: {{auth: \"{key}\"}}\n"))
    result = cli("catalog", "validate", "--catalog", str(root))
    assert result.code == 1
    assert "leaky-api.access.auth: looks like a literal key; use `auth: env:NAME`" in result.out + result.err
    assert all(form not in result.out + result.err for form in forms(key))


# ---------------------------------------------------------------- concurrent and killed runs

RUN = "import sys; from mlsysim.cli import main; sys.exit(main(sys.argv[1:]))"


def test_concurrent_runs_merge_their_results(tmp_path: Path) -> None:
    """Two --apply runs with different --only overlap in time: both edits and both results survive.

    Before the catalog lock, the second writer replaced verification.json with its own
    view, dropping the first run's results (6 of 6 rounds in the campaign).
    """
    def slow(doc):
        def handler(request: WRequest) -> Response:
            time.sleep(4.0)  # both runs have read verification.json before either writes it
            return Response(json.dumps(doc), content_type="application/json")
        return handler

    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    try:
        root = build_catalog(tmp_path / "catalog", server)
        server.expect_request("/gb/intensity/date").respond_with_handler(slow(payload("gb_carbon_intensity_date.json")))
        server.expect_request("/azure/prices").respond_with_handler(slow(payload("azure_retail_prices_nd96isr_h100_v5.json")))
        env = {**os.environ, "PYTHONPATH": str(REPO), "MLSYSIM_FRESHNESS_ALLOW_ADDRESSES": "127.0.0.1", "MLSYSIM_FRESHNESS_TIMEOUT": "20",
               "MLSYSIM_FRESHNESS_CONNECTORS": connector_env(server)}
        env.pop("ELECTRICITYMAPS_TOKEN", None)
        procs = [subprocess.Popen([sys.executable, "-c", RUN, "freshness", "check", "--catalog", str(root), "--apply", "--only", only],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for only in ("gb-live", "price-api")]
        outs = [p.communicate(timeout=180) for p in procs]
    finally:
        server.stop()
    assert [p.returncode for p in procs] == [4, 4], outs  # applied live values are reported for review; neither run failed
    states, _ = read_verification(root)
    assert states["grids/live_grid#carbon_intensity"].result == "match" and states["grids/live_grid#carbon_intensity"].observed == 164.0
    assert states["nodes/fixture_node#cloud_price"].result == "match" and states["nodes/fixture_node#cloud_price"].observed == 98.32
    assert states["hardware/fx100#cloud_price"].result == "changed"
    assert "value: 164\n" in (root / "grids" / "live_grid.yaml").read_text()
    assert "value: 98.32" in (root / "systems" / "nodes" / "fixture_node.yaml").read_text()


def test_catalog_copies_left_by_killed_runs_are_removed(cli, site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    dead, alive, other = tmp / "mlsysim-freshness-k1ll3d", tmp / "mlsysim-freshness-running", tmp / "someone-elses-old-dir"
    for d in (dead, alive, other):
        (d / "catalog").mkdir(parents=True)
    old = time.time() - 2 * 3600
    for d in (dead, other):
        os.utime(d, (old, old))
    result, _, _ = run(cli, site, "--offline")
    assert result.code == 0
    assert not dead.exists() and alive.exists() and other.exists()


# ---------------------------------------------------------------- live values: flapping and large steps


def test_a_flapping_live_value_is_marked_unstable_and_not_reapplied(cli, site: Path, httpserver: HTTPServer) -> None:
    grid = site / "grids" / "live_grid.yaml"

    def step(value: float):
        httpserver.clear()
        httpserver.expect_request("/gb/intensity/date").respond_with_json(gb(value))
        result, report, _ = run(cli, site, "--only", "gb-live", "--apply")
        return claims_of(report)["grids/live_grid#carbon_intensity"], grid.read_text()

    c, text = step(164)  # 171 -> 164: applied
    assert c["action"] == "applied" and "value: 164\n" in text
    c, text = step(171)  # back up on the next run: unstable
    assert c["action"] == "proposed" and "unstable" in c["message"] and "value: 164\n" in text
    c, text = step(164)  # the catalog's value again
    assert c["result"] == "match" and "value: 164\n" in text
    c, text = step(171)  # and back: still unstable, never re-applied
    assert c["action"] == "proposed" and "unstable" in c["message"] and "value: 164\n" in text
    c, text = step(171)  # the same answer twice in a row: the source has settled, so it is applied
    assert c["action"] == "applied" and "value: 171\n" in text


def test_a_tenfold_change_inside_the_plausible_range_is_proposed_not_applied(cli, site: Path, httpserver: HTTPServer) -> None:
    """171 -> 900 gCO2/kWh passes the plausible range [0, 1000] but is far beyond the default 50% step."""
    httpserver.expect_request("/gb/intensity/date").respond_with_json(gb(900))
    before = (site / "grids" / "live_grid.yaml").read_bytes()
    result, report, summary = run(cli, site, "--only", "gb-live", "--apply")
    c = claims_of(report)["grids/live_grid#carbon_intensity"]
    assert result.code == 4 and c["action"] == "proposed" and c["new"]["value"] == 900
    assert "a change of 426% is more than the 50% step applied without review (check.max_step)" in c["message"]
    assert (site / "grids" / "live_grid.yaml").read_bytes() == before
    assert "## Proposed edits" in summary


def test_max_step_is_a_per_claim_policy(cli, site: Path, httpserver: HTTPServer) -> None:
    text = (site / "sources.yaml").read_text().replace("plausible: {min: 0, max: 1000}, on_change: apply", "plausible: {min: 0, max: 1000}, max_step: 5, on_change: apply")
    (site / "sources.yaml").write_text(text)
    httpserver.expect_request("/gb/intensity/date").respond_with_json(gb(900))
    result, report, _ = run(cli, site, "--only", "gb-live")
    assert claims_of(report)["grids/live_grid#carbon_intensity"]["action"] == "applied"


# ---------------------------------------------------------------- outage versus rot


def test_a_run_where_every_host_refuses_is_an_outage_that_changes_nothing(cli, site: Path, httpserver: HTTPServer) -> None:
    serve_all(httpserver)
    run(cli, site)  # a good run first: verification.json and applied values exist
    (site / "sources.yaml").write_text(sources_yaml(f"http://127.0.0.1:{refusing_port()}"))
    before = snapshot(site)
    result, report, summary = run(cli, site)
    assert result.code == 5, result.out + result.err
    assert "OUTAGE" in result.err and "Nothing in the catalog was written" in result.err and "exit 5" in result.err
    assert snapshot(site) == before  # not a byte of verification.json or any YAML
    assert re.match(r"OUTAGE: (\d) of \1 documents could not be fetched \(refused\)", report["outage"])
    assert "Nothing in the catalog was changed" in summary


def _fetched(failure: str | None, reason: str | None, status: int | None = None):
    from provenance.http import Fetched

    return Fetched("u", status=status, failure=failure, reason=reason)


def test_outage_rules() -> None:
    from provenance.checker import detect_outage
    from provenance.http import Request

    def judge(*answers):
        reqs = [Request(url, key=str(i)) for i, (url, _) in enumerate(answers)]
        return detect_outage(reqs, {str(i): got for i, (_, got) in enumerate(answers)}, 0.5, 3)

    a, b, c = "https://a.example/x", "https://b.example/y", "https://c.example/z"
    # every host failing for the same network reason, even with only two documents
    assert judge((a, _fetched("unreachable", "dns")), (b, _fetched("unreachable", "dns"))).startswith("OUTAGE: every host (2)")
    # two hosts failing for different reasons, two documents: too little to tell
    assert judge((a, _fetched("unreachable", "dns")), (b, _fetched("unreachable", "refused"))) is None
    # one host: a single failing source is that source's problem
    assert judge((a, _fetched("unreachable", "refused"))) is None
    # more than half of three or more documents failing for network reasons
    assert "2 of 3" in judge((a, _fetched("unreachable", "timeout")), (b, _fetched("unreachable", "refused")), (c, _fetched(None, None, 200)))
    # sources that answered, even with 404 or a refusal by our own rules, are rot, not an outage
    assert judge((a, _fetched("gone", "http", 404)), (b, _fetched("gone", "http", 404)), (c, _fetched("blocked", "policy"))) is None
    # what the run's deadline skipped is not counted
    assert judge((a, _fetched("skipped", "run-deadline")), (b, _fetched("skipped", "run-deadline")), (c, _fetched(None, None, 200))) is None
    # 5xx from everything (a broken proxy) is an outage
    assert judge((a, _fetched("unreachable", "http", 502)), (b, _fetched("unreachable", "http", 502)), (c, _fetched("unreachable", "http", 503))) is not None


def test_one_refusing_host_among_good_ones_is_rot_not_an_outage(cli, site: Path, httpserver: HTTPServer) -> None:
    serve_all(httpserver)
    repoint(site, "fixture-grid-data", f"http://127.0.0.1:{refusing_port()}/grid.csv")
    result, report, _ = run(cli, site)
    assert result.code == 4 and "outage" not in report
    assert claims_of(report)["grids/fixture_grid#carbon_intensity"]["result"] == "unreachable"
    assert read_verification(site)[0]["grids/fixture_grid#carbon_intensity"].result == "unreachable"


def test_a_corrupt_verification_file_is_bad_input_not_an_internal_error(cli, site: Path) -> None:
    (site / "verification.json").write_text('{"claims": {"x": ')
    result = cli("freshness", "check", "--catalog", str(site), "--offline")
    assert result.code == 1 and "verification.json: cannot read the verification state" in result.err
    assert "git checkout -- verification.json" in result.err and "internal error" not in result.err


def test_the_catalog_lock_excludes_a_second_writer_and_creates_no_file(tmp_path: Path) -> None:
    from provenance.lock import LockTimeout, catalog_lock

    root = tmp_path / "catalog"
    root.mkdir()
    with catalog_lock(root):
        with pytest.raises(LockTimeout, match="another freshness run"):
            with catalog_lock(root, timeout=0.3):
                pass
    with catalog_lock(root, timeout=0.3):  # released on exit
        pass
    assert list(root.iterdir()) == []
