"""Generated records survive YAML dump -> load -> validate with every value intact."""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlsysim.catalog import load_catalog
from mlsysim.catalog.units import to_canonical
from provenance.yamlio import round_trip_yaml
from tests.conftest import FIXTURE_CATALOG

positive = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)
text = st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=40).filter(lambda s: s.strip() == s and s)


def claim(value, unit, **extra):
    return {"value": value, "unit": unit, "source": "fixture-datasheet", **extra}


hardware = st.fixed_dictionaries(
    {
        "id": st.just("generated"),
        "name": text,
        "aliases": st.lists(st.from_regex(r"[A-Z][A-Za-z0-9_]{2,12}", fullmatch=True), max_size=2, unique=True),
        "tier": st.just("cloud"),
        "vendor": text,
        "release_year": st.integers(1990, 2030),
        "compute": st.dictionaries(
            st.sampled_from(["fp16", "bf16", "fp8", "int8"]),
            st.builds(lambda v, u, loc: claim(v, u, locator=loc, qualifiers={"sparsity": "dense"}), positive, st.sampled_from(["TFLOP/s", "TOPS", "PFLOP/s", "GFLOPS"]), text),
            min_size=1,
        ),
        "memory": st.fixed_dictionaries(
            {
                "capacity": st.builds(claim, positive, st.sampled_from(["GB", "GiB", "MB", "kB", "TB"])),
                "bandwidth": st.builds(lambda v, u, s: claim(v, u, as_stated=s), positive, st.sampled_from(["TB/s", "GB/s", "GiB/s", "Gbit/s"]), text),
            }
        ),
        "tdp": st.builds(claim, positive, st.sampled_from(["W", "kW"])),
    }
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(record=hardware)
def test_generated_hardware_round_trips(record):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "catalog"
        shutil.copytree(FIXTURE_CATALOG, root)
        buffer = io.StringIO()
        round_trip_yaml().dump(record, buffer)
        (root / "hardware" / "cloud" / "generated.yaml").write_text(buffer.getvalue(), encoding="utf-8")
        loaded = load_catalog(root).get("hardware", "generated")
    assert loaded.name == record["name"] and loaded.vendor == record["vendor"]
    assert loaded.aliases == record["aliases"]
    for precision, expected in record["compute"].items():
        value = loaded.field(f"compute.{precision}")
        assert (value.value, value.unit, value.locator) == (expected["value"], expected["unit"], expected["locator"])
        assert value.si == to_canonical(expected["value"], expected["unit"], "compute_rate")
    bw = loaded.memory.bandwidth
    assert bw.as_stated == record["memory"]["bandwidth"]["as_stated"]
    assert bw.si == to_canonical(bw.value, bw.unit, "bandwidth")
    assert loaded.memory.capacity.value == record["memory"]["capacity"]["value"]
