"""mlsysim/site/build.py and `mlsysim site build`: pages, exports and badges of a built site."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from site_helpers import TODAY, badges, claim_rows, write_verification


@pytest.fixture
def built(tmp_path: Path, fixture_catalog: Path) -> Path:
    from mlsysim.site.build import build_site

    out = tmp_path / "site"
    build_site(out, fixture_catalog, today=TODAY)
    return out


def test_cli_builds_the_site_and_reports_what_it_wrote(cli, fixture_catalog, tmp_path):
    out = tmp_path / "out"
    result = cli("site", "build", "--out", str(out), "--catalog", str(fixture_catalog))
    assert result.code == 0, result.err
    # 10 record pages, a table per kind (7), home, sources, freshness, compare, one page per source (3),
    # the two labs (labs/roofline.html, labs/waterfall.html)
    assert re.search(r"Built 28 pages, 3 charts and 10 badge files for 10 records \(30 cited values\) in \d+\.\d\d s", result.out)
    assert f"Open {out / 'index.html'}" in result.out.replace("\n", "")
    for rel in ("index.html", "sources.html", "freshness.html", "hardware/index.html", "hardware/fx100.html",
                "catalog.json", "provenance-map.json", "badges/hardware/fx100.json", "static/site.css",
                "static/zoo.js", "static/badges.css", "charts/roofline-fx100.svg", "charts/grid-carbon-intensity.svg",
                "compare.html", "compare-data.js", "hardware/hardware.csv", "hardware/hardware.json",
                "sources/fixture-datasheet.html"):
        assert (out / rel).is_file(), rel


def test_every_page_and_asset_is_local(built):
    """Self-contained: no page loads anything from another host (works from file:// and offline)."""
    for page in built.rglob("*.html"):
        html = page.read_text()
        for attr, url in re.findall(r'(src|href)="([^"]+)"', html):
            if attr == "src" or 'rel="stylesheet"' in html.split(url)[0][-60:]:
                assert not re.match(r"(https?:)?//", url), (page, url)
    assert "http" not in (built / "static" / "zoo.js").read_text()


def test_record_page_shows_every_value_with_badge_source_and_locator(built):
    html = (built / "hardware" / "fx100.html").read_text()
    rows = claim_rows(html)
    # Grouped by source: all seven cite the datasheet (the estimate too), so the source is shown once.
    assert list(rows) == ["compute.fp16", "compute.fp8", "compute_sparse.fp8", "memory.capacity", "memory.bandwidth", "tdp", "unit_cost"]
    assert sum(len(badges(row)) for row in rows.values()) == 7
    fp16 = rows["compute.fp16"]
    assert "1 PFLOP/s" in fp16 and "1,000 TFLOP/s" in fp16  # engineering units, and as the source states it
    assert "FP16 dense peak" in fp16 and "spec table, FP16" in fp16 and "sparsity: dense" in fp16
    assert "retrieved 2026-11-21" in fp16  # the badge's tooltip says when a person read the source
    citations = re.findall(r'<h3 class="citation-source">(.*?)</h3>', html, re.S)
    assert len(citations) == 1  # each source once, however many values cite it
    assert '<a class="source-link" href="https://fixture.invalid/datasheet.pdf"' in citations[0]
    assert "Fixture Accelerator Datasheet" in citations[0] and 'href="../sources/fixture-datasheet.html"' in citations[0]
    assert 'as stated: <q>4TB/s</q>' in rows["memory.bandwidth"]
    assert "= sparse / 2 from" in rows["compute.fp8"]
    assert 'href="../hardware/fx100.html#v-compute_sparse.fp8"' in rows["compute.fp8"]


def test_without_verification_cited_values_are_cited_not_stale_and_estimates_estimated(built):
    """Nothing was ever verified by machine, so nothing can have expired: 'cited', never 'stale'."""
    html = (built / "hardware" / "fx100.html").read_text()
    rows = claim_rows(html)
    assert all(badges(row) == ["cited"] for field, row in rows.items() if field != "unit_cost")
    assert badges(rows["unit_cost"]) == ["estimated"]
    assert "never checked by machine" in rows["tdp"] and "retrieved 2026-11-21" in rows["tdp"]
    home = (built / "index.html").read_text()
    assert "stale" not in "".join(badges(home)[:3])  # the summary names cited and estimated, not stale
    assert "<strong>Checked by machine:</strong>" in home and "<strong>nothing yet</strong>" in home
    assert re.search(r"Resting on a person's reading at retrieval:</strong> 29 values .*?read in their sources\s+on 2026-11-21", home, re.S)
    fresh = (built / "freshness.html").read_text()
    assert "none yet (no <code>verification.json</code>)" in fresh
    assert "at the checker&#39;s first run (never checked)</th><td class=\"n\">29</td>" in fresh


def test_derived_figures_are_marked_with_their_formula(built):
    """Ridge point = peak / bandwidth (Williams et al. 2009): 1000 TFLOP/s / 4 TB/s = 250 FLOP/byte;
    parameter bytes = 1.2e9 x 2 bytes = 2.4 GB in BF16."""
    hw = (built / "hardware" / "fx100.html").read_text()
    assert re.search(r"Ridge point, FP16</th>\s*<td class=\"value\">250 FLOP/byte <span class=\"derived-mark\"", hw)
    assert "compute.fp16 / memory.bandwidth" in hw and "500 FLOP/byte" in hw  # FP8: 2000 / 4
    lm = (built / "models" / "fixture_lm.html").read_text()
    assert re.search(r"Parameter bytes, BF16 / FP16</th>\s*<td class=\"value\">2.4 GB", lm)
    assert "4.8 GB" in lm and "600 MB" in lm and "parameters × 16 bit / 8" in lm


def test_zoo_tables_have_one_status_per_row_and_the_detail_on_hover(built):
    html = (built / "hardware" / "index.html").read_text()
    row = re.search(r'<tr>\s*<td class="pick">(?:(?!</tr>).)*?data-sort="fixture fx100 80gb">(.*?)</tr>', html, re.S).group(1)
    cells = re.findall(r'<td class="n" data-sort="([^"]+)">(.*?)</td>', row, re.S)
    # FP16, FP8, Memory, Bandwidth, TDP are cited in the fixture: numbers in the column's unit, no badge each.
    assert [float(sort) for sort, _ in cells] == [1e15, 2e15, 8e10, 4e12, 700.0]
    assert all(badges(cell) == [] for _, cell in cells)
    assert ">1,000</span>" in row and ">4,000</span>" in row  # TFLOP/s and GB/s display units, digits grouped
    assert 'title="Memory bandwidth: 4 TB/s (cited: cited and read by a person at retrieval' in row  # detail on hover
    assert badges(row) == ["cited"]  # one status for the row: the weakest of its values
    assert re.search(r'title="7 values: 6 cited, 1 estimated; cited values read at retrieval \(2026-11-21\), never checked by machine', row)
    assert '<th scope="col" class="n"><button type="button" class="sort">FP16 <span class="unit">TFLOP/s</span>' in html
    assert '<input type="checkbox" name="ids" value="fx100"' in html and 'action="../compare.html"' in html


def test_zoo_tables_download_as_csv_and_json(built):
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO((built / "hardware" / "hardware.csv").read_text())))
    fx = next(r for r in rows if r["id"] == "fx100")
    assert fx["FP16 [TFLOP/s]"] == "1000" and fx["Bandwidth [GB/s]"] == "4000" and fx["BF16 [TFLOP/s]"] == ""
    assert fx["status"] == "cited" and fx["name"] == "Fixture FX100 80GB"
    data = json.loads((built / "hardware" / "hardware.json").read_text())
    record = next(r for r in data["records"] if r["id"] == "fx100")
    assert record["values"]["Bandwidth"] == {"value": 4000.0, "unit": "GB/s", "si_value": 4e12, "si_unit": "byte/second",
                                             "badge": "cited", "source": "fixture-datasheet", "field": "memory.bandwidth"}
    assert 'href="hardware.csv" download' in (built / "hardware" / "index.html").read_text()


