"""The prompt shows the PodDisruptionBudgets that refuse to let a draining node go
(``[Y1]``): their bounds and status, the pods they hold on which nodes, the refusals and
the workload behind them; present when the evidence has budgets, absent otherwise, citable
by the answer's evidence check, redacted with the rest of the evidence and bounded by the
prompt budget. Real: ``render_messages``, the citation ids and the redaction rules.
"""

from __future__ import annotations

import re

from kubetriage.llm.citations import evidence_ids, unknown_ids
from kubetriage.llm.prompt import render_messages
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import (
    ContainerEvidence,
    ContainerState,
    EventEvidence,
    PodEvidence,
    WorkloadEvidence,
)
from kubetriage.models.relations import DisruptionBudgetEvidence
from kubetriage.redaction import redact_evidence
from tests.support.llm_samples import oom_evidence, oom_finding

TITLE = "### PodDisruptionBudgets that refuse to let a draining node go"
SEARCH = ObjectRef(kind="Deployment", namespace="search", name="indexer")


def _body(evidence: Evidence, max_chars: int | None = None) -> str:
    options = {} if max_chars is None else {"max_chars": max_chars}
    messages = render_messages(evidence, [oom_finding()], [], **options)
    user = messages[1]["content"]
    match = re.search(r'<untrusted-data name="evidence">\n(.*?)\n</untrusted-data>', user, re.S)
    assert match is not None
    return match.group(1)


def _budget(message: str = "Back-off restarting failed container") -> DisruptionBudgetEvidence:
    return DisruptionBudgetEvidence(
        ref=ObjectRef(kind="PodDisruptionBudget", namespace="search", name="indexer"),
        selector={"app": "indexer"},
        min_available="2",
        disruptions_allowed=0,
        current_healthy=1,
        desired_healthy=2,
        expected_pods=2,
        held_pods=["indexer-7d9f-abcde"],
        nodes=["node-a"],
        refusals=["Cannot evict pod as it would violate the pod's disruption budget."],
        workload=WorkloadEvidence(ref=SEARCH, desired_replicas=2, ready_replicas=1),
        pods=[
            PodEvidence(
                name="indexer-7d9f-fghij",
                namespace="search",
                phase="Running",
                containers=[
                    ContainerEvidence(
                        name="indexer",
                        image="indexer:1",
                        ready=False,
                        restart_count=9,
                        state=ContainerState(state="waiting", reason="CrashLoopBackOff"),
                    )
                ],
            )
        ],
        events=[
            EventEvidence(
                type="Warning",
                reason="BackOff",
                message=message,
                involved=ObjectRef(kind="Pod", namespace="search", name="indexer-7d9f-fghij"),
                count=40,
            )
        ],
    )


def test_disruption_budgets_reach_the_prompt_with_ids_the_answer_can_cite() -> None:
    evidence = oom_evidence().model_copy(update={"disruption_budgets": [_budget()]})
    body = _body(evidence)
    assert TITLE in body
    assert (
        "[Y1] PodDisruptionBudget/search/indexer selector[app=indexer] minAvailable=2 "
        "disruptionsAllowed=0 currentHealthy=1 desiredHealthy=2 expectedPods=2"
    ) in body
    assert "  holds pods [indexer-7d9f-abcde] on draining nodes [node-a]" in body
    assert "  refused Cannot evict pod as it would violate" in body
    assert "  workload Deployment/search/indexer ready=1/2" in body
    assert "  pod indexer-7d9f-fghij phase=Running indexer waiting(CrashLoopBackOff)" in body
    assert "  warning BackOff x40: Back-off restarting failed container" in body
    assert "Y1" in evidence_ids(evidence)
    assert unknown_ids(["y1", "[Y2]"], evidence) == ["Y2"]


def test_no_disruption_budget_section_without_budgets() -> None:
    evidence = oom_evidence()
    body = _body(evidence)
    assert TITLE not in body
    assert "[Y1]" not in body
    assert unknown_ids(["Y1"], evidence) == ["Y1"]


def test_disruption_budgets_are_redacted_and_bounded() -> None:
    leaked = "pull failed: https://deploy:Wint3r-index-2026@registry.example/v2/ " + "x" * 2000
    evidence = redact_evidence(
        oom_evidence().model_copy(update={"disruption_budgets": [_budget(leaked)] * 30})
    )
    full = _body(evidence, max_chars=500_000)
    assert "Wint3r-index-2026" not in full
    assert "[Y30] PodDisruptionBudget/search/indexer" in full
    assert all(len(line) <= 400 for line in full.splitlines())
    messages = render_messages(evidence, [oom_finding()], [], max_chars=9_000)
    assert sum(len(m["content"]) for m in messages) <= 9_000
