#!/usr/bin/env python3
"""Write a metamorphic copy of a case set: one named, semantics-preserving transform applied
to every case, so replaying the copy next to the original shows which diagnoses depend on
how a case happens to be written rather than on what it means.

An SRE's conclusion does not change when a team suffixes its names, labels its pods with the
recommended ``app.kubernetes.io/name`` key instead of ``app``, when ``kubectl`` lists objects in
another order, when an unrelated healthy workload runs next door, or when the control plane
also writes EndpointSlices. Any case whose answer changes under a transform is a brittleness
defect in the analyzers (or in the transform: check it first).

Transforms (each a pure function over the parsed case dict; the expected answer is rewritten
with the objects, so the copy is scored the same way):

- ``identity``: parse and dump only (the control: must change nothing).
- ``suffix-names``: every application namespace and namespaced object name gets a suffix,
  everywhere it occurs as a whole name (metadata, selectors, references, label values, DNS
  names, metric and alert labels, logs and their keys, the expected target). Derived names
  keep their shape (``checkout-q7-<hash>-<id>``). Images (and their repositories wherever
  text quotes them), label keys, container and port names (a ``targetPort``, a probe's
  ``port``), the ``app.kubernetes.io/name`` label (the software, not the instance),
  cluster-scoped objects and the cluster's own namespaces stay.
- ``labels-recommended``: the label keys ``app`` and ``app.kubernetes.io/name`` swapped in
  every label map and selector (and kube-state-metrics' ``label_app`` series labels).
- ``shuffle``: cluster objects in a seeded random order; each pod template's containers,
  every ``ports`` list and each env list without ``$(VAR)`` references reversed.
- ``noise``: a healthy unrelated Deployment, its ReplicaSet, Pods, Service, Endpoints,
  routine events and memory/CPU series added in a namespace of their own.
- ``endpointslices``: for each Endpoints object, the EndpointSlice the control plane writes
  next to it (the collector reads Endpoints; a real cluster holds both).
- ``time-shift``: every time in the case (object and event times, log timestamps in their
  own formats, epoch times, timestamp-valued metrics) moved by one offset (37 d 5 h 13 min):
  the same incident on another day (``tools/metamorphic_time.py``).

Not provided: rewriting core/v1 Events as events.k8s.io/v1. The collector lists core/v1
Events, which the API server always serves (it converts events written through either API),
so the form an Event was written in never reaches the product.

Usage: metamorphic.py TRANSFORM SOURCE_DIR DEST_DIR
       (then: kubetriage eval DEST_DIR --llm none --json > COPY.json)
       metamorphic.py compare SOURCE.json COPY.json   (the cases whose answer changed)
"""

from __future__ import annotations

import copy
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

# Run as a script, this file's directory is on the path, not the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.metamorphic_additions import endpointslices, noise
from tools.metamorphic_case import SUFFIX, Case
from tools.metamorphic_names import suffix_names
from tools.metamorphic_rewrites import labels_recommended, shuffle
from tools.metamorphic_time import time_shift

# --- the tool ------------------------------------------------------------------------------


def identity(case: Case) -> Case:
    return copy.deepcopy(case)


TRANSFORMS: dict[str, Callable[[Case], Case]] = {
    "identity": identity,
    "suffix-names": suffix_names,
    "labels-recommended": labels_recommended,
    "shuffle": shuffle,
    "noise": noise,
    "endpointslices": endpointslices,
    "time-shift": time_shift,
}


def transform_case_set(name: str, source: Path, dest: Path) -> list[Path]:
    """Write the transformed copy of each ``*/case.yaml`` under ``source`` into ``dest``."""
    transform = TRANSFORMS[name]
    written: list[Path] = []
    for case_file in sorted(source.glob("*/case.yaml")):
        case = yaml.safe_load(case_file.read_text(encoding="utf-8"))
        out = dest / case_file.parent.name / "case.yaml"
        out.parent.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(transform(case), sort_keys=False, allow_unicode=True, width=4096)
        out.write_text(text, encoding="utf-8")
        written.append(out)
    return written


def _answer(result: Mapping[str, Any]) -> tuple[Any, ...]:
    """A replayed case's answer with the suffix taken off names, so a suffixed copy's answer
    compares equal to the original's."""
    target = result.get("target") or {}
    unsuffixed = {k: re.sub(rf"-{SUFFIX}(?=-|$)", "", str(v)) for k, v in target.items()}
    return (
        result.get("category"),
        result.get("action"),
        tuple(sorted(unsuffixed.items())),
        result.get("correct"),
    )


def changed_cases(base: Mapping[str, Any], copy_run: Mapping[str, Any]) -> list[str]:
    """Ids of the cases whose answer differs between two ``eval --json`` outputs."""
    before = {c["id"]: _answer(c) for c in base.get("cases") or []}
    return sorted(
        c["id"]
        for c in copy_run.get("cases") or []
        if c["id"] in before and _answer(c) != before[c["id"]]
    )


def names(transforms: Iterable[str] = TRANSFORMS) -> str:
    return ", ".join(transforms)


def main(argv: Sequence[str]) -> int:
    if len(argv) == 3 and argv[0] == "compare":
        runs = [json.loads(Path(p).read_text(encoding="utf-8")) for p in argv[1:]]
        changed = changed_cases(runs[0], runs[1])
        by_id = {c["id"]: c for c in runs[1]["cases"]}
        for case_id in changed:
            after = by_id[case_id]
            print(case_id, after["correct"], after["category"], after["action"], after["target"])
        print(f"{len(changed)} of {len(runs[1]['cases'])} answers changed")
        return 0
    if len(argv) != 3 or argv[0] not in TRANSFORMS:
        print(__doc__, file=sys.stderr)
        print(f"transforms: {names()}", file=sys.stderr)
        return 2
    written = transform_case_set(argv[0], Path(argv[1]), Path(argv[2]))
    print(f"{len(written)} cases written into {argv[2]} ({argv[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
