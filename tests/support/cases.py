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


def case_id(path: Path) -> str:
    """A test id for a case directory: the case's name for the cases one may read, an opaque
    ``holdout-<n>`` (its place in the sorted set) for a holdout case, so test output (ids,
    durations) never shows what a holdout case is about."""
    if path.parent != HOLDOUT:
        return path.name
    return f"holdout-{case_dirs(HOLDOUT).index(path)}"
