"""provenance/strategies/*: document, text_quote (HTML and PDF), json_path, arxiv_version."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlsysim.catalog.freshness import convert
from provenance.http import Fetched
from provenance.model import CheckPolicy, Plausible
from provenance.strategies import ClaimRef, arxiv_version, document, json_path, text_quote


def ref(claim: dict, **policy) -> ClaimRef:
    return ClaimRef(path="hardware/fx#memory.bandwidth", file=Path("x.yaml"), keys=("memory", "bandwidth"),
                    claim={"unit": "", **claim}, source_id="s", source={"type": "webpage", "url": "http://x"},
                    policy=CheckPolicy(**policy))


def fetched(body: bytes, content_type: str = "text/html; charset=utf-8", status: int = 200) -> Fetched:
    return Fetched("http://x", status=status, body=body, headers={"content-type": content_type})


def tiny_pdf(text: str) -> bytes:
    """A minimal one-page PDF showing `text` in Helvetica."""
    content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)


HTML = b"""<!doctype html><html><head><title>Spec</title><style>td{color:red}</style>
<script>var bw = "9,999 GB/sec";</script></head><body>
<table><tr><th>GPU&nbsp;Memory Bandwidth</th><td>3,350<span>GB/sec</span></td></tr>
<tr><th>TDP</th><td>700&#8201;W</td></tr></table></body></html>"""


# ---------------------------------------------------------------- document


def test_document_first_check_records_a_baseline() -> None:
    out = document.check(fetched(b"v1"), None)
    assert out.result == "match" and out.advance_baseline


def test_document_same_hash_matches_and_a_new_hash_is_changed() -> None:
    sha = fetched(b"v1").sha256
    assert document.check(fetched(b"v1"), sha).result == "match"
    out = document.check(fetched(b"v2"), sha)
    assert out.result == "changed" and "changed since it was last verified" in out.message and not out.advance_baseline


def test_document_304_matches() -> None:
    assert document.check(Fetched("http://x", status=304), "abc").result == "match"


# ---------------------------------------------------------------- text_quote


def test_html_text_drops_scripts_and_styles_and_decodes_entities() -> None:
    text = text_quote.document_text(fetched(HTML))
    assert "var bw" not in text and "color:red" not in text
    assert "GPU Memory Bandwidth" in text and "700 W" in text


def test_quote_found_across_tags_is_a_match() -> None:
    text = text_quote.document_text(fetched(HTML))
    out = text_quote.check(ref({"value": 3350, "as_stated": "GPU Memory Bandwidth 3,350 GB/sec"}), text)
    assert out.result == "match" and "3,350" in out.snippet


def test_a_changed_number_next_to_the_label_is_changed_with_a_proposal() -> None:
    text = text_quote.document_text(fetched(HTML.replace(b"3,350", b"3,400")))
    out = text_quote.check(ref({"value": 3350, "as_stated": "GPU Memory Bandwidth 3,350 GB/sec"}), text)
    assert out.result == "changed"
    assert out.proposal == {"value": 3400.0, "as_stated": "GPU Memory Bandwidth 3,400GB/sec"}
    assert "3,400" in out.snippet


TWO_SECTIONS = b"""<h2>H100 SXM</h2><p>Memory bandwidth 3,400 GB/s</p>
<h2>H100 PCIe</h2><p>Memory bandwidth 2,000 GB/s</p>"""


def test_the_locator_picks_among_several_changed_numbers() -> None:
    text = text_quote.document_text(fetched(TWO_SECTIONS))
    out = text_quote.check(ref({"value": 3350, "as_stated": "Memory bandwidth 3,350 GB/s", "locator": "H100 PCIe section"}), text)
    assert out.result == "changed" and out.proposal["value"] == 2000.0
    vague = text_quote.check(ref({"value": 3350, "as_stated": "Memory bandwidth 3,350 GB/s"}), text)
    assert vague.result == "changed" and "several places" in vague.message and not vague.proposal


def test_derived_claims_get_only_a_new_quote_proposed() -> None:
    text = text_quote.document_text(fetched(HTML.replace(b"3,350", b"3,400")))
    out = text_quote.check(ref({"value": 1675, "method": "derived", "as_stated": "GPU Memory Bandwidth 3,350 GB/sec"}), text)
    assert out.result == "changed" and list(out.proposal) == ["as_stated"]


