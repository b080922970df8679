"""Checks the canonical incident text (normalisation, ordering, bounds), the signature a
seeded case is remembered by (``replay.seeding.case_signature``: the real evidence builder and
analyzers over the case's objects) and the memory record conversions; real models and the
real example cases, no embedding model."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml

from kubetriage.memory.canonical import (
    MAX_LINE_CHARS,
    IncidentText,
    canonical_text,
    normalise,
    parts_from_evidence,
)
from kubetriage.memory.records import MemoryRecord, SimilarMatch, record_from_case
from kubetriage.memory.store import point_id
from kubetriage.models.base import ObjectRef
from kubetriage.models.case import Case
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import (
    ContainerEvidence,
    ContainerState,
    EventEvidence,
    LogTail,
    PodEvidence,
)
from kubetriage.models.vocabulary import Action, Category
from kubetriage.replay.seeding import case_signature
from tests.support.cases import EXAMPLES

CASES = EXAMPLES
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _case(name: str) -> Case:
    return Case.model_validate(yaml.safe_load((CASES / name / "case.yaml").read_text()))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("pod checkout-7d9f6c-x2x9k restarted", "pod checkout-<hash> restarted"),
        ("replicaset landing-page-66b9d5c7f8 scaled", "replicaset landing-page-<hash> scaled"),
        ("pod=csv-exporter-5f7d8c9b6d-k2x9p_exports", "pod=csv-exporter-<hash>_exports"),
        ("daemonset pod fluentd-x7k2p evicted", "daemonset pod fluentd-<hash> evicted"),
        ("at 2026-11-20T09:58:30Z and 2026-11-20 09:58:30.123", "at <time> and <time>"),
        ("I1120 09:58:30.123456 started", "I1120 <time> started"),
        ("dial tcp 10.96.0.10:53: connection refused", "dial tcp <ip>: connection refused"),
        ("uid de4a5990-f5f9-4508-8cc4-65455deaf4d3", "uid <uuid>"),
        ("containerd://35947d7687446c186e06e23d6198deec4bd1bde4", "containerd://<hex>"),
        ("commit 3f2a9c1e7b at 0xdeadbeef", "commit <hex> at <hex>"),
        ("exit code 137 after 536870912 bytes", "exit code 137 after <num> bytes"),
        ("HTTP 503 in 0.25s, limit 128Mi", "HTTP 503 in <num>s, limit 128Mi"),
        ("image nginx:1.27.3-alpine", "image nginx:<num>-alpine"),
        ("  many \t spaces\n\nand lines ", "many spaces and lines"),
    ],
)
def test_normalise_replaces_volatile_tokens(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_normalise_keeps_ordinary_names() -> None:
    # Hyphenated words with vowels and StatefulSet ordinals are not hashes.
    text = "checkout-stripe web-0 kube-state-metrics payment-gateway"
    assert normalise(text) == text


def test_same_incident_twice_gives_the_same_text() -> None:
    first = IncidentText(
        alertname="KubePodCrashLooping",
        category=Category.OOM_KILLED,
        lines=["container app last terminated: OOMKilled exit code 137 pod checkout-7d9f6c-x2x9k"],
    )
    second = first.model_copy(
        update={
            "lines": [
                "container app last terminated: OOMKilled exit code 137 pod checkout-5b8c4d-q7wzt"
            ]
        }
    )
    assert canonical_text(first) == canonical_text(second)


def test_canonical_text_is_bounded_and_keeps_the_head() -> None:
    parts = IncidentText(
        alertname="KubePodCrashLooping",
        category=Category.CRASH_LOOP,
        title="worker crashes",
        lines=[f"log: error number {i} " + "x" * 500 for i in range(100)],
    )
    text = canonical_text(parts, max_chars=800, max_lines=5)
    assert len(text) <= 800
    assert text.startswith(
        "category: crash-loop: the process exits on its own (panic, bad flag, failed "
        "migration, unhandled error)\nalert: KubePodCrashLooping\ntitle: worker"
    )
    assert all(len(line) <= MAX_LINE_CHARS + 2 for line in text.splitlines())
    assert sum(line.startswith("- ") for line in text.splitlines()) <= 5


def test_canonical_text_drops_duplicate_lines_after_normalising() -> None:
    parts = IncidentText(
        lines=[
            "event BackOff: restarting pod api-7d9f6c-x2x9k",
            "event BackOff: restarting pod api-7d9f6c-b4n8m",
        ]
    )
    assert canonical_text(parts) == "- event BackOff: restarting pod api-<hash>"


def test_a_seeded_case_reads_its_symptoms_and_the_analyzers_category() -> None:
    text = case_signature(_case("example-oom-csv-exporter"), now=NOW)
    lines = text.splitlines()
    assert lines[0].startswith("category: oom-killed: a container is killed")
    assert lines[1] == "alert: KubePodCrashLooping"
    assert "- container exporter last terminated: OOMKilled exit code 137" in lines
    assert "5f7d8c9b6d" not in text
    assert "de4a5990" not in text
    assert "ContainersNotReady" not in text


def test_a_seeded_case_keeps_its_error_log_lines_newest_first() -> None:
    text = case_signature(_case("example-external-api-503"), now=NOW)
    logs = [line for line in text.splitlines() if line.startswith("- log: ")]
    assert logs
    assert "batch abandoned" in logs[0]  # newest problem line first
    assert all("status=503" in line or "abandoned" in line for line in logs)


def test_parts_from_evidence_uses_findings_then_containers_events_logs() -> None:
    pod = "checkout-7d9f6c-x2x9k"
    evidence = Evidence(
        collected_at=NOW,
        title="checkout crash looping",
        alerts=[
            AlertEvidence(
                labels={"alertname": "KubePodCrashLooping"},
                annotations={"summary": "Pod is crash looping."},
            )
        ],
        pods=[
            PodEvidence(
                name=pod,
                namespace="shop",
                containers=[
                    ContainerEvidence(
                        name="app",
                        image="shop/checkout:1.4.2",
                        state=ContainerState(state="waiting", reason="CrashLoopBackOff"),
                        last_state=ContainerState(
                            state="terminated", reason="OOMKilled", exit_code=137
                        ),
                    )
                ],
            )
        ],
        events=[
            EventEvidence(
                type="Warning",
                reason="BackOff",
                message=f"Back-off restarting failed container app in pod {pod}",
                involved=ObjectRef(kind="Pod", name=pod, namespace="shop"),
            ),
            EventEvidence(
                type="Normal",
                reason="Pulled",
                message="Container image already present",
                involved=ObjectRef(kind="Pod", name=pod, namespace="shop"),
            ),
        ],
        logs=[
            LogTail(
                namespace="shop",
                pod=pod,
                container="app",
                lines=["INFO started", "ERROR cache grew to 4096000 entries"],
            )
        ],
    )
    weak = Finding(
        analyzer="restarts",
        category=Category.CRASH_LOOP,
        confidence=0.3,
        summary="container restarts repeatedly",
        action=Action.RESTART,
        target=ObjectRef(kind="Deployment", name="checkout", namespace="shop"),
    )
    strong = weak.model_copy(
        update={
            "analyzer": "oom",
            "category": Category.OOM_KILLED,
            "confidence": 0.95,
            "summary": "container app is OOMKilled at its 256Mi limit",
            "action": Action.INCREASE_MEMORY,
        }
    )
    parts = parts_from_evidence(evidence, [weak, strong])
    assert parts.category is Category.OOM_KILLED
    assert parts.summary == "Pod is crash looping."
    text = canonical_text(parts)
    body = [line for line in text.splitlines() if line.startswith("- ")]
    assert body == [
        "- container app is OOMKilled at its 256Mi limit",
        "- container restarts repeatedly",
        "- container app is waiting: CrashLoopBackOff",
        "- container app last terminated: OOMKilled exit code 137",
        "- event BackOff: Back-off restarting failed container app in pod checkout-<hash>",
        "- log: ERROR cache grew to <num> entries",
    ]
    explicit = parts_from_evidence(evidence, [weak, strong], category=Category.BAD_ROLLOUT)
    assert explicit.category is Category.BAD_ROLLOUT


def test_record_from_case_takes_expect_and_title() -> None:
    case = _case("example-image-tag-typo")
    record = record_from_case(case, cluster="lab", imported_at=NOW)
    assert record.name == "example-image-tag-typo"
    assert record.category is Category.IMAGE_PULL
    assert record.actions == [Action.FIX_IMAGE, Action.ROLLBACK]
    assert record.namespace == "marketing-site"
    assert record.workload == "Deployment/landing-page"
    assert record.resolution is not None
    assert record.resolution.startswith(case.title)
    assert record.resolved
    assert record.source == "import"


def test_record_from_case_without_expect_is_refused() -> None:
    case = _case("example-image-tag-typo").model_copy(update={"expect": None})
    with pytest.raises(ValueError, match="no 'expect'"):
        record_from_case(case)


def test_similar_match_converts_to_similar_incident() -> None:
    record = MemoryRecord(
        name="inc-2031",
        cluster="prod-eu",
        namespace="shop",
        category=Category.BAD_ROLLOUT,
        actions=[Action.ROLLBACK, Action.RESTART],
        resolution="rolled back to revision 41",
        created_at=NOW,
        resolved_at=NOW,
    )
    similar = SimilarMatch(record=record, score=0.912345, rank_score=0.96).to_similar_incident()
    assert similar.name == "inc-2031"
    assert similar.score == 0.9123
    assert similar.action is Action.ROLLBACK
    assert similar.category is Category.BAD_ROLLOUT
    assert similar.cluster == "prod-eu"
    assert similar.resolution == "rolled back to revision 41"


def test_point_id_is_deterministic_per_cluster_and_name() -> None:
    assert point_id("inc-1", "prod") == point_id("inc-1", "prod")
    assert point_id("inc-1", "prod") != point_id("inc-1", "staging")
    assert point_id("inc-1", "prod") != point_id("inc-2", "prod")
    # Separator: ("a-b", "c") and ("a", "b-c") must not collide.
    assert point_id("b", "a-") != point_id("-b", "a")
    # The namespace is part of it (issue 10); without one it is the v1 id.
    assert point_id("dup", "prod", "media") != point_id("dup", "prod", "fraud")
    assert point_id("dup", "prod", "media") != point_id("dup", "prod")
    assert point_id("dup", "prod", None) == point_id("dup", "prod")
