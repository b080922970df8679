"""The demo's embedded cases (``operator/kubetriage/demo/``, shipped in the wheel) are exact
copies of cases in ``tests/cases/train``, so a fix to a case cannot leave the demo behind.
Real: the files on disk, compared byte for byte."""

from __future__ import annotations

from tests.support.cases import REPO, TRAIN

DEMO = REPO / "operator" / "kubetriage" / "demo"


def test_demo_has_history_and_incidents() -> None:
    for folder in ("history", "incidents"):
        assert list((DEMO / folder).glob("*/case.yaml")), f"demo/{folder} holds no case"


def test_every_demo_case_is_a_copy_of_the_training_case() -> None:
    stale = []
    for bundled in sorted(DEMO.glob("*/*/case.yaml")):
        name = bundled.parent.name
        source = TRAIN / name / "case.yaml"
        assert source.is_file(), f"demo case {name} has no source in tests/cases/train"
        if bundled.read_bytes() != source.read_bytes():
            stale.append(f"cp {source.relative_to(REPO)} {bundled.relative_to(REPO)}")
    assert not stale, "demo cases differ from tests/cases/train; run:\n" + "\n".join(stale)