def test_record_page_has_a_spec_card_in_human_units_and_human_labels(built):
    html = (built / "hardware" / "fx100.html").read_text()
    card = re.search(r'<section class="spec-card".*?</section>', html, re.S).group(0)
    items = re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", card, re.S)
    shown = {label: re.sub(r"<[^>]+>", " ", value).split()[0:2] for label, value in items}
    assert shown["Vendor"] == ["Fixture", "Corp"] and shown["Release year"] == ["2024"]
    assert shown["FP16 dense peak"] == ["1", "PFLOP/s"] and shown["Memory bandwidth"] == ["4", "TB/s"]
    assert shown["Memory"] == ["80", "GB"] and shown["TDP (board power)"] == ["700", "W"]
    assert 'href="../sources/fixture-datasheet.html"' in card  # the citation, one click away
    assert "release_year" not in re.sub(r'<code class="path">[^<]*</code>', "", html.split('id="values-h"')[0])


def test_markdown_in_descriptions_and_notes_is_rendered_safely(catalog_copy, tmp_path):
    from mlsysim.site.build import build_site

    root = catalog_copy()
    hw = root / "hardware" / "cloud" / "fx100.yaml"
    hw.write_text(hw.read_text().replace(
        "aliases: [FX100]",
        'aliases: [FX100]\ndescription: "Runs `fx-smi`; see [the guide](https://fixture.invalid/guide) and '
        '[this](javascript:alert(1)) <b>bold</b>"',
    ))
    build_site(tmp_path / "site", root, today=TODAY)
    html = (tmp_path / "site" / "hardware" / "fx100.html").read_text()
    assert "Runs <code>fx-smi</code>" in html and "`fx-smi`" not in html
    assert '<a href="https://fixture.invalid/guide" rel="external noopener noreferrer">the guide</a>' in html
    assert "[this](javascript:alert(1))" in html and 'href="javascript' not in html  # not a link: left as text
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html  # no raw HTML passes through


