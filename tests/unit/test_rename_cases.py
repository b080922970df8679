"""Checks tools/rename_cases.py, the metamorphic copy of a case set, and uses it: renaming
every application name must not change a diagnosis.

Real: the example cases are renamed on disk, loaded by the strict case model and replayed
offline by the same pipeline the golden tests use (``tests.support.golden.replay_offline``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from tools.rename_cases import rename_case_set, rename_text, renames

from kubetriage.models.case import Case
from tests.support.cases import EXAMPLES, case_dirs
from tests.support.golden import record, replay_offline


def test_names_are_renamed_consistently_and_shared_names_are_kept() -> None:
    case = {
        "cluster": [
            {"kind": "Deployment", "metadata": {"name": "checkout", "namespace": "shop"}},
            {"kind": "Service", "metadata": {"name": "kube-dns", "namespace": "kube-system"}},
            {"kind": "Pod", "metadata": {"name": "checkout-7d9f-abcde", "namespace": "shop"}},
            {"kind": "ConfigMap", "metadata": {"name": "data", "namespace": "shop"}},
        ]
    }
    mapping = renames(case)
    # "shop" is shorter than a safe name; pods derive from their owner; "data" is a YAML key.
    assert set(mapping) == {"checkout"}
    text = rename_text("checkout-7d9f-abcde calls checkout.shop and kube-dns; checkouts", mapping)
    new = mapping["checkout"]
    assert text == f"{new}-7d9f-abcde calls {new}.shop and kube-dns; checkouts"


@pytest.mark.parametrize("case_dir", case_dirs(EXAMPLES), ids=lambda d: d.name)
def test_a_renamed_case_is_diagnosed_as_the_original(case_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "source" / case_dir.name
    source.mkdir(parents=True)
    (source / "case.yaml").write_bytes((case_dir / "case.yaml").read_bytes())
    (renamed,) = rename_case_set(source.parent, tmp_path / "renamed")
    Case.model_validate(yaml.safe_load(renamed.read_text()))
    mapping = renames(yaml.safe_load((case_dir / "case.yaml").read_text()))
    assert mapping, "the example names nothing to rename: the check would prove nothing"
    original = record(replay_offline(case_dir))
    copy = record(replay_offline(renamed.parent))
    assert (copy["category"], copy["action"]) == (original["category"], original["action"])
    assert copy["target"] == rename_text(str(original["target"]), mapping)
