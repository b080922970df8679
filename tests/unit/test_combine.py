"""The combination step: category choice, disagreement handling, vocabulary/target checks on
model proposals, memory votes and ranking. Pure; real models, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kubetriage import prose
from kubetriage.combine import combine, remediation_id
from kubetriage.models.base import ObjectRef
from kubetriage.models.diagnosis import Diagnosis, LLMUsage, SimilarIncident
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import (
    EvidenceItem,
    Finding,
    ModelOpinion,
    ProposedRemediation,
)
from kubetriage.models.object_evidence import (
    ChangeEvidence,
    ContainerEvidence,
    EventEvidence,
    LogTail,
    PodEvidence,
    ServiceEvidence,
    WorkloadEvidence,
)
from kubetriage.models.vocabulary import Action, Category, Risk

WORKLOAD = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
SERVICE = ObjectRef(kind="Service", namespace="shop", name="payments")
NO_LLM = LLMUsage(used=False, reason="not configured")


def _evidence() -> Evidence:
    return Evidence(
        collected_at=datetime(2026, 11, 1, tzinfo=UTC),
        target=WORKLOAD,
        workload=WorkloadEvidence(ref=WORKLOAD),
        # Facts for the categories the model argues below (a restarting container, a
        # failing call), so its answers meet their preconditions.
        pods=[
            PodEvidence(
                name="checkout-7d9f6c-x2x9k",
                namespace="shop",
                containers=[ContainerEvidence(name="app", image="app:1", restart_count=3)],
            )
        ],
        services=[ServiceEvidence(name="payments", namespace="shop")],
        logs=[
            LogTail(
                namespace="shop",
                pod="checkout-7d9f6c-x2x9k",
                container="app",
                lines=["ERROR dial tcp payments:8080: connect: connection refused"],
            )
        ],
    )


def _finding(
    category: Category, action: Action, confidence: float, target: ObjectRef = WORKLOAD
) -> Finding:
    fact = EvidenceItem(source="events", fact=f"{category.value} fact")
    text = prose.narrative(
        f"{prose.obj(target)} shows {category.value}",
        "fix it",
        because=[prose.claim(f"the events show {category.value}", fact)],
    )
    return Finding(
        analyzer=f"{category.value}-analyzer",
        category=category,
        confidence=confidence,
        summary=prose.narrative_summary(text),
        narrative=text,
        evidence=[fact],
        action=action,
        target=target,
        params={"container": "app", "memory": "512Mi"},
    )


def _opinion(
    category: Category, *remediations: ProposedRemediation, confidence: float = 0.8
) -> ModelOpinion:
    return ModelOpinion(
        category=category,
        confidence=confidence,
        summary=f"the model says it is {category.value}",
        root_cause="because",
        evidence=["model fact"],
        remediations=list(remediations),
    )


def test_analyzers_alone_give_a_ranked_diagnosis() -> None:
    findings = [
        _finding(Category.OOM_KILLED, Action.INCREASE_MEMORY, 0.95),
        _finding(Category.CRASH_LOOP, Action.RESTART, 0.5),
    ]
    diagnosis = combine(
        evidence=_evidence(), findings=findings, opinion=None, llm=NO_LLM, similar=[]
    )
    assert diagnosis.category is Category.OOM_KILLED
    assert diagnosis.confidence >= 0.9
    top = diagnosis.remediations[0]
    assert top.action is Action.INCREASE_MEMORY
    assert top.target == WORKLOAD
    assert top.risk is Risk.LOW
    assert "--limits=memory=512Mi" in top.command
    assert top.id == remediation_id(Action.INCREASE_MEMORY, WORKLOAD)
    assert [r.action for r in diagnosis.remediations] == [Action.INCREASE_MEMORY, Action.RESTART]
    assert diagnosis.analyzers == ["crash-loop-analyzer", "oom-killed-analyzer"]
    assert diagnosis.llm.used is False


def test_strong_analyzer_is_not_overruled_and_disagreement_is_shown() -> None:
    findings = [_finding(Category.OOM_KILLED, Action.INCREASE_MEMORY, 0.95)]
    opinion = _opinion(
        Category.CRASH_LOOP,
        ProposedRemediation(action=Action.RESTART, target=WORKLOAD),
        confidence=0.99,
    )
    diagnosis = combine(
        evidence=_evidence(), findings=findings, opinion=opinion, llm=NO_LLM, similar=[]
    )
    assert diagnosis.category is Category.OOM_KILLED
    assert diagnosis.remediations[0].action is Action.INCREASE_MEMORY
    assert diagnosis.disagreement is not None
    assert "crash-loop" in diagnosis.disagreement


def test_model_can_decide_when_analyzers_are_weak() -> None:
    findings = [_finding(Category.CRASH_LOOP, Action.RESTART, 0.4)]
    opinion = _opinion(
        Category.DEPENDENCY_FAILURE,
        ProposedRemediation(action=Action.ESCALATE, target=SERVICE, rationale="payments 503"),
        confidence=0.9,
    )
    diagnosis = combine(
        evidence=_evidence(), findings=findings, opinion=opinion, llm=NO_LLM, similar=[]
    )
    assert diagnosis.category is Category.DEPENDENCY_FAILURE
    assert diagnosis.remediations[0].action is Action.ESCALATE
    assert diagnosis.remediations[0].target == SERVICE
    assert diagnosis.summary == "the model says it is dependency-failure"
    assert diagnosis.disagreement is not None


def test_model_cannot_target_objects_outside_the_evidence_or_the_action_table() -> None:
    opinion = _opinion(
        Category.NODE_FAILURE,
        # Not in the evidence: re-targeted or dropped, never used as given.
        ProposedRemediation(
            action=Action.DRAIN_NODE, target=ObjectRef(kind="Node", name="prod-db-1")
        ),
        # Kind not allowed for the action: dropped.
        ProposedRemediation(action=Action.EXPAND_STORAGE, target=WORKLOAD),
        # Unknown workload in another namespace: dropped, not re-aimed at ours.
        ProposedRemediation(
            action=Action.RESTART,
            target=ObjectRef(kind="Deployment", namespace="kube-system", name="coredns"),
        ),
    )
    diagnosis = combine(evidence=_evidence(), findings=[], opinion=opinion, llm=NO_LLM, similar=[])
    assert all("llm" not in r.proposed_by for r in diagnosis.remediations)
    assert [r.action for r in diagnosis.remediations] == [Action.ESCALATE]  # unknown: hand over


def test_hand_over_goes_to_what_stamps_the_run_out() -> None:
    """Nothing matched a CronJob's run: the owner to hand over to, and where the next run
    comes from, is the CronJob, not the one Job the evidence was built around."""
    cron = ObjectRef(kind="CronJob", namespace="reporting", name="nightly")
    run = ObjectRef(kind="Job", namespace="reporting", name="nightly-29917560")
    evidence = Evidence(
        collected_at=datetime(2026, 11, 1, tzinfo=UTC),
        target=cron,
        workload=WorkloadEvidence(ref=run, controller=cron),
    )
    diagnosis = combine(evidence=evidence, findings=[], opinion=None, llm=NO_LLM, similar=[])
    assert diagnosis.category is Category.UNKNOWN
    assert [(r.action, r.target) for r in diagnosis.remediations] == [(Action.ESCALATE, cron)]
    # A workload nothing stamps out is its own owner.
    alone = evidence.model_copy(update={"workload": WorkloadEvidence(ref=run), "target": run})
    diagnosis = combine(evidence=alone, findings=[], opinion=None, llm=NO_LLM, similar=[])
    assert [r.target for r in diagnosis.remediations] == [run]


def test_memory_vote_ranks_a_known_fix_higher() -> None:
    findings = [
        _finding(Category.BAD_ROLLOUT, Action.ROLLBACK, 0.6),
        _finding(Category.BAD_ROLLOUT, Action.RESTART, 0.6),
    ]
    similar = [
        SimilarIncident(
            name="inc-2031",
            score=0.92,
            category=Category.BAD_ROLLOUT,
            resolution="rolled back",
            action=Action.RESTART,
        )
    ]
    without = combine(evidence=_evidence(), findings=findings, opinion=None, llm=NO_LLM, similar=[])
    with_memory = combine(
        evidence=_evidence(), findings=findings, opinion=None, llm=NO_LLM, similar=similar
    )
    assert (
        without.remediations[0].action is Action.RESTART
        or without.remediations[0].score == without.remediations[1].score
    )
    assert with_memory.remediations[0].action is Action.RESTART
    assert "memory" in with_memory.remediations[0].proposed_by
    assert with_memory.remediations[0].score > without.remediations[0].score
    assert with_memory.similar_incidents == similar


def test_memory_alone_does_not_outrank_strong_live_evidence() -> None:
    findings = [_finding(Category.OOM_KILLED, Action.INCREASE_MEMORY, 0.95)]
    similar = [
        SimilarIncident(
            name="old", score=0.99, category=Category.BAD_ROLLOUT, action=Action.ROLLBACK
        )
    ]
    diagnosis = combine(
        evidence=_evidence(), findings=findings, opinion=None, llm=NO_LLM, similar=similar
    )
    assert diagnosis.category is Category.OOM_KILLED
    assert diagnosis.remediations[0].action is Action.INCREASE_MEMORY


def test_nothing_found_is_unknown_with_an_escalation() -> None:
    diagnosis = combine(evidence=_evidence(), findings=[], opinion=None, llm=NO_LLM, similar=[])
    assert diagnosis.category is Category.UNKNOWN
    assert diagnosis.confidence < 0.5
    assert [r.action for r in diagnosis.remediations] == [Action.ESCALATE]


def test_combination_is_deterministic() -> None:
    findings = [
        _finding(Category.OOM_KILLED, Action.INCREASE_MEMORY, 0.7),
        _finding(Category.CRASH_LOOP, Action.RESTART, 0.7),
    ]
    first = combine(evidence=_evidence(), findings=findings, opinion=None, llm=NO_LLM, similar=[])
    second = combine(
        evidence=_evidence(),
        findings=list(reversed(findings)),
        opinion=None,
        llm=NO_LLM,
        similar=[],
    )
    assert first.category == second.category
    assert [r.id for r in first.remediations] == [r.id for r in second.remediations]


def test_memory_of_another_category_adds_no_unsupported_remediation() -> None:
    findings = [_finding(Category.OOM_KILLED, Action.INCREASE_MEMORY, 0.95)]
    similar = [
        SimilarIncident(
            name="unrelated", score=0.7, category=Category.CONFIG_MISSING, action=Action.FIX_CONFIG
        ),
        SimilarIncident(
            name="same-kind", score=0.8, category=Category.OOM_KILLED, action=Action.RESTART
        ),
    ]
    diagnosis = combine(
        evidence=_evidence(), findings=findings, opinion=None, llm=NO_LLM, similar=similar
    )
    actions = [r.action for r in diagnosis.remediations]
    assert Action.FIX_CONFIG not in actions
    assert actions == [Action.INCREASE_MEMORY, Action.RESTART]


def _from_memory_alone(name: str, score: float) -> tuple[list[SimilarIncident], Diagnosis]:
    """A past CPU-throttling incident ``name`` as similar as ``score``, and what combine
    makes of it with no finding and no model."""
    similar = [
        SimilarIncident(
            name=name, score=score, category=Category.CPU_THROTTLING, action=Action.INCREASE_CPU
        )
    ]
    return similar, combine(
        evidence=_evidence(), findings=[], opinion=None, llm=NO_LLM, similar=similar
    )


def test_loosely_similar_memory_cannot_decide_alone() -> None:
    similar, diagnosis = _from_memory_alone("looks-alike", 0.72)
    assert diagnosis.category is Category.UNKNOWN
    assert [r.action for r in diagnosis.remediations] == [Action.ESCALATE]
    assert diagnosis.similar_incidents == similar  # still shown, for a person to judge


def test_memory_alone_names_a_lead_but_does_not_make_the_diagnosis() -> None:
    _, diagnosis = _from_memory_alone("close-repeat", 0.95)
    assert diagnosis.category is Category.UNKNOWN
    assert diagnosis.similar_incidents[0].name == "close-repeat"


def test_a_model_that_agrees_but_writes_no_sentence_does_not_replace_the_summary() -> None:
    findings = [_finding(Category.OOM_KILLED, Action.INCREASE_MEMORY, 0.95)]
    terse = ModelOpinion(
        category=Category.OOM_KILLED,
        confidence=0.9,
        summary="increase-memory",
        root_cause="image-pull",
    )
    diagnosis = combine(
        evidence=_evidence(), findings=findings, opinion=terse, llm=NO_LLM, similar=[]
    )
    assert diagnosis.summary == "Deployment shop/checkout shows oom-killed; fix it."
    assert diagnosis.root_cause == "The events show oom-killed [E1]."
    wordy = terse.model_copy(update={"summary": "checkout exceeds its memory limit under load"})
    diagnosis = combine(
        evidence=_evidence(), findings=findings, opinion=wordy, llm=NO_LLM, similar=[]
    )
    assert diagnosis.summary == "checkout exceeds its memory limit under load"
    # The root cause is a causal chain, not the summary again: the model wrote none.
    assert diagnosis.root_cause == "The events show oom-killed [E1]."


def test_the_change_timeline_goes_into_the_diagnosis_short_and_in_order() -> None:
    changes = [
        ChangeEvidence(
            at=datetime(2026, 11, 1, 0, 59 - i, tzinfo=UTC),
            kind="node",
            object=ObjectRef(kind="Node", name=f"n{i}"),
            details=["node joined the cluster"],
        )
        for i in range(10)
    ]
    evidence = _evidence().model_copy(update={"changes": changes})
    diagnosis = combine(evidence=evidence, findings=[], opinion=None, llm=NO_LLM, similar=[])
    assert [t.object for t in diagnosis.timeline] == [f"Node/n{i}" for i in range(8)]
    body = diagnosis.dump_k8s()["timeline"][0]
    assert body == {
        "at": "2026-11-01T00:59:00Z",
        "change": "node",
        "object": "Node/n0",
        "summary": "node joined the cluster",
    }


def test_a_model_category_without_its_preconditions_is_only_a_hypothesis() -> None:
    # No Pending pod, no FailedScheduling: "unschedulable" cannot be the diagnosis, however
    # confident the model is (what SmolLM2 did on the held-back set).
    opinion = _opinion(
        Category.UNSCHEDULABLE,
        ProposedRemediation(action=Action.FREE_CAPACITY, target=WORKLOAD),
        confidence=0.95,
    )
    diagnosis = combine(evidence=_evidence(), findings=[], opinion=opinion, llm=NO_LLM, similar=[])
    assert diagnosis.category is Category.UNKNOWN
    assert all("llm" not in r.proposed_by for r in diagnosis.remediations)
    assert diagnosis.hypothesis is not None
    assert "Unconfirmed hypothesis from the model: unschedulable" in diagnosis.hypothesis
    assert "a Pending pod or a FailedScheduling event" in diagnosis.hypothesis
    assert diagnosis.summary != opinion.summary


def _pending_and_unschedulable() -> tuple[Evidence, ModelOpinion]:
    """Evidence with one Pending pod, and a confident model answer of unschedulable."""
    pending = _evidence().model_copy(
        update={
            "pods": [PodEvidence(name="checkout-7d9f6c-x2x9k", namespace="shop", phase="Pending")]
        }
    )
    opinion = _opinion(
        Category.UNSCHEDULABLE,
        ProposedRemediation(action=Action.FREE_CAPACITY, target=WORKLOAD),
        confidence=0.95,
    )
    return pending, opinion


def test_an_answer_citing_evidence_that_does_not_exist_is_only_a_hypothesis() -> None:
    pending, opinion = _pending_and_unschedulable()
    # The same answer citing the one pod there is decides; citing a second pod does not.
    cited = combine(
        evidence=pending,
        findings=[],
        opinion=opinion.model_copy(update={"cited": ["P1"]}),
        llm=NO_LLM,
        similar=[],
    )
    assert cited.category is Category.UNSCHEDULABLE
    invented = combine(
        evidence=pending,
        findings=[],
        opinion=opinion.model_copy(update={"cited": ["P1", "P2"]}),
        llm=NO_LLM,
        similar=[],
    )
    assert invented.category is Category.UNKNOWN
    assert invented.hypothesis is not None
    assert "cites evidence that does not exist (P2)" in invented.hypothesis


def test_the_same_category_with_its_precondition_present_may_decide() -> None:
    pending, opinion = _pending_and_unschedulable()
    diagnosis = combine(evidence=pending, findings=[], opinion=opinion, llm=NO_LLM, similar=[])
    assert diagnosis.category is Category.UNSCHEDULABLE
    assert diagnosis.hypothesis is None


def test_the_symptoms_onset_takes_its_place_in_the_timeline() -> None:
    rollout = ChangeEvidence(
        at=datetime(2026, 11, 1, 0, 40, tzinfo=UTC) - timedelta(minutes=30),
        kind="rollout",
        object=WORKLOAD,
        aspects=["image"],
        details=["revision 1 -> 2"],
    )
    warning = EventEvidence(
        type="Warning",
        reason="BackOff",
        message="Back-off restarting failed container",
        involved=ObjectRef(kind="Pod", namespace="shop", name="checkout-7d9f6c-x2x9k"),
        first_seen=datetime(2026, 11, 1, 0, 20, tzinfo=UTC),
    )
    evidence = _evidence().model_copy(
        update={
            "collected_at": datetime(2026, 11, 1, 0, 40, tzinfo=UTC),
            "changes": [rollout],
            "events": [warning],
        }
    )
    diagnosis = combine(evidence=evidence, findings=[], opinion=None, llm=NO_LLM, similar=[])
    assert [(t.change, t.at) for t in diagnosis.timeline] == [
        ("onset", datetime(2026, 11, 1, 0, 20, tzinfo=UTC)),
        ("rollout", datetime(2026, 11, 1, 0, 10, tzinfo=UTC)),
    ]
    assert diagnosis.timeline[0].summary == "first BackOff at 00:20"


@pytest.mark.parametrize(
    "pasted",
    [
        "checkout fails: 2026-11-20T09:59:21Z ERROR payment timeout after 30s on upstream",
        "checkout exceeds its limit " + "and keeps growing " * 12,
        "checkout has labels {'app': 'checkout'} that select nothing at all",
        "checkout cannot log in with token [REDACTED:github-token] to the registry",
    ],
)
def test_a_model_summary_that_quotes_evidence_does_not_replace_the_summary(pasted: str) -> None:
    findings = [_finding(Category.OOM_KILLED, Action.INCREASE_MEMORY, 0.95)]
    opinion = ModelOpinion(category=Category.OOM_KILLED, confidence=0.9, summary=pasted)
    diagnosis = combine(
        evidence=_evidence(), findings=findings, opinion=opinion, llm=NO_LLM, similar=[]
    )
    assert diagnosis.summary == "Deployment shop/checkout shows oom-killed; fix it."


def test_evidence_is_numbered_and_the_root_cause_cites_it() -> None:
    findings = [
        _finding(Category.OOM_KILLED, Action.INCREASE_MEMORY, 0.95),
        _finding(Category.CRASH_LOOP, Action.RESTART, 0.5),
    ]
    diagnosis = combine(
        evidence=_evidence(), findings=findings, opinion=None, llm=NO_LLM, similar=[]
    )
    assert [(e.id, e.fact) for e in diagnosis.evidence] == [
        ("E1", "oom-killed fact"),
        ("E2", "crash-loop fact"),
    ]
    assert diagnosis.root_cause.endswith("[E1].")


@pytest.mark.parametrize(
    ("status", "fix"),
    [
        ("not_configured", "configure Prometheus and re-check."),
        ("unavailable", "restore Prometheus and re-check."),
        ("no_data", "escalate to its owner."),
    ],
)
def test_unknown_says_what_was_checked_and_what_is_missing(status: str, fix: str) -> None:
    diagnosis = combine(
        evidence=_evidence(),
        findings=[],
        opinion=None,
        llm=NO_LLM,
        similar=[],
        metrics_status=status,
    )
    assert diagnosis.category is Category.UNKNOWN
    assert diagnosis.summary.startswith(
        "No known failure pattern explains Deployment shop/checkout"
    )
    assert diagnosis.summary.endswith(fix)
    assert "Checked 1 pod, 0 ready, 3 restarts; no revision history [E1, E2]." in (
        diagnosis.root_cause
    )
    assert "Metrics: none, Prometheus" in diagnosis.root_cause
    assert "What would decide it: latency, error-rate and saturation metrics" in (
        diagnosis.root_cause
    )
    sources = [e.source for e in diagnosis.evidence]
    assert sources == ["pods", "revisions", "metrics", "evidence"]


def test_a_category_only_the_model_names_says_so_when_its_summary_is_unusable() -> None:
    pasted = "2026-11-20T09:59:21Z ERROR dial tcp: i/o timeout talking to payments"
    opinion = ModelOpinion(
        category=Category.NETWORK, confidence=0.9, summary=pasted, root_cause="payments is down"
    )
    diagnosis = combine(evidence=_evidence(), findings=[], opinion=opinion, llm=NO_LLM, similar=[])
    assert diagnosis.category is Category.NETWORK
    assert diagnosis.summary == (
        "The model diagnoses network on Deployment shop/checkout, which no analyzer confirms; "
        "review the evidence before acting."
    )
    assert diagnosis.root_cause.startswith("Checked 1 pod")


def test_only_model_evidence_that_quotes_what_was_observed_is_shown() -> None:
    findings = [_finding(Category.OOM_KILLED, Action.INCREASE_MEMORY, 0.95)]
    quote = "checkout-7d9f6c-x2x9k: dial tcp payments:8080: connect: connection refused"
    opinion = _opinion(Category.OOM_KILLED).model_copy(
        update={
            "evidence": [
                "1.5.2",
                "OOMKilled",
                # Made up: none of it is in the evidence.
                "required_images_to_be_reached : required images to be reached for this pod",
                quote,
                "the events show oom-killed fact",  # an analyzer's evidence item, quoted
            ]
        }
    )
    diagnosis = combine(
        evidence=_evidence(), findings=findings, opinion=opinion, llm=NO_LLM, similar=[]
    )
    shown = [e.fact for e in diagnosis.evidence if e.source == "llm"]
    assert shown == [quote]


def test_a_fix_of_the_dependency_itself_supersedes_escalating_to_its_owner() -> None:
    callee = ObjectRef(kind="Service", namespace="shop", name="catalog")
    escalate = _finding(Category.DEPENDENCY_FAILURE, Action.ESCALATE, 0.78, callee)
    ports = _finding(Category.NETWORK, Action.FIX_NETWORK, 0.7, callee)
    diagnosis = combine(
        evidence=_evidence(), findings=[escalate, ports], opinion=None, llm=NO_LLM, similar=[]
    )
    assert diagnosis.category is Category.NETWORK
    assert [r.action for r in diagnosis.remediations][:2] == [Action.FIX_NETWORK, Action.ESCALATE]
    # Near misses: a fix aimed at another object, or a crash loop's own escalation, still vote.
    elsewhere = _finding(Category.NETWORK, Action.FIX_NETWORK, 0.7, WORKLOAD)
    assert (
        combine(
            evidence=_evidence(),
            findings=[escalate, elsewhere],
            opinion=None,
            llm=NO_LLM,
            similar=[],
        ).category
        is Category.DEPENDENCY_FAILURE
    )
    crash = _finding(Category.CRASH_LOOP, Action.ESCALATE, 0.78)
    probe = _finding(Category.PROBE_FAILURE, Action.FIX_PROBE, 0.7)
    assert (
        combine(
            evidence=_evidence(), findings=[crash, probe], opinion=None, llm=NO_LLM, similar=[]
        ).category
        is Category.CRASH_LOOP
    )
