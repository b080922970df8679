"""Checks the CLI rendering of a diagnosis (``kubetriage.render``): the summary and root cause
wrapped without splitting words or names, evidence listed with the ids the root cause cites,
remediations naming objects as the prose renderer does.

Real: ``combine`` on a real analyzer finding (the OOM rule on factory-built evidence) and the
renderer; no I/O.
"""

from __future__ import annotations

import re

from kubetriage.combine import combine
from kubetriage.models.diagnosis import LLMUsage
from kubetriage.render import render_diagnosis
from tests.support.evidence import (
    analyze,
    container,
    deployment,
    evidence,
    pod,
    terminated,
    waiting,
)


def _rendered(width: int) -> str:
    limits = {"memory": "512Mi"}
    name = "thumbnail-generator-for-user-uploads"
    ev = evidence(
        workload=deployment(name, "media", containers=[container("thumbnailer", limits=limits)]),
        pods=[
            pod(
                f"{name}-7d9f6c8b5-x2x9k",
                container(
                    "thumbnailer",
                    ready=False,
                    restarts=3,
                    state=waiting("CrashLoopBackOff"),
                    last_state=terminated("OOMKilled", 137),
                    limits=limits,
                ),
                namespace="media",
                replica_set=f"{name}-7d9f6c8b5",
            )
        ],
    )
    diagnosis = combine(
        evidence=ev,
        findings=list(analyze(ev).findings),
        opinion=None,
        llm=LLMUsage(used=False, reason="not configured"),
        similar=[],
    )
    return render_diagnosis(
        diagnosis, name="media/x", phase="Diagnosed", conditions=[], width=width
    )


def test_evidence_is_listed_with_the_ids_the_root_cause_cites() -> None:
    text = _rendered(100)
    cited = set(re.findall(r"\[(E\d+)", text.split("evidence:")[0]))
    listed = set(re.findall(r"^    (E\d+) \[", text, re.MULTILINE))
    assert cited
    assert cited <= listed
    assert "Raise the memory limit of Deployment media/thumbnail-generator-for-user-uploads" in text


def test_wrapping_never_splits_a_name_or_a_word() -> None:
    text = _rendered(60)
    assert "Deployment media/thumbnail-generator-for-user-uploads" in text
    for line in text.splitlines():
        if line.startswith("  summary:") or line.startswith(" " * 14):
            assert not line.rstrip().endswith("-")
