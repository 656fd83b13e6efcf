"""mlsysim/cli: every command through the real entry point, exit codes and messages pinned."""

from __future__ import annotations

import json
import subprocess
import sys

from mlsysim import __version__

HW = "hardware/cloud/fx100.yaml"


def test_version(cli):
    result = cli("--version")
    assert (result.code, result.out.strip()) == (0, f"mlsysim {__version__}")


def test_validate_ok(cli, fixture_catalog):
    result = cli("catalog", "validate", "--catalog", str(fixture_catalog))
    assert result.code == 0
    assert "10 records, 30 cited values, 3 sources — valid" in result.out


def test_validate_lists_every_problem_and_exits_1(cli, catalog_copy):
    from tests.conftest import FIXTURE_CATALOG

    text = (FIXTURE_CATALOG / HW).read_text().replace("tdp: {value: 700,", "tdp: {value: -700,").replace("bandwidth:", "bandwith:")
    root = catalog_copy({HW: text})
    result = cli("catalog", "validate", str(root))
    assert result.code == 1
    assert f"{HW}:20:3: memory.bandwith: unknown field 'bandwith'; did you mean 'bandwidth'?" in result.out
    assert f"{HW}:21:14: tdp.value: must be positive, got -700" in result.out
    assert "Error: 2 problems found" in result.err
    assert "Traceback" not in result.out + result.err


def test_validate_one_file_reports_only_that_file(cli, catalog_copy):
    from tests.conftest import FIXTURE_CATALOG

    root = catalog_copy({HW: (FIXTURE_CATALOG / HW).read_text().replace("tdp: {value: 700,", "tdp: {value: -700,")})
    assert cli("catalog", "validate", str(root / "grids" / "fixture_grid.yaml")).code == 0
    assert cli("catalog", "validate", str(root / HW)).code == 1


def test_validate_missing_path(cli, tmp_path):
    result = cli("catalog", "validate", str(tmp_path / "nope"))
    assert result.code == 1
    assert "no such file or directory" in result.err


def test_schema_export(cli, tmp_path):
    result = cli("catalog", "schema", "--kind", "hardware")
    schema = json.loads(result.out)
    assert result.code == 0 and schema["title"] == "mlsysim hardware record"
    assert "compute" in schema["properties"] and schema["additionalProperties"] is False
    result = cli("catalog", "schema", "-o", str(tmp_path / "schemas"))
    assert result.code == 0
    assert (tmp_path / "schemas" / "sources.schema.json").is_file()
    assert (tmp_path / "schemas" / "clusters.schema.json").is_file()
    bad = cli("catalog", "schema", "--kind", "gadgets")
    assert bad.code == 1 and "unknown kind 'gadgets'" in bad.err


def test_zoo_tables(cli, fixture_catalog):
    for kind, expected in [("hardware", "FX100"), ("models", "FixtureLM"), ("grids", "FixtureGrid"), ("infra", "FixtureDC"), ("systems", "Fixture_64"), ("assumptions", "FixtureMTTF")]:
        result = cli("zoo", kind, "--catalog", str(fixture_catalog))
        assert result.code == 0, result.err
        assert expected in result.out


def test_zoo_unknown_kind_is_bad_input(cli):
    result = cli("zoo", "gadgets")
    assert result.code == 1
    assert "gadgets" in result.err


def test_show_every_value_with_source(cli, fixture_catalog):
    result = cli("show", "fx100", "--catalog", str(fixture_catalog))
    assert result.code == 0
    assert "memory.bandwidth = 4 TB/s   [stated]" in result.out
    assert "source: Fixture Accelerator Datasheet (fixture-datasheet), spec table, FP16" in result.out
    assert "derived: sparse / 2 from hardware/fx100#compute_sparse.fp8" in result.out


def test_show_unknown_name_suggests(cli, fixture_catalog):
    result = cli("show", "FX1000", "--catalog", str(fixture_catalog))
    assert result.code == 1
    assert "Error: no record named 'FX1000'; closest: FX100" in result.err


def test_provenance_map_json(cli, fixture_catalog):
    result = cli("provenance", "map", "-o", "json", "--catalog", str(fixture_catalog))
    entries = json.loads(result.out)
    assert result.code == 0 and len(entries) == 30
    assert entries == sorted(entries, key=lambda e: e["path"])
    assert {"path", "value", "unit", "si_value", "claim", "source"} <= set(entries[0])


