"""First-party measurements: the report scripts/measure_gpu.py wrote on one NVIDIA H200
(catalog/reports/measure_gpu_h200_2026-12-04.json, script commit 832b55d), the records that
cite it, and sources that are files in the catalog (loader, freshness checker, site).

Figures in that report (medians, CUDA events): BF16 8192^3 GEMM 796.91 TFLOP/s, FP8 1408.88;
1 x 8192 x 8192 BF16 GEMV 2.627 TFLOP/s; 2 GiB copy 4.2419 TB/s; causal SDPA prefill (8 x 32 x
4096 x 128) 612.57 TFLOP/s; 6.983 us per tiny eager operator; the Llama-3-8B-shaped decoder's
512-token prefill 12.726 ms, eager decode 7.975 ms/token, CUDA-graph decode step 5.115 ms
(batch 1) and 1462.8 / 5396.8 / 9446.9 tokens/s (batch 8 / 32 / 64); transformers'
LlamaForCausalLM prefill 34.09 ms and decode step 60.02 ms; ResNet-50 FP16 batch 1 4.145 ms
eager and 1.019 ms as a CUDA graph, 8887.6 (batch 32) and 10986.7 images/s (batch 256) as a
CUDA graph, 10747.7 images/s eager at batch 256.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest

from mlsysim.catalog import check, load_catalog
from tests.conftest import assert_quoted_and_recomputed, load_script, values_citing

REPO = Path(__file__).resolve().parent.parent
SOURCE = "mlsysim-measure-gpu-h200-2026-12-04"
REPORT = REPO / "catalog" / "reports" / "measure_gpu_h200_2026-12-04.json"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(REPO / "catalog")


@pytest.fixture(scope="module")
def report() -> dict:
    return json.loads(REPORT.read_text())


def _gemm(report: dict, precision: str, m: int) -> float:
    return next(r["tflops"] for r in report["gemm"] if r["precision"] == precision and r["m"] == m and r["k"] == 8192)


def expected_si(report: dict) -> dict[str, float]:
    """Each citing value in SI, recomputed from the report (percents as fractions)."""
    llama, hf, resnet = report["llama"], report["llama_hf"], {r["batch"]: r for r in report["resnet"]}
    graph = {g["batch"]: g for g in llama["decode_graph"]}
    h200_bf16, h200_fp8, h200_bw = 989e12, 1978e12, 4.80e12
    out = {
        "assumptions/gemm_efficiency_h200_16bit_square_8192": _gemm(report, "bf16", 8192) * 1e12 / h200_bf16,
        "assumptions/gemm_efficiency_h200_fp8_square_8192": _gemm(report, "fp8", 8192) * 1e12 / h200_fp8,
        "assumptions/memory_efficiency_h200_torch_copy": report["bandwidth"]["bytes_per_s"] / h200_bw,
        "assumptions/attention_prefill_efficiency_h200_sdpa": next(
            r["tflops"] for r in report["attention"] if r["phase"] == "prefill" and r["batch"] == 8) * 1e12 / h200_bf16,
        "assumptions/framework_op_overhead_pytorch_eager_h200_host": report["launch"]["per_launch_s"],
        "measurements/mlsysim_h200_llama3_8b_bf16_prefill512_ttft": llama["prefill"]["median_s"],
        "measurements/mlsysim_h200_llama3_8b_bf16_decode_b1_graph_itl": graph[1]["median_s"],
        "measurements/mlsysim_h200_llama3_8b_bf16_decode_b1_eager_itl": llama["decode_per_token_s"],
        "measurements/mlsysim_h200_llama3_8b_bf16_transformers_prefill512_ttft": hf["prefill"]["median_s"],
        "measurements/mlsysim_h200_llama3_8b_bf16_transformers_decode_itl": hf["decode_step"]["median_s"],
        "measurements/mlsysim_h200_resnet50_fp16_b1_eager_latency": resnet[1]["median_s"],
        "measurements/mlsysim_h200_resnet50_fp16_b1_graph_latency": resnet[1]["graph"]["median_s"],
        "measurements/mlsysim_h200_resnet50_fp16_b256_eager_samples_per_s": resnet[256]["images_per_s"],
    }
    for b in (8, 32, 64):
        out[f"measurements/mlsysim_h200_llama3_8b_bf16_decode_b{b}_graph_tokens_per_s"] = graph[b]["tokens_per_s"]
    for b in (32, 256):
        out[f"measurements/mlsysim_h200_resnet50_fp16_b{b}_graph_samples_per_s"] = resnet[b]["graph"]["images_per_s"]
    return out


def citing(catalog) -> dict[str, tuple[float, dict]]:
    """Record path -> (SI value, claim) of every value that cites the report."""
    return values_citing(catalog, SOURCE)


def test_the_report_is_whole_and_says_where_it_ran(report) -> None:
    """The report passes the script's own shape check and records the commit and the GPU."""
    assert load_script("measure_gpu").check_report(report) == []
    assert report["commit"] == "832b55d38afa7665ffaa435261f138dda1383bad" and not report["quick"]
    assert report["device"]["name"] == "NVIDIA H200" and report["device"]["torch"] == "2.11.0+cu130"
    assert report["skipped"] == {}
    # The same run's nvidia-smi query and lscpu lines, which the source's note quotes.
    smi = REPORT.with_name("measure_gpu_h200_2026-12-04.nvidia_smi.csv").read_text()
    assert "NVIDIA H200, 580.159.04, 700.00 W, 1980 MHz" in smi
    assert "CPU(s):                                  16" in REPORT.with_name("measure_gpu_h200_2026-12-04.lscpu.txt").read_text()