def test_a_quote_that_is_gone_is_missing_with_the_nearest_words() -> None:
    text = text_quote.document_text(fetched(HTML))
    out = text_quote.check(ref({"value": 80, "as_stated": "HBM3 capacity 80 GB"}), text)
    assert out.result == "missing" and "not in the document" in out.message


def test_short_labels_never_claim_a_changed_number() -> None:
    """'700 W' is too little context to say that '16 W' elsewhere is the same figure."""
    text = text_quote.document_text(fetched(b"<p>idle 16 W</p>"))
    assert text_quote.check(ref({"value": 700, "as_stated": "700 W"}), text).result == "missing"


def test_pdf_text_is_extracted() -> None:
    pdf = tiny_pdf("Peak FP16 Tensor 1979 TFLOPS")
    text = text_quote.document_text(fetched(pdf, "application/pdf"))
    assert "1979 TFLOPS" in text
    assert text_quote.check(ref({"value": 1979, "as_stated": "FP16 Tensor 1979 TFLOPS"}), text).result == "match"


def test_a_broken_pdf_is_a_text_error() -> None:
    with pytest.raises(text_quote.TextError, match="PDF"):
        text_quote.document_text(fetched(b"%PDF-1.4\nnot really", "application/pdf"))


# ---------------------------------------------------------------- json_path


def live(claim: dict | None = None, **policy) -> ClaimRef:
    base = {"value": 400.0, "unit": "gCO2e/kWh", "valid_time": "2024"}
    return ref({**base, **(claim or {})}, strategy="json_path", **policy)


def test_json_value_in_another_unit_is_converted() -> None:
    doc = {"v": 0.35, "unit": "kg"}
    out = json_path.check(live(json_path="$.v"), doc, None, lambda v, a, b: convert(v, "kgCO2e/kWh", b), "http://x")
    # No connector: the response is taken to be in the claim's unit, so no conversion happens.
    assert out.result == "changed" and out.proposal == {"value": 0.35}
    assert convert(0.35, "kgCO2e/kWh", "gCO2e/kWh") == pytest.approx(350.0)


def test_json_within_tolerance_is_a_match() -> None:
    out = json_path.check(live(json_path="$.v", tolerance=0.01), {"v": 403}, None, convert, "http://x")
    assert out.result == "match" and out.observed == 403


def test_json_zero_matches_is_missing_not_no_change() -> None:
    out = json_path.check(live(json_path="$.rows[?(@.zone == 'DE')].v"), {"rows": [{"zone": "FR", "v": 1}]}, None, convert, "http://x")
    assert out.result == "missing" and "no value matches" in out.message


def test_json_two_matches_is_ambiguous() -> None:
    doc = {"rows": [{"zone": "DE", "v": 1}, {"zone": "DE", "v": 2}]}
    out = json_path.check(live(json_path="$.rows[?(@.zone == 'DE')].v"), doc, None, convert, "http://x")
    assert out.result == "missing" and "ambiguous" in out.message


def test_json_assert_guards_row_and_absolute_paths() -> None:
    doc = {"currency": "EUR", "rows": [{"zone": "DE", "v": 1, "unit": "g"}]}
    policy = {"json_path": "$.rows[0].v", "assert": {"zone": "DE", "$.currency": "USD", "unit": "g"}}
    out = json_path.check(live(**policy), doc, None, convert, "http://x")
    assert out.result == "changed" and "$.currency is 'EUR', expected 'USD'" in out.message and not out.proposal


def test_json_implausible_value_is_not_proposed_for_apply() -> None:
    out = json_path.check(live(json_path="$.v", plausible=Plausible(min=0, max=1000)), {"v": 25000}, None, convert, "http://x")
    assert out.result == "changed" and out.message.startswith("implausible") and not out.guarded and not out.proposal


def test_json_change_inside_the_guard_is_guarded() -> None:
    out = json_path.check(live(json_path="$.v", plausible=Plausible(min=0, max=1000)), {"v": 212}, None, convert, "http://x")
    assert out.result == "changed" and out.guarded and out.proposal == {"value": 212.0}


