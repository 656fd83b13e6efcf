"""The labs in a real browser: Debian's chromium, headless, driven by Playwright.

The roofline explorer is driven through its controls (selects, number inputs, the
keyboard on its sliders) and its numbers are read from the page and compared with
Engine.solve / ServingModel; the waterfall is switched between models and accelerators.
Both pages are checked for horizontal overflow at 390 and 1400 px and photographed to
artifacts/labs_*.png. As in test_site_browser, a missing chromium skips these tests on a
developer machine and fails them in CI.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from mlsysim.catalog import load_catalog
from site_helpers import build_bundled_site, chromium_browser
from test_labs import NUMBERS, _rel, _samples, python_result
from test_site_browser import ARTIFACTS, Problems

from mlsysim.site.labs.explorer import explorer_data
from mlsysim.site.labs.waterfall import waterfall

OUTPUTS = {  # explorer result -> element id
    "latency": "out-latency", "latency_compute": "out-compute", "latency_memory": "out-memory",
    "latency_overhead": "out-overhead", "flops": "out-flops", "bytes_moved": "out-bytes", "mfu": "out-mfu",
    "mbu": "out-mbu", "memory_usage": "out-memory-usage", "gemm_utilization": "out-gemm", "throughput": "out-throughput",
}


@pytest.fixture(scope="module")
def browser():
    yield from chromium_browser()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_bundled_site(tmp_path_factory, "labs")


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def _open(browser, site: Path, name: str, width: int = 1400):
    page = browser.new_page(viewport={"width": width, "height": 900})
    problems = Problems(page)
    page.goto((site / "labs" / f"{name}.html").as_uri())
    page.wait_for_selector(f"html[data-lab-ready={name}]", timeout=15000)
    return page, problems


def _value(page, ident: str) -> str:
    return page.get_attribute(f"#{ident}", "data-value")


def _set(page, s: dict) -> None:
    """Drive the explorer's controls to setting `s` (as a person would, one control at a time)."""
    page.select_option("#lab-hardware", s["hardware"])
    page.select_option("#lab-precision", s["precision"])
    page.select_option("#lab-model", s["model"])
    if page.is_enabled("#lab-phase"):
        page.select_option("#lab-phase", s["phase"])
        page.select_option("#lab-weight-precision", s["weight_precision"])
        page.select_option("#lab-kv-precision", s["kv_precision"])
    page.fill("#lab-batch", str(s["batch"]))
    if page.is_enabled("#lab-seq"):
        page.fill("#lab-seq", str(s["seq"]))


def test_explorer_numbers_equal_the_solvers(browser, site, catalog):
    """40 sampled settings (at least 20 of them Engine.solve: equal precisions, prefill; the
    rest ServingModel with separate weight / KV formats or a decode step), set through the
    page's controls, plus a CNN on an accelerator with a convolution efficiency of its own
    (ResNet-50 on the V100 at fp16); every number the page shows equals the solver's to 1e-9."""
    data = explorer_data(catalog)
    samples = _samples(data, random.Random(2026), 40)
    samples.append({"model": "resnet50", "hardware": "v100", "precision": "fp16", "batch": 256, "seq": 1,
                    "phase": "prefill", "weight_precision": "fp16", "kv_precision": "fp16"})
    page, problems = _open(browser, site, "roofline")
    engine = 0
    for s in samples:
        _set(page, s)
        py = python_result(catalog, s)
        for name in NUMBERS:
            shown = float(_value(page, OUTPUTS[name]))
            assert _rel(shown, py[name]) < 1e-9, (s, name, shown, py[name])
        assert _value(page, "out-feasible") == ("true" if py["feasible"] else "false")
        if "bottleneck" in py:
            engine += 1
            assert _value(page, "out-bottleneck") == py["bottleneck"]
            assert "Engine.solve(" in page.text_content("#lab-python")
        else:
            assert "ServingModel(" in page.text_content("#lab-python")
    assert engine >= 20
    assert not problems.seen, problems.seen
    page.close()