def test_invalid_catalog_is_an_error_not_a_traceback(cli, catalog_copy):
    root = catalog_copy({HW: "id: fx100\n"})
    result = cli("zoo", "hardware", "--catalog", str(root))
    assert result.code == 1
    said, error = result.err.split("\n", 1)
    assert said == f"catalog: {root} (given with --catalog)"
    assert error.startswith("Error:") and "problems in the catalog" in error
    assert "Traceback" not in result.err


def test_console_script_without_traceback(tmp_path):
    """The installed entry point itself: bad input, exit 1, no traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "mlsysim", "show", "no-such-thing"],
        capture_output=True, text=True, cwd=tmp_path, env={"MLSYSIM_CACHE_DIR": str(tmp_path / "c"), "PATH": ""},
    )
    assert proc.returncode == 1
    assert "Error: no record named 'no-such-thing'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_zoo_scenarios_on_the_real_catalog(cli):
    result = cli("zoo", "scenarios")
    assert result.code == 0, result.err
    assert "scenarios (3)" in result.out and "inference" in result.out and "training" in result.out


def test_catalog_text_is_printed_as_written_not_as_markup(cli, catalog_copy):
    """Rich would swallow "[kW]" or "[bold]" as markup; catalog text is data."""
    from tests.conftest import FIXTURE_CATALOG

    rack = (FIXTURE_CATALOG / "infra/racks/fixture_rack.yaml").read_text().replace("name: Fixture Rack", "name: Rack [bold] [kW]")
    root = catalog_copy({"infra/racks/fixture_rack.yaml": rack})
    shown = cli("show", "FixtureRack", "--catalog", str(root))
    assert shown.code == 0 and "Rack [bold] [kW]" in shown.out
    zoo = cli("zoo", "infra", "--catalog", str(root))
    assert zoo.code == 0 and "Power" in zoo.out and "[kW]" in zoo.out  # unit on the header's second line


def test_zoo_and_show_print_json_and_csv_for_machines(cli, fixture_catalog):
    import csv
    import io
    import json

    rows = json.loads(cli("zoo", "hardware", "-o", "json", "--catalog", str(fixture_catalog)).out)
    assert rows[0]["id"] == "fx100" and rows[0]["Bandwidth [GB/s]"] == 4000
    table = list(csv.DictReader(io.StringIO(cli("zoo", "hardware", "-o", "csv", "--catalog", str(fixture_catalog)).out)))
    assert table[0]["id"] == "fx100" and float(table[0]["Bandwidth [GB/s]"]) == 4000
    values = json.loads(cli("show", "fx100", "-o", "json", "--catalog", str(fixture_catalog)).out)
    bandwidth = next(v for v in values if v["path"] == "hardware/fx100#memory.bandwidth")
    assert bandwidth["si_value"] == 4e12 and bandwidth["source_id"] == "fixture-datasheet"


def test_zoo_understands_what_people_call_things(cli, fixture_catalog):
    assert cli("zoo", "gpus", "--catalog", str(fixture_catalog)).code == 0
    wrong = cli("zoo", "gpuz", "--catalog", str(fixture_catalog))
    assert wrong.code == 1 and "no zoo named 'gpuz'; choose one of hardware, models" in wrong.err


def test_numbers_are_never_cut_in_a_narrow_terminal(cli, monkeypatch):
    """`COLUMNS=80 mlsysim zoo hardware` showed the B200's TDP as `10…`; a number is printed whole."""
    from mlsysim.cli import console as consoles

    monkeypatch.setattr(consoles.console, "_width", 80)
    out = cli("zoo", "hardware").out
    assert "…" not in out and "21,000,000" in out


def test_search_finds_records_by_name_vendor_or_family(cli, fixture_catalog):
    found = cli("search", "fx", "--catalog", str(fixture_catalog))
    assert found.code == 0 and "fx100" in found.out
    by_vendor = cli("search", "fixture corp", "-o", "json", "--catalog", str(fixture_catalog))
    import json

    assert [row["id"] for row in json.loads(by_vendor.out)] == ["fx100"]
    none = cli("search", "zzzz-nothing", "--catalog", str(fixture_catalog))
    assert none.code == 1 and "nothing in the catalog matches" in none.err
