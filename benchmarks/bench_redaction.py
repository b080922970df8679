"""Time ``redact_text`` on ten megabytes of each pathological input the unit test checks
(``tests/support/redaction_inputs.py``): linear rules take seconds, a backtracking one
would take minutes. Prints a markdown table; ``--quick`` uses a tenth of the size.

    .venv/bin/python benchmarks/bench_redaction.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "operator"))
sys.path.insert(0, str(ROOT))

from kubetriage.redaction import redact_text  # noqa: E402
from tests.support.redaction_inputs import PATHOLOGICAL  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tenth of each input")
    args = parser.parse_args()
    print("| input | chars | seconds |")
    print("| --- | ---: | ---: |")
    for name, (build, _) in PATHOLOGICAL.items():
        text = build()
        if args.quick:
            text = text[: len(text) // 10]
        started = time.perf_counter()
        redact_text(text)
        elapsed = time.perf_counter() - started
        print(f"| {name} | {len(text):,} | {elapsed:.2f} |")


if __name__ == "__main__":
    main()