def test_source_pages_list_the_values_they_support(built):
    html = (built / "sources" / "fixture-datasheet.html").read_text()
    assert "<h1>Fixture Accelerator Datasheet</h1>" in html
    rows = re.findall(r'<tr>\s*<th scope="row"><a href="../hardware/fx100.html">FX100</a></th>(.*?)</tr>', html, re.S)
    assert sorted(b for r in rows for b in badges(r)) == ["cited"] * 6 + ["estimated"]
    assert "Memory bandwidth" in html and "4 TB/s" in html and "Retrieved</dt><dd>2026-11-21" in html


def test_compare_data_has_every_record_of_a_kind_in_human_units(built):
    text = (built / "compare-data.js").read_text()
    data = json.loads(text.split("window.MLSYSIM_COMPARE = ", 1)[1].rstrip().rstrip(";"))
    fx = data["kinds"]["hardware"]["records"]["fx100"]
    assert fx["values"]["memory.bandwidth"][:2] == ["4 TB/s", "cited"] and fx["href"] == "hardware/fx100.html"
    assert ["compute.fp16", "FP16 dense peak"] in data["kinds"]["hardware"]["fields"]
    assert data["symbols"]["cited"]


def test_sources_page_counts_citations(built, fixture_catalog):
    from mlsysim.catalog import load_catalog

    provmap = load_catalog(fixture_catalog).provenance
    html = (built / "sources.html").read_text()
    for source_id in ("fixture-datasheet", "fixture-model-card", "fixture-grid-data"):
        row = re.search(rf'<tr id="src-{source_id}">(.*?)</tr>', html, re.S).group(1)
        assert int(re.search(r'<td class="n" data-sort="(\d+)">', row).group(1)) == len(provmap.cited_by(source_id))
        assert "never checked by machine" in row and badges(row) == ["cited"]  # no verification.json
    assert len(provmap.cited_by("fixture-datasheet")) == 16


def test_exports_catalog_provenance_and_shields(built):
    catalog = json.loads((built / "catalog.json").read_text())
    fx = next(r for r in catalog["records"] if r["id"] == "fx100")
    assert fx["values"]["memory.bandwidth"]["si_value"] == 4e12
    assert fx["values"]["memory.bandwidth"]["badge"] == "cited"
    assert fx["values"]["unit_cost"]["badge"] == "estimated"
    assert set(catalog["sources"]) == {"fixture-datasheet", "fixture-model-card", "fixture-grid-data"}
    provmap = json.loads((built / "provenance-map.json").read_text())
    assert len(provmap) == 30
    assert {e["badge"] for e in provmap} == {"cited", "estimated"}
    shields = json.loads((built / "badges" / "hardware" / "fx100.json").read_text())
    assert shields == {"schemaVersion": 1, "label": "FX100", "message": "6 cited, 1 estimated", "color": "informational"}


