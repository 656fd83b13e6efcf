"""Every published measurement in the catalog against the solvers: the same tables as
`mlsysim validate`, for CI logs and cron. Always exits 0: the errors are a report,
not a gate.

    python scripts/validate.py [--catalog DIR] [--category C] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalog", default=None, help="catalog directory (default: the bundled one)")
    parser.add_argument("--category", default=None, help="training, latency, throughput, under_load or edge")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args()

    from mlsysim.catalog import default_catalog, load_catalog
    from mlsysim.cli.console import console
    from mlsysim.cli.validate_cmd import render
    from mlsysim.evaluate.validation import validate

    catalog = load_catalog(args.catalog) if args.catalog else default_catalog()
    report = validate(catalog, args.category)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        render(report, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