def test_json_non_number_is_missing() -> None:
    out = json_path.check(live(json_path="$.v"), {"v": None}, None, convert, "http://x")
    assert out.result == "missing" and "not a number" in out.message


def test_malformed_json_names_the_place() -> None:
    with pytest.raises(ValueError, match="malformed JSON at line 1 column 9"):
        json_path.parse(b'{"v": 1,,}')


# ---------------------------------------------------------------- arxiv_version

FEED = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><entry>
<id>http://arxiv.org/abs/2302.13971v%d</id><title>LLaMA</title></entry></feed>"""


def test_arxiv_same_version_matches() -> None:
    assert arxiv_version.check(fetched(FEED % 1, "application/atom+xml"), "2302.13971", "v1").result == "match"


def test_arxiv_newer_version_is_an_alert_never_an_edit() -> None:
    out = arxiv_version.check(fetched(FEED % 3, "application/atom+xml"), "2302.13971", "v1")
    assert out.result == "changed" and "v3" in out.message and not out.proposal


def test_arxiv_unknown_paper_is_missing() -> None:
    assert arxiv_version.check(fetched(b"<feed></feed>"), "2302.13971", "v1").result == "missing"


# ---------------------------------------------------------------- hostile documents


def test_a_page_of_unclosed_tags_is_read_in_linear_time() -> None:
    """`<a <a <a ...` (120 KB) took 186 s of CPU in html.parser; lxml reads it in milliseconds."""
    import time

    from hostile_servers import quadratic_html

    start = time.process_time()
    text = text_quote.html_text(quadratic_html(120_000))
    assert time.process_time() - start < 2.0 and text.strip() == ""
    start = time.process_time()
    text_quote.html_text(quadratic_html(3_000_000) + b"<p>Memory bandwidth 4TB/s</p>")
    assert time.process_time() - start < 5.0  # 25x the size, still linear


def test_markup_that_broke_html_parser_is_read() -> None:
    from hostile_servers import cdata_html

    assert text_quote.html_text(cdata_html() + b"<p>80 GB</p>") is not None
    assert "80 GB" in text_quote.html_text(b"<html><body><![<![<![ <p>80 GB</p></body></html>")


def test_html_text_keeps_what_a_reader_sees() -> None:
    html = ("<html><head><title>T</title><style>p{}</style></head><body><script>var x='80 GB';</script>"
            "<p>GPU&nbsp;Memory</p><td>80<span>GB</span></td><!-- 96 GB --><div>4&#8239;TB/s</div></body></html>")
    text = text_quote.normalise(text_quote.html_text(html))
    assert text == "GPU Memory 80GB 4 TB/s"


def test_deeply_nested_html_does_not_recurse() -> None:
    text = text_quote.html_text(b"<html><body>" + b"<div>" * 100_000 + b"deep" + b"</div>" * 100_000)
    assert isinstance(text, str)


def test_an_oversized_page_is_refused_not_parsed() -> None:
    with pytest.raises(text_quote.TextError, match="cap"):
        text_quote.html_text(b"<p>" + b"x" * (text_quote.MAX_HTML_BYTES + 1))


def test_a_pdf_bomb_is_a_text_error() -> None:
    """A content stream inflating past pypdf's decompression limit (75 MB) is refused, not inflated."""
    from hostile_servers import pdf_bomb

    with pytest.raises(text_quote.TextError, match="LimitReachedError"):
        text_quote.pdf_text(pdf_bomb(96 * 1024 * 1024))


def test_a_page_of_digits_is_searched_in_linear_time() -> None:
    import time

    r = ref({"value": 4, "as_stated": "4 TB/s memory bandwidth"})
    for text in ("1" * 1_000_000, "1.1" * 400_000):
        start = time.process_time()
        assert text_quote.check(r, text).result == "missing"
        assert time.process_time() - start < 5.0


def test_deeply_nested_json_is_refused() -> None:
    from hostile_servers import deep_json

    with pytest.raises(ValueError, match="nested more than 64 levels"):
        json_path.parse(deep_json(200_000))
    with pytest.raises(ValueError, match="nested more than 64 levels"):
        json_path.parse(b'{"a":' * 70 + b"1" + b"}" * 70)
    assert json_path.parse(b'{"a":' * 60 + b"1" + b"}" * 60)
