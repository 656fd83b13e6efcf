"""provenance/editor.py: only the changed scalars differ; nothing is written unless valid."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provenance.editor import EditError, edit_text, write_edits
from provenance.yamlio import round_trip_yaml

REPO = Path(__file__).resolve().parent.parent
CATALOG_FILES = sorted((REPO / "catalog").rglob("*.yaml"))

SAMPLE = """\
# a comment that must survive
id: fx
compute:
  fp16: {value: 1000, unit: TFLOP/s, source: ds, locator: "spec table, FP16", as_stated: '1,000 TFLOPS'}   # trailing
memory:
  bandwidth:
    value: 3.35
    unit: TB/s
    note: >-
      folded text
      over lines
list: [1, 2.5, "three"]
"""


def scalar_paths(data, prefix=()):
    """Every (key path, value) of a scalar in plain loaded YAML."""
    if isinstance(data, dict):
        for k, v in data.items():
            yield from scalar_paths(v, (*prefix, str(k)))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from scalar_paths(v, (*prefix, i))
    elif isinstance(data, (int, float, str)) and not isinstance(data, bool):
        yield prefix, data


def test_unchanged_values_leave_the_text_byte_identical() -> None:
    assert edit_text(SAMPLE, {("compute", "fp16", "value"): 1000.0, ("memory", "bandwidth", "value"): 3.35}) == SAMPLE


def test_only_the_changed_scalar_differs() -> None:
    out = edit_text(SAMPLE, {("compute", "fp16", "value"): 989.5})
    assert out == SAMPLE.replace("{value: 1000,", "{value: 989.5,")


def test_quote_style_is_kept() -> None:
    out = edit_text(SAMPLE, {("compute", "fp16", "as_stated"): "989.5 TFLOPS", ("compute", "fp16", "locator"): 'spec "table"'})
    assert "as_stated: '989.5 TFLOPS'" in out and 'locator: "spec \\"table\\""' in out
    assert out.startswith("# a comment that must survive\n") and "# trailing" in out


def test_a_string_that_would_read_as_a_date_is_quoted() -> None:
    out = edit_text("valid_time: 2026\n", {("valid_time",): "2026-09-16"})
    assert out == 'valid_time: "2026-09-16"\n'
    assert round_trip_yaml().load(out)["valid_time"] == "2026-09-16"


def test_block_scalars_and_missing_keys_are_refused() -> None:
    with pytest.raises(EditError, match="block scalar"):
        edit_text(SAMPLE, {("memory", "bandwidth", "note"): "x"})
    with pytest.raises(EditError, match="not in the file"):
        edit_text(SAMPLE, {("memory", "capacity", "value"): 1})
    with pytest.raises(EditError, match="non-finite"):
        edit_text(SAMPLE, {("compute", "fp16", "value"): math.inf})


def test_write_edits_validates_before_replacing(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("value: 1\n")
    b.write_text("value: 2\n")
    with pytest.raises(EditError, match="would not load"):
        write_edits({a: {("value",): 10}, b: {("value",): 20}}, validate=lambda staged: ["b.yaml:1:8: value: too big"])
    assert a.read_text() == "value: 1\n" and b.read_text() == "value: 2\n"
    seen = {}
    changed = write_edits({a: {("value",): 10}, b: {("value",): 2}}, validate=lambda staged: seen.update(staged) or [])
    assert changed == [a] and list(seen) == [a]  # b had nothing to change: not staged, not rewritten
    assert a.read_text() == "value: 10\n" and b.read_text() == "value: 2\n"


def test_a_failure_between_replacements_leaves_every_file_whole(tmp_path: Path) -> None:
    files = [tmp_path / f"f{i}.yaml" for i in range(3)]
    for i, f in enumerate(files):
        f.write_text(f"# file {i}\nvalue: {i}\n")
    calls = []

    def crash_on_second(path: Path) -> None:
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the run is killed between two writes

    with pytest.raises(KeyboardInterrupt):
        write_edits({f: {("value",): 100 + i} for i, f in enumerate(files)}, before_replace=crash_on_second)
    texts = [f.read_text() for f in files]
    assert texts[0] == "# file 0\nvalue: 100\n" and texts[1] == "# file 1\nvalue: 1\n" and texts[2] == "# file 2\nvalue: 2\n"
    assert not list(tmp_path.glob(".*.tmp"))


numbers = st.one_of(
    st.integers(min_value=-10**12, max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=64).filter(lambda x: abs(x) < 1e300),
)
texts = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=0, max_size=40)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_editing_any_scalar_changes_no_other_byte(data: st.DataObject) -> None:
    """Property: for any catalog file, any scalar and any new value of its kind, the text
    outside the scalar is byte-identical, and the file reads back with only that value changed."""
    path = data.draw(st.sampled_from(CATALOG_FILES))
    text = path.read_text(encoding="utf-8")
    yaml = round_trip_yaml()
    root = yaml.compose(text)
    loaded = yaml.load(text)
    candidates = [(k, v) for k, v in scalar_paths(loaded) if k and _style(root, k) not in ("|", ">")]
    keys, old = data.draw(st.sampled_from(candidates))
    new = data.draw(numbers if isinstance(old, (int, float)) else texts)
    out = edit_text(text, {keys: new}, str(path))
    node = _node(root, keys)
    start, end = node.start_mark.index, node.end_mark.index
    assert out[:start] == text[:start]
    assert out[len(out) - (len(text) - end):] == text[end:]
    reread = yaml.load(out)
    for k, v in scalar_paths(loaded):
        got = _get(reread, k)
        if k == keys:
            assert got == new or (isinstance(new, float) and float(got) == new)
        else:
            assert got == v


def _node(root, keys):
    node = root
    for key in keys:
        node = node.value[key] if isinstance(key, int) else next(v for k, v in node.value if k.value == key)
    return node


def _style(root, keys):
    return getattr(_node(root, keys), "style", None)


def _get(data, keys):
    for key in keys:
        data = data[key]
    return data
