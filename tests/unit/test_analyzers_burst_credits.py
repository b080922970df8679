"""Checks the burst-credit rule: a mounted claim whose cloud volume's I/O burst balance
(``claims_burst_balance``) fell to zero in the window is expanded, above the failing calls
to the database that keeps its data on it; and the near misses: a balance that is low but
was never drawn down in the window, one that is drawn down but not empty, two claims empty
at once. Azure's share of credits used on a VM's data disk (``vm_disk_burst_used``) is placed
on the one claim mounted on that VM's node, and a rollout of the workload before it is no
rival (a rollback's pods wait on the same disk); near misses: a VM with two data disks, a
node with two claims, credits used that never rose.

Real: Evidence models from ``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

from kubetriage.analyzers.burst_credits import CONFIDENCE, SERIES, VM_SERIES, vm_node
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ChangeEvidence, MetricSummary, PVCEvidence
from kubetriage.models.relations import DependencyEvidence, DependencyVolume
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, naming

OWN = ObjectRef(kind="Deployment", namespace="shop", name="orders")
DB = ObjectRef(kind="Service", namespace="data", name="pg")
CLAIM = ObjectRef(kind="PersistentVolumeClaim", namespace="data", name="data-pg-0")
NODE = "aks-db-58230417-vmss00000z"
VM = (
    "/subscriptions/0b7d/resourcegroups/mc_data/providers/microsoft.compute/"
    "virtualmachinescalesets/aks-db-58230417-vmss/virtualmachines/35"
)
SLOW = '{"ts":"2026-11-20T09:58:31Z","error":"insert: timeout: context deadline exceeded"}'


def _balance(claim: str, *, first: float, last: float) -> MetricSummary:
    return make.metric(
        "min by (namespace, persistentvolumeclaim) (aws_ebs_burst_balance_average ...)",
        name=SERIES,
        labels={"namespace": "data", "persistentvolumeclaim": claim},
        first=first,
        last=last,
        trend="falling",
    )


def _evidence(
    *metrics: MetricSummary, node_claims: int = 1, own_changes: list[ChangeEvidence] | None = None
) -> Evidence:
    dependency = DependencyEvidence(
        service=make.service("pg", "data", ready=1, matching=1),
        ref=DB,
        workload=ObjectRef(kind="StatefulSet", namespace="data", name="pg"),
        named_by=naming("Deployment orders env DATABASE_HOST"),
        desired_replicas=1,
        ready_replicas=1,
        pods=1,
        volumes=[
            DependencyVolume(
                pod="pg-0", claim=PVCEvidence(name=name, namespace="data", capacity="100Gi")
            )
            for name in ["data-pg-0", "wal-pg-0"][:node_claims]
        ],
        pod_nodes={"pg-0": NODE},
    )
    return make.evidence(
        target=OWN,
        alerts=[make.alert(alertname="OrdersLatencyHigh", namespace="shop")],
        logs=[make.log("orders-7f6d-k2v8n", "orders", SLOW)],
        dependencies=[dependency],
        metrics=list(metrics),
        changes=own_changes or [],
    )


def test_a_claim_whose_volume_ran_out_of_burst_credits_is_expanded() -> None:
    finding = assert_leads(
        analyze(_evidence(_balance("data-pg-0", first=30, last=0))),
        Category.STORAGE,
        Action.EXPAND_STORAGE,
        CLAIM,
    )
    assert finding.confidence == CONFIDENCE.exhausted
    assert any("30% to 0%" in e.fact for e in finding.evidence)
    assert any(e.source == "pod/data/pg-0" for e in finding.evidence)
    assert "None" not in finding.summary


def _burst(evidence: Evidence) -> list[object]:
    return [f for f in analyze(evidence).findings if f.analyzer == "burst-credits"]


def test_silent_when_the_balance_was_never_drawn_down_in_the_window() -> None:
    assert not _burst(_evidence(_balance("data-pg-0", first=0.5, last=0)))


def test_silent_when_credits_are_left() -> None:
    assert not _burst(_evidence(_balance("data-pg-0", first=90, last=40)))


def test_silent_when_two_claims_ran_out() -> None:
    both = (_balance("data-pg-0", first=30, last=0), _balance("wal-pg-0", first=30, last=0))
    assert not _burst(_evidence(*both))


# --- Azure: credits used on a VM's data disk ------------------------------------------------


def _used(*, first: float, last: float, lun: str = "0", vm: str = VM) -> MetricSummary:
    return make.metric(
        "max by (resourceID, lun) (azurerm_resource_metric{...})",
        name=VM_SERIES,
        labels={"resourceID": vm, "lun": lun},
        first=first,
        last=last,
        trend="rising",
    )


def test_a_scale_set_instance_is_the_node_named_after_its_base_36_id() -> None:
    assert vm_node(VM) == NODE
    assert vm_node(VM.replace("/35", "/1")) == "aks-db-58230417-vmss000001"
    assert vm_node(VM.replace("/35", "/36")) == "aks-db-58230417-vmss000010"
    plain = "/subscriptions/0b7d/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/DB-1"
    assert vm_node(plain) == "db-1"
    assert vm_node("/subscriptions/0b7d/resourceGroups/rg") is None


def test_the_claim_on_the_node_whose_vm_disk_used_its_credits_is_expanded() -> None:
    finding = assert_leads(
        analyze(_evidence(_used(first=70, last=100))),
        Category.STORAGE,
        Action.EXPAND_STORAGE,
        CLAIM,
    )
    assert any("LUN 0 of node aks-db-58230417-vmss00000z" in e.fact for e in finding.evidence)


def test_a_rollout_of_the_workload_before_it_is_no_rival() -> None:
    rollout = make.rollout_change(OWN, 4, "env", minutes_ago=30)
    ev = _evidence(_used(first=70, last=100), own_changes=[rollout])
    assert_leads(analyze(ev), Category.STORAGE, Action.EXPAND_STORAGE, CLAIM)
    # Without the exhausted disk, the same rollout is the change the symptoms followed.
    quiet = _evidence(_used(first=70, last=80), own_changes=[rollout])
    assert not _burst(quiet)
    assert_leads(analyze(quiet), Category.BAD_ROLLOUT, Action.ROLLBACK, OWN)


def test_silent_when_the_vm_has_two_data_disks_or_the_node_two_claims() -> None:
    assert not _burst(_evidence(_used(first=70, last=100), _used(first=5, last=6, lun="1")))
    assert not _burst(_evidence(_used(first=70, last=100), node_claims=2))


def test_silent_when_the_credits_used_never_rose_or_the_vm_is_another_node() -> None:
    assert not _burst(_evidence(_used(first=99.5, last=100)))
    other = VM.replace("aks-db-58230417-vmss", "aks-apps-1234-vmss")
    assert not _burst(_evidence(_used(first=70, last=100, vm=other)))
