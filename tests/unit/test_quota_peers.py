"""Checks the neighbours on a cloud API quota and the quota-neighbour rule.

Evidence side (``kubetriage.evidence.quota_peers``): the quota scope (service, region,
account) an AWS resource name in a configuration value names (never a global resource without
region and account), the ones the incident's own provider-throttling lines name by service,
and the other Deployments whose templates name a resource in that scope.
Analyzer side (``kubetriage.analyzers.quota_peers``): the incident's calls are throttled by
the provider, it did not change, and one neighbour on the quota rolled out a change of how it
calls right before: that neighbour is rolled back; and the near misses: the neighbour rolled
out long before, its change touched nothing that decides its calls, two neighbours changed,
the workload changed itself, its lines do not name the neighbour's service.

Real: raw Deployment manifests as the API returns them, the pure helpers, Evidence models
from ``tests.support.evidence`` and the whole analyzer registry; the train case written for it.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.quota_peers import CONFIDENCE
from kubetriage.evidence.quota_peers import (
    QuotaScope,
    arn_scope,
    find_quota_peers,
    throttled_scopes,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.neighbours import QuotaPeerEvidence
from kubetriage.models.object_evidence import ChangeEvidence, WorkloadEvidence
from kubetriage.models.vocabulary import Action, Category
from kubetriage.replay.cases import load_case
from tests.support import evidence as make
from tests.support.built import case_evidence
from tests.support.cases import TRAIN
from tests.support.evidence import ago, analyze, assert_leads, named, naming

KEY = "arn:aws:kms:eu-west-1:111122223333:key/4f1c"
KMS = QuotaScope("kms", "eu-west-1", "111122223333")
OWN = ObjectRef(kind="Deployment", namespace="pay", name="tokens")
PEER = ObjectRef(kind="Deployment", namespace="batch", name="exporter")
THIRD = ObjectRef(kind="Deployment", namespace="ops", name="archiver")
THROTTLED = "WARN Decrypt throttled by KMS (attempt 3/3), errorCode=ThrottlingException"


def _deployment(name: str, namespace: str, env: dict[str, str]) -> dict[str, Any]:
    container = {
        "name": name,
        "image": f"registry.example/{name}:1",
        "env": [{"name": k, "value": v} for k, v in env.items()],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [container]},
            },
        },
    }


# --- evidence: which quota, which neighbours ------------------------------------------------


def test_a_regional_resource_name_is_a_quota_scope() -> None:
    assert arn_scope(KEY) == KMS
    assert arn_scope("arn:aws:kms:eu-west-1:111122223333:alias/pan") == KMS
    assert arn_scope("arn:aws-us-gov:sqs:us-gov-west-1:111122223333:jobs") == QuotaScope(
        "sqs", "us-gov-west-1", "111122223333"
    )
    # Global resources carry no region or account.
    assert arn_scope("arn:aws:s3:::statements-bucket") is None
    assert arn_scope("arn:aws:iam::111122223333:role/app") is None
    assert arn_scope("kms-key-4f1c") is None


def test_the_scope_its_configuration_names_and_its_throttled_lines_name_is_throttled() -> None:
    own = _deployment("tokens", "pay", {"KMS_KEY_ID": KEY, "MODE": "live"})
    logs = [make.log("tokens-1", "tokens", THROTTLED, namespace="pay")]
    assert throttled_scopes([], own, logs) == [KMS]


def test_a_scope_only_configured_or_throttled_for_another_service_is_not() -> None:
    own = _deployment("tokens", "pay", {"KMS_KEY_ID": KEY})
    quiet = [make.log("tokens-1", "tokens", "INFO Decrypt by KMS in 12ms", namespace="pay")]
    assert throttled_scopes([], own, quiet) == []
    other = [
        make.log(
            "tokens-1",
            "tokens",
            "WARN PutItem failed: DynamoDB ThrottlingException",
            namespace="pay",
        )
    ]
    assert throttled_scopes([], own, other) == []


def test_the_neighbours_are_the_other_deployments_in_the_scope() -> None:
    own = _deployment("tokens", "pay", {"KMS_KEY_ID": KEY})
    peer = _deployment("exporter", "batch", {"KEY_ARN": "arn:aws:kms:eu-west-1:111122223333:k/2"})
    elsewhere = _deployment("archiver", "ops", {"KEY": "arn:aws:kms:us-east-1:111122223333:k/3"})
    foreign = _deployment("mirror", "ops", {"KEY": "arn:aws:kms:eu-west-1:444455556666:k/4"})
    found = find_quota_peers([own, elsewhere, foreign, peer], [KMS], [own])
    assert [(w["metadata"]["name"], scope) for w, scope, _ in found] == [("exporter", KMS)]
    assert found[0][2] == [named("Deployment exporter env KEY_ARN")]
    assert find_quota_peers([own, peer], [], [own]) == []


# --- the rule ----------------------------------------------------------------------------


def _peer(ref: ObjectRef, *aspects: str, minutes_ago: float = 16) -> QuotaPeerEvidence:
    return QuotaPeerEvidence(
        ref=ref,
        service=KMS.service,
        region=KMS.region,
        account=KMS.account,
        named_by=naming(f"Deployment {ref.name} env KEY_ARN"),
        changes=[make.rollout_change(ref, 56, *aspects, minutes_ago=minutes_ago)],
    )


def _evidence(
    *,
    peers: list[QuotaPeerEvidence] | None = None,
    own_changes: list[ChangeEvidence] | None = None,
    log_text: str = THROTTLED,
) -> Evidence:
    return make.evidence(
        target=OWN,
        workload=WorkloadEvidence(ref=OWN, desired_replicas=2, ready_replicas=2),
        alerts=[
            AlertEvidence(
                labels={"alertname": "TokenErrorsHigh", "namespace": "pay"},
                starts_at=ago(10),
                status="firing",
            )
        ],
        logs=[make.log("tokens-6b7f-x1", "tokens", log_text, namespace="pay")],
        changes=own_changes or [],
        quota_peers=peers if peers is not None else [_peer(PEER, "image")],
    )


def _quota(evidence: Evidence) -> list[object]:
    return [f for f in analyze(evidence).findings if f.analyzer == "quota-peer"]


def test_the_neighbour_that_rolled_out_before_the_throttling_is_rolled_back() -> None:
    finding = assert_leads(analyze(_evidence()), Category.BAD_ROLLOUT, Action.ROLLBACK, PEER)
    assert finding.analyzer == "quota-peer"
    assert finding.confidence == CONFIDENCE
    assert any("KEY_ARN" in e.fact for e in finding.evidence)
    assert any("ThrottlingException" in e.fact for e in finding.evidence)


def test_one_changed_neighbour_among_unchanged_ones_is_still_the_suspect() -> None:
    evidence = _evidence(peers=[_peer(PEER, "env"), _peer(THIRD, "image", minutes_ago=60 * 30)])
    assert_leads(analyze(evidence), Category.BAD_ROLLOUT, Action.ROLLBACK, PEER)


def test_silent_when_the_neighbour_rolled_out_long_before_the_onset() -> None:
    assert not _quota(_evidence(peers=[_peer(PEER, "image", minutes_ago=60 * 6)]))


def test_silent_when_the_neighbours_change_touched_nothing_that_decides_its_calls() -> None:
    assert not _quota(_evidence(peers=[_peer(PEER, "labels", "probes")]))


def test_silent_when_two_neighbours_changed() -> None:
    assert not _quota(_evidence(peers=[_peer(PEER, "image"), _peer(THIRD, "env")]))


def test_silent_when_the_workload_rolled_out_itself() -> None:
    own = make.rollout_change(OWN, 8, "image", minutes_ago=20)
    assert not _quota(_evidence(own_changes=[own]))


def test_silent_when_its_throttled_lines_name_another_service() -> None:
    assert not _quota(_evidence(log_text="WARN Query failed: DynamoDB ThrottlingException"))


def test_the_train_case_of_a_release_spending_the_accounts_kms_quota() -> None:
    case_id = (
        "bad-rollout-eks-statement-signer-encryption-sdk-upgrade-drops-data-key-cache-"
        "kms-decrypt-flood-throttles-card-tokenizer"
    )
    evidence = case_evidence(load_case(TRAIN / case_id))
    assert [p.ref.name for p in evidence.quota_peers] == ["statement-signer"]
    target = ObjectRef(kind="Deployment", namespace="ledger", name="statement-signer")
    assert_leads(analyze(evidence), Category.BAD_ROLLOUT, Action.ROLLBACK, target)
