"""Where the repository's incident cases live (nothing is read from outside the repository).

- ``EXAMPLES``: the three example cases of the shared case format, copied in.
- ``TRAIN``: the public case set the analyzers may be developed against.
- ``HOLDOUT``: cases written before analyzer changes and never tuned on (scored, not read).
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / "tests" / "cases"
EXAMPLES = CASES / "examples"
TRAIN = CASES / "train"
HOLDOUT = CASES / "holdout"


def case_dirs(root: Path) -> list[Path]:
    """The case directories of a set, sorted by name."""
    return sorted(p.parent for p in root.glob("*/case.yaml"))