def test_verification_states_become_badges_findings_and_proposals(catalog_copy, tmp_path):
    from mlsysim.site.build import build_site

    root = catalog_copy()
    recent, old = "2026-11-11", "2026-01-01"
    write_verification(root, {
        "hardware/fx100#memory.bandwidth": {"result": "match", "last_checked": recent, "last_verified": recent, "next_due": "2027-02-09"},
        "hardware/fx100#tdp": {"result": "match", "last_checked": old, "last_verified": old},
        "hardware/fx100#compute.fp16": {"result": "changed", "last_checked": recent, "last_verified": old, "observed": 1100.0,
                                        "evidence": {"status": 200, "snippet": "FP16 1,100 TFLOPS", "url": "https://fixture.invalid/datasheet.pdf",
                                                     "sha256": "9f" * 32, "etag": '"5e1f-64a8b2c3d4e5f"', "claim": "ab12" * 16}},
        "hardware/fx100#memory.capacity": {"result": "unreachable", "last_checked": recent, "evidence": {"status": 503}},
        "hardware/fx100#unit_cost": {"result": "match", "last_checked": recent, "last_verified": recent},
    }, run={"started": "2026-11-11T03:00:00Z", "sources_checked": 1})
    out = tmp_path / "site"
    build_site(out, root, today=TODAY)

    rows = claim_rows((out / "hardware" / "fx100.html").read_text())
    assert badges(rows["memory.bandwidth"]) == ["verified"]
    assert badges(rows["tdp"]) == ["stale"]  # matched, but longer ago than the datasheet's 90-day cadence
    assert badges(rows["compute.fp8"]) == ["cited"]  # never checked: nothing has expired
    assert badges(rows["compute.fp16"]) == ["changed"]
    assert badges(rows["memory.capacity"]) == ["broken"]
    assert badges(rows["unit_cost"]) == ["estimated"]
    assert "last checked 2026-11-11 (match); last verified 2026-11-11; next due 2027-02-09" in rows["memory.bandwidth"]
    assert "<dt>verified</dt><dd>2026-11-11</dd>" in rows["memory.bandwidth"]

    fresh = (out / "freshness.html").read_text()
    assert "1,000 TFLOP/s → 1,100 TFLOP/s" in fresh
    assert "Sources checked" in fresh and "2026-11-11T03:00:00Z" in fresh
    assert '<a href="https://fixture.invalid/datasheet.pdf" rel="external noopener noreferrer">' in fresh
    assert "Needs review <span class=\"count\">(2)</span>" in fresh
    assert "9f9f9f" not in fresh and "5e1f-64a8" not in fresh and "ab12ab12" not in fresh  # no hashes for people
    assert "<dt>HTTP status</dt><dd>200</dd>" in fresh and "<dt>Source text</dt><dd>FP16 1,100 TFLOPS</dd>" in fresh
    assert re.search(r"Checked by machine:</strong> 5 of 30 values, last on <strong>2026-11-11</strong>;\s+1 matched within their cadence, 1 matched once but are due again", fresh)
    assert "<th scope=\"row\">2027-02</th><td class=\"n\">1</td>" in fresh  # what is due when
    home = (out / "index.html").read_text()
    assert "last re-read sources on <strong>2026-11-11</strong>" in home

    shields = json.loads((out / "badges" / "hardware" / "fx100.json").read_text())
    assert shields == {"schemaVersion": 1, "label": "FX100", "message": "1/6 verified, 1 estimated", "color": "red"}
    sources = (out / "sources.html").read_text()
    row = re.search(r'<tr id="src-fixture-datasheet">(.*?)</tr>', sources, re.S).group(1)
    assert badges(row) == ["broken"] and "2026-11-11" in row


def test_base_url_gives_canonical_links_and_shields_urls(tmp_path, fixture_catalog, cli):
    out = tmp_path / "site"
    result = cli("site", "build", "--out", str(out), "--catalog", str(fixture_catalog), "--base-url", "https://zoo.example.org/mlsysim")
    assert result.code == 0, result.err
    html = (out / "hardware" / "fx100.html").read_text()
    assert '<link rel="canonical" href="https://zoo.example.org/mlsysim/hardware/fx100.html">' in html
    assert "https://img.shields.io/endpoint?url=https%3A%2F%2Fzoo.example.org%2Fmlsysim%2Fbadges%2Fhardware%2Ffx100.json" in html


def test_base_url_must_be_http(cli, fixture_catalog, tmp_path):
    result = cli("site", "build", "--out", str(tmp_path / "s"), "--catalog", str(fixture_catalog), "--base-url", "javascript:alert(1)")
    assert result.code == 1
    assert "Error: --base-url 'javascript:alert(1)': not an http(s) URL; write e.g. 'https://example.org/mlsysim/'" in result.err
    assert not (tmp_path / "s").exists()


def test_rebuild_replaces_an_earlier_build_but_never_another_directory(cli, fixture_catalog, tmp_path):
    out = tmp_path / "site"
    assert cli("site", "build", "--out", str(out), "--catalog", str(fixture_catalog)).code == 0
    (out / "stray.html").write_text("left over")
    assert cli("site", "build", "--out", str(out), "--catalog", str(fixture_catalog)).code == 0
    assert not (out / "stray.html").exists() and (out / "index.html").is_file()

    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "notes.txt").write_text("mine")
    result = cli("site", "build", "--out", str(precious), "--catalog", str(fixture_catalog))
    assert result.code == 1
    assert "exists and is not a site built by mlsysim (no .mlsysim-site file), so it is left alone" in result.err
    assert [p.name for p in precious.iterdir()] == ["notes.txt"]