def test_explorer_responds_to_every_control(browser, site):
    page, problems = _open(browser, site, "roofline")

    def state():
        return (_value(page, "out-latency"), _value(page, "out-bytes"), page.get_attribute("#lab-point", "cx"),
                page.get_attribute("#lab-point", "cy"))

    page.select_option("#lab-model", "llama3_8b")
    page.select_option("#lab-hardware", "h100_sxm")
    page.fill("#lab-batch", "4")
    page.fill("#lab-seq", "256")
    changes = [
        lambda: page.select_option("#lab-hardware", "a100_sxm_80gb"),
        lambda: page.select_option("#lab-precision", "int8"),
        lambda: page.select_option("#lab-model", "llama3_1_70b"),
        lambda: page.select_option("#lab-phase", "decode"),
        lambda: page.fill("#lab-batch", "32"),
        lambda: page.fill("#lab-seq", "2048"),
        lambda: page.select_option("#lab-weight-precision", "int4"),
        lambda: page.select_option("#lab-kv-precision", "fp32"),
    ]
    for i, change in enumerate(changes):
        before = state()
        change()
        assert state() != before, f"control {i} changed nothing"
    # Keyboard: the sliders move the batch and the sequence length by powers of two.
    page.fill("#lab-batch", "8")
    before = state()
    page.focus("#lab-batch-range")
    page.keyboard.press("ArrowRight")
    assert page.input_value("#lab-batch") == "16" and state() != before
    page.focus("#lab-seq-range")
    page.keyboard.press("ArrowLeft")
    assert page.input_value("#lab-seq") == "1024"
    # Pins: a pinned point stays on the chart and in the list; clearing removes it.
    page.click("#lab-pin")
    assert page.locator("#lab-pins li").count() == 1 and page.locator("#lab-chart circle").count() == 2
    page.keyboard.press("Tab")
    page.focus("#lab-clear")
    page.keyboard.press("Enter")
    assert page.locator("#lab-pins li").count() == 0
    # A per-inference model disables what does not apply to it.
    page.select_option("#lab-model", "resnet50")
    assert not page.is_enabled("#lab-seq") and not page.is_enabled("#lab-weight-precision")
    assert "FLOP count per inference" in page.text_content("#lab-model-note")
    assert not problems.seen, problems.seen
    page.close()


def test_waterfall_switches_model_and_hardware(browser, site, catalog):
    page, problems = _open(browser, site, "waterfall")

    def shown():
        return {row.get_attribute("data-step"): row.get_attribute("data-expressible")
                for row in page.locator("#wf-body tr").all()}, page.get_attribute("#wf-body tr[data-step=baseline] td.step-value", "data-value")

    def check(model_id: str, hw_id: str) -> None:
        steps = waterfall(catalog.get("models", model_id), catalog.get("hardware", hw_id))
        for step in steps:
            row = page.locator(f"#wf-body tr[data-step={step.key}]")
            assert row.get_attribute("data-expressible") == ("true" if step.expressible else "false")
            if step.expressible:
                value = float(row.locator("td.step-value").get_attribute("data-value"))
                assert _rel(value, step.tokens_per_second) < 1e-12
            else:
                assert "not expressible" in row.text_content()
        assert page.locator("#wf-chart rect[data-step]").count() == sum(s.expressible for s in steps)

    assert page.input_value("#wf-model") == "llama3_8b" and page.input_value("#wf-hardware") == "h100_sxm"
    check("llama3_8b", "h100_sxm")
    first = shown()
    page.select_option("#wf-model", "mixtral_8x7b")
    page.wait_for_function("document.getElementById('wf-status').textContent.includes('Mixtral')")
    page.select_option("#wf-hardware", "h200")
    page.wait_for_function("document.getElementById('wf-status').textContent.includes('H200')")
    check("mixtral_8x7b", "h200")
    assert shown() != first
    before = page.get_attribute("#wf-chart", "aria-label")
    page.select_option("#wf-metric", "request_latency")
    assert page.get_attribute("#wf-chart", "aria-label") != before and "request latency" in page.get_attribute("#wf-chart", "aria-label")
    assert not problems.seen, problems.seen
    page.close()


@pytest.mark.parametrize("name", ["roofline", "waterfall"])
@pytest.mark.parametrize("width", [390, 1400])
def test_labs_do_not_overflow_and_are_photographed(browser, site, name, width):
    page, problems = _open(browser, site, name, width)
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{name} at {width} px is {scroll} px wide"
    wide = page.evaluate("""(w) => Array.from(document.querySelectorAll('main *')).filter(e => {
        const r = e.getBoundingClientRect(); return r.width > 0 && r.right > w + 1 && !e.closest('.table-wrap');
      }).map(e => e.tagName + '#' + e.id).slice(0, 5)""", width)
    assert not wide, wide
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"labs_{name}_{width}.png"), full_page=True)
    assert not problems.seen, problems.seen
    page.close()