def test_every_value_citing_the_report_is_in_it(catalog, report) -> None:
    """Each citing value is the report's figure (recomputed here, module docstring), quoted verbatim."""
    found = citing(catalog)
    assert_quoted_and_recomputed(found, expected_si(report), REPORT.read_text())
    for path, (_, claim) in found.items():
        number = float(re.search(r":\s*([-0-9.e+]+)", claim["as_stated"]).group(1))
        assert any(number == pytest.approx(v, rel=1e-12) for v in _numbers(report)), path


def _numbers(node) -> list[float]:
    if isinstance(node, dict):
        return [x for v in node.values() for x in _numbers(v)]
    if isinstance(node, list):
        return [x for v in node for x in _numbers(v)]
    return [float(node)] if isinstance(node, (int, float)) and not isinstance(node, bool) else []


def test_eager_transformer_rows_are_not_expressible_and_the_rest_are_priced(catalog) -> None:
    """ServingModel has no per-operator host term, so the eager rows of a transformer say so
    rather than being priced as if the host kept ahead; every other first-party row is priced."""
    from mlsysim.evaluate.validation import validate

    rows = {r.id: r for r in validate(catalog).results if r.id.startswith("mlsysim_h200_")}
    eager_llm = {"mlsysim_h200_llama3_8b_bf16_decode_b1_eager_itl", "mlsysim_h200_llama3_8b_bf16_transformers_prefill512_ttft",
                 "mlsysim_h200_llama3_8b_bf16_transformers_decode_itl", "mlsysim_h200_llama3_8b_bf16_prefill512_ttft"}
    assert len(rows) == 18
    for row_id, row in rows.items():
        if row_id in eager_llm:
            assert row.predicted is None and "single-pass models only" in row.reason, row_id
        else:
            assert row.predicted is not None and row.predicted > 0, row_id


# ------------------------------------------------------------------ sources that are catalog files

REPORT_SOURCE = """fixture-report:
  title: Fixture measurement report
  publisher: Fixture project
  type: dataset
  path: reports/run.json
"""


def _with_report_source(catalog_copy, source: str = REPORT_SOURCE, report: str | None = '{"x": 1}') -> Path:
    from tests.conftest import FIXTURE_CATALOG

    changes = {"sources.yaml": (FIXTURE_CATALOG / "sources.yaml").read_text() + source}
    if report is not None:
        changes["reports/run.json"] = report
    return catalog_copy(changes)


def test_a_source_may_be_a_file_in_the_catalog(catalog_copy) -> None:
    _, problems = check(_with_report_source(catalog_copy))
    assert problems == []


def test_a_missing_source_file_is_reported_where_it_is_named(catalog_copy) -> None:
    root = _with_report_source(catalog_copy, report=None)
    line = (root / "sources.yaml").read_text().splitlines().index("  path: reports/run.json") + 1
    _, problems = check(root)
    assert [str(p) for p in problems] == [
        f"sources.yaml:{line}:9: fixture-report.path: no file reports/run.json in the catalog; the path is relative "
        "to the catalog's root (the folder holding sources.yaml)"]