def test_a_failed_build_leaves_the_previous_site_and_no_temp_files(fixture_catalog, tmp_path, monkeypatch):
    from mlsysim.site import build

    out = tmp_path / "site"
    build.build_site(out, fixture_catalog, today=TODAY)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))

    def broken_export(*args, **kwargs):
        raise RuntimeError("disk full")

    # Late in the build (pages and charts already staged); charts may come from the build cache.
    monkeypatch.setattr(build.exports, "provenance_json", broken_export)
    with pytest.raises(RuntimeError, match="disk full"):
        build.build_site(out, fixture_catalog, today=TODAY)
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert [p.name for p in tmp_path.iterdir()] == ["site"]


def test_invalid_catalog_is_an_error_not_a_site(cli, catalog_copy, tmp_path):
    root = catalog_copy({"grids/fixture_grid.yaml": "id: fixture_grid\nname: Broken\n"})
    result = cli("site", "build", "--out", str(tmp_path / "s"), "--catalog", str(root))
    assert result.code == 1
    assert "grids/fixture_grid.yaml" in result.out + result.err and "Traceback" not in result.err
    assert not (tmp_path / "s").exists()


def test_real_catalog_builds_with_a_chart_per_accelerator_with_bandwidth(tmp_path):
    from mlsysim.catalog import load_catalog
    from mlsysim.site.build import build_site

    catalog = load_catalog()
    report = build_site(tmp_path / "site", catalog, today=TODAY)
    with_roofline = [r for r in catalog.records("hardware") if r.has("memory.bandwidth") and r.has("compute")]
    assert report.records == len(catalog.records()) and report.values == len(catalog.provenance)
    assert sorted(p.name for p in (tmp_path / "site" / "charts").glob("roofline-*.svg")) == sorted(f"roofline-{r.id}.svg" for r in with_roofline)
    h100 = (tmp_path / "site" / "hardware" / "h100_sxm.html").read_text()
    assert sum(len(badges(row)) for row in claim_rows(h100).values()) == len(catalog.get("hardware", "h100").values())
    assert 'src="../charts/roofline-h100_sxm.svg"' in h100


def test_builds_are_byte_for_byte_reproducible(fixture_catalog, tmp_path):
    """Same catalog, same day: the same bytes, so a published site's diffs show only real changes."""
    from mlsysim.site.build import build_site

    for name in ("a", "b"):
        build_site(tmp_path / name, fixture_catalog, today=TODAY)
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b and len(files_a) > 30
    assert [f for f in files_a if (tmp_path / "a" / f).read_bytes() != (tmp_path / "b" / f).read_bytes()] == []


@pytest.mark.parametrize("text", ["{not json", '{"claims": {"hardware/fx100#tdp": {"last_checked": "2026-11-01"}}}',
                                  '{"claims": {"hardware/fx100#tdp": {"result": "match", "last_checked": "yesterday"}}}'])
def test_unreadable_verification_state_is_a_clear_error(cli, catalog_copy, tmp_path, text):
    root = catalog_copy({"verification.json": text})
    result = cli("site", "build", "--out", str(tmp_path / "s"), "--catalog", str(root))
    assert result.code == 1
    assert f"Error: {root / 'verification.json'}: cannot read the verification state" in result.err.replace("\n", "")
    assert "re-run it, or delete the file" in result.err.replace("\n", "") and "Traceback" not in result.err


def test_citations_link_the_archived_copy_and_document(catalog_copy, tmp_path):
    from mlsysim.site.build import build_site

    root = catalog_copy()
    sources = root / "sources.yaml"
    archive = "https://web.archive.org/web/20261121000000/https://fixture.invalid/datasheet.pdf"
    sources.write_text(sources.read_text().replace(
        "  url: https://fixture.invalid/datasheet.pdf\n",
        f"  url: https://fixture.invalid/datasheet.pdf\n  document_url: https://fixture.invalid/full.pdf\n  archive_url: {archive}\n",
    ))
    build_site(tmp_path / "site", root, today=TODAY)
    html = (tmp_path / "site" / "hardware" / "fx100.html").read_text()
    citation = re.findall(r'<h3 class="citation-source">(.*?)</h3>', html, re.S)[0]
    assert f'<a class="archive" href="{archive}" rel="external noopener noreferrer">archived copy</a>' in citation
    assert '<a class="archive" href="https://fixture.invalid/full.pdf" rel="external noopener noreferrer">document</a>' in citation
    assert f'href="{archive}"' in (tmp_path / "site" / "sources.html").read_text()
