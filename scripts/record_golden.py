"""Record the golden outputs of the quick-start calls on the frozen test catalog.

    python scripts/record_golden.py            # rewrite tests/golden.json
    python scripts/record_golden.py --check    # exit 1 and list what moved

tests/test_golden.py compares today's results with tests/golden.json; when a physics
change moves a number on purpose, run this, read the diff, and commit both together.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.golden_calls import FROZEN_CATALOG, golden_outputs  # noqa: E402

GOLDEN = ROOT / "tests" / "golden.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with tests/golden.json instead of writing it")
    args = parser.parse_args()
    outputs = golden_outputs(FROZEN_CATALOG)
    if args.check:
        recorded = json.loads(GOLDEN.read_text(encoding="utf-8"))
        moved = {k: (recorded.get(k), v) for k, v in outputs.items() if recorded.get(k) != v}
        for key, (old, new) in sorted(moved.items()):
            print(f"{key}: {old} -> {new}")
        return 1 if moved else 0
    GOLDEN.write_text(json.dumps(outputs, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {len(outputs)} golden values to {GOLDEN.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