def test_a_source_file_removed_or_restored_after_a_cached_check_is_noticed(catalog_copy) -> None:
    """The cached verdict on sources.yaml depends on the files its sources name, not only on
    its own bytes."""
    root = _with_report_source(catalog_copy)
    assert check(root)[1] == []
    (root / "reports" / "run.json").unlink()
    assert [p.field for p in check(root)[1]] == ["fixture-report.path"]
    (root / "reports" / "run.json").write_text("{}")
    assert check(root)[1] == []


@pytest.mark.parametrize("path, message", [
    (None, "a source needs a url, or, for a file in the catalog, a path"),
    ("../outside.json", "fixture-report.path"),
    ("/etc/passwd", "fixture-report.path"),
])
def test_a_source_needs_a_url_or_a_path_inside_the_catalog(catalog_copy, path, message) -> None:
    source = REPORT_SOURCE.replace("  path: reports/run.json\n", "" if path is None else f"  path: {path}\n")
    _, problems = check(_with_report_source(catalog_copy, source))
    assert len(problems) == 1 and message in str(problems[0])


def test_the_freshness_check_reads_a_catalog_file_and_notices_a_change(tmp_path) -> None:
    """Claims citing a file in the catalog are checked against its bytes (no network): a first
    run matches, an edit of the file is `changed`."""
    from mlsysim.catalog.freshness import claim_refs, convert, validator
    from provenance.checker import Checker, Options
    from provenance.http import Fetcher, HttpPolicy

    root = tmp_path / "catalog"
    shutil.copytree(REPO / "catalog", root)

    def run() -> dict:
        with Fetcher(HttpPolicy(allow_addresses=frozenset({"127.0.0.1"}))) as fetcher:
            checker = Checker(root, claim_refs(load_catalog(root)), fetcher=fetcher, convert=convert,
                              validate=validator(root), options=Options(today=dt.date(2026, 12, 4), only=SOURCE),
                              environ={})
            return checker.run()

    first = run()
    assert first["planned"] == 18 and first["counts"] == {"match": 18} and not first["needs_attention"]
    report = root / "reports" / "measure_gpu_h200_2026-12-04.json"
    report.write_text(report.read_text().replace('"iters": 20', '"iters": 21', 1))
    second = run()
    assert second["counts"].get("changed") == 18 and second["needs_attention"]


def test_the_site_serves_the_file_and_links_it(catalog_copy, tmp_path) -> None:
    from mlsysim.site.build import build_site

    root = _with_report_source(catalog_copy)
    out = tmp_path / "site"
    build_site(out, root, today=dt.date(2026, 12, 4))
    assert (out / "files" / "reports" / "run.json").read_text() == '{"x": 1}'
    page = (out / "sources" / "fixture-report.html").read_text()
    assert '<a href="../files/reports/run.json">reports/run.json</a> (in the catalog)' in page
    assert 'href="files/reports/run.json"' in (out / "sources.html").read_text()


def test_no_figure_of_the_first_run_feeds_a_solver(catalog) -> None:
    """The first report's kernel figures check the cited efficiencies; they must not replace
    them (its end-to-end rows are judged against predictions made without it)."""
    from mlsysim.solvers.kernel_efficiency import _scoped_efficiencies

    first_party = {path.split("/")[1] for path in citing(catalog) if path.startswith("assumptions/")}
    assert len(first_party) == 5
    used = {value.path.split("#")[0].split("/")[1] for value in _scoped_efficiencies(catalog).values()}
    assert not first_party & used
    for ident in first_party:
        assert "kernel" not in catalog.get("assumptions", ident).quantity.qualifiers


def test_show_and_the_mcp_card_name_the_catalog_file(cli, catalog) -> None:
    """`mlsysim show -o json` and the agents' citation card give the file in place of a URL."""
    from mlsysim.agent.citations import citation

    rows = json.loads(cli("show", "memory_efficiency_h200_torch_copy", "-o", "json", "--catalog", str(REPO / "catalog")).out)
    assert (rows[0]["url"], rows[0]["source_file"]) == ("", "reports/measure_gpu_h200_2026-12-04.json")
    card = citation(catalog.get("assumptions", "memory_efficiency_h200_torch_copy").values()[0])
    assert card["url"] is None and card["source_file"] == "reports/measure_gpu_h200_2026-12-04.json"
