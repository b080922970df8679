"""Checks that no semantics-preserving transform (tools/metamorphic.py) changes the answer to a
train case: a rule that keys on a name, a label key, the order objects are written in, an added
healthy neighbour, EndpointSlices or the time of day is a rule written for one case.

Real: the train cases on disk, each transformed and written to a temporary directory, loaded by
the strict case model and replayed offline by the pipeline the golden tests use
(``tests.support.golden.replay_offline``: the snapshot evidence source, the analyzers, the
combiner); the answer is compared with the case's golden. Not real: the API server and
Prometheus (the live replay of a transform is ``tools/metamorphic.py`` with ``kubetriage eval``).

A deterministic sample (every ``STRIDE``-th case in id order) keeps this under a minute; the
whole set takes a few minutes per transform and is the method recorded in
``benchmarks/results/metamorphic.md``.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from tools.metamorphic import TRANSFORMS, transform_case_set
from tools.metamorphic_case import SUFFIX

from kubetriage.pipeline import PipelineResult
from tests.support.cases import TRAIN, case_dirs
from tests.support.golden import golden_path, load, replay_offline

STRIDE = 12


def _sample() -> list[Path]:
    return case_dirs(TRAIN)[::STRIDE]


def _unsuffixed(name: str | None) -> str | None:
    return None if name is None else re.sub(rf"-{SUFFIX}(?=-|$)", "", name)


def _answer(result: PipelineResult) -> tuple[str, str | None, str]:
    """Category, top action and target, with the transform's suffix taken off the target's
    name and namespace (the only names an answer carries)."""
    diagnosis = result.diagnosis
    top = diagnosis.remediations[0] if diagnosis.remediations else None
    if top is None:
        return diagnosis.category.value, None, ""
    target = top.target.model_copy(
        update={
            "name": _unsuffixed(top.target.name),
            "namespace": _unsuffixed(top.target.namespace),
        }
    )
    return diagnosis.category.value, top.action.value, target.display()


@pytest.mark.parametrize("transform", sorted(set(TRANSFORMS) - {"identity"}))
def test_a_transformed_train_case_is_diagnosed_as_its_golden(
    transform: str, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    for case_dir in _sample():
        shutil.copytree(case_dir, source / case_dir.name)
    changed = []
    for written in transform_case_set(transform, source, tmp_path / transform):
        answer = _answer(replay_offline(written.parent))
        want = load(golden_path(written.parent))
        expected = (want["category"], want["action"], want["target"] or "")
        if answer != expected:
            changed.append(f"{written.parent.name}: {expected} -> {answer}")
    assert len(_sample()) >= 50
    assert not changed, "\n".join(changed)
