"""Checks two ways an SRE tells a crash loop's real cause from where and when the crashing
replicas started, when the replicas of one revision split into crashing and running ones:

- by start time around a config write (``split_config.check_broken_since_write``): every
  replica started since a ConfigMap (or Secret) it reads was written exits on its own, while
  one started before the write runs with no restart, and no rollout lies between: the written
  object is what the new processes cannot start with, so it is corrected (``fix-config``),
  even when the write is hours older than the symptom (pods recreated by a drain);
- by node group (``placement.check_node_localized``): the crashing replicas all run on one node
  that reports no condition, but joined the cluster recently from a node group (EKS node group,
  GKE node pool, AKS agent pool, Karpenter NodePool) that none of the running replicas' nodes
  belong to, while a replica started within the hour runs on an older node: the new node's
  configuration is the suspect, so the node is drained.

Each rule is also checked not to fire on its near misses (a replica started since the write
that runs, old replicas crashing too, a callee down at start, a split that follows a node; a
node of the same group, no recent replica elsewhere, a node that did not join recently).
Everything is real: Evidence models built by ``tests.support.evidence`` and the full analyzer
registry via ``run_analyzers``; nothing is mocked.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import (
    ChangeEvidence,
    ConfigReference,
    ContainerState,
    NodeEvidence,
    PodEvidence,
)
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import ago, analyze, assert_leads, by_category, naming

_CONFIG = ObjectRef(kind="ConfigMap", namespace="shop", name="router-config")
_WORKLOAD = ObjectRef(kind="Deployment", namespace="shop", name="router")


def _reader(
    suffix: str, started_minutes_ago: float, *, crashing: bool, node: str = "worker-1"
) -> PodEvidence:
    refs = [ConfigReference(kind="ConfigMap", name="router-config", via="volume config")]
    if crashing:
        app = make.crash_looping("app", exit_code=2, restarts=9)
    else:
        app = make.container(
            "app", state=ContainerState(state="running", started_at=ago(started_minutes_ago))
        )
    return make.app_pod(
        f"router-6f7d8c9b5-{suffix}",
        app,
        config_refs=refs,
        created_at=ago(started_minutes_ago),
        node=node,
    )


def _written(
    pods: list[PodEvidence], *, written_minutes_ago: float = 1000, **fields: object
) -> Evidence:
    """The router Deployment, ``pods``, and one edit of the ConfigMap they read."""
    write = ChangeEvidence(
        at=ago(written_minutes_ago),
        kind="config",
        object=_CONFIG,
        aspects=["data"],
        details=["last written"],
    )
    return make.evidence(
        workload=make.deployment("router", replicas=len(pods), ready=1),
        pods=pods,
        changes=[write],
        **fields,
    )


def _drained() -> list[PodEvidence]:
    """One replica from before the write runs; two recreated since it crash, on two nodes."""
    return [
        _reader("old01", 25000, crashing=False, node="worker-1"),
        _reader("new01", 30, crashing=True, node="worker-1"),
        _reader("new02", 30, crashing=True, node="worker-3"),
    ]


def test_replicas_started_since_a_config_write_crash_while_an_older_one_runs() -> None:
    finding = assert_leads(
        analyze(_written(_drained())), Category.CONFIG_MISSING, Action.FIX_CONFIG, _CONFIG
    )
    assert finding.analyzer == "broken-since-write"
    assert any("after the write" in e.fact and "exited 2" in e.fact for e in finding.evidence)
    assert any("before the write; runs" in e.fact for e in finding.evidence)


def test_a_replica_started_since_the_write_that_runs_clears_the_write() -> None:
    pods = [*_drained(), _reader("new03", 30, crashing=False, node="worker-2")]
    assert not [f for f in analyze(_written(pods)).findings if f.analyzer == "broken-since-write"]


def test_old_replicas_crashing_too_is_not_the_write() -> None:
    pods = [*_drained(), _reader("old02", 25000, crashing=True, node="worker-2")]
    assert not [f for f in analyze(_written(pods)).findings if f.analyzer == "broken-since-write"]


def test_a_write_after_every_start_explains_nothing() -> None:
    found = analyze(_written(_drained(), written_minutes_ago=10)).findings
    assert not [f for f in found if f.analyzer == "broken-since-write"]


def test_new_replicas_on_one_node_without_an_old_one_there_are_left_to_the_node() -> None:
    pods = [
        _reader("old01", 25000, crashing=False, node="worker-1"),
        _reader("new01", 30, crashing=True, node="worker-3"),
        _reader("new02", 30, crashing=True, node="worker-3"),
    ]
    assert not [f for f in analyze(_written(pods)).findings if f.analyzer == "broken-since-write"]


def test_a_callee_down_at_start_is_not_blamed_on_the_write() -> None:
    down = DependencyEvidence(
        service=make.service("orders-db", "data", ready=0, matching=1, port_numbers=[5432]),
        named_by=naming("pod router-6f7d8c9b5-new01 env DATABASE_URL"),
        pods=1,
    )
    refused = make.log(
        "router-6f7d8c9b5-new01",
        "app",
        "FATAL: dial tcp orders-db.data.svc.cluster.local:5432: connect: connection refused",
    )
    revision = make.revision("router-6f7d8c9b5", 4, {"app": "ghcr.io/example/app:1.0"}, ready=1)
    found = analyze(
        _written(_drained(), dependencies=[down], logs=[refused], revisions=[revision])
    ).findings
    assert not [f for f in found if f.analyzer == "broken-since-write"]
    # The same evidence without the callee's outage is the write's.
    alone = analyze(_written(_drained(), logs=[refused], revisions=[revision])).findings
    assert [f for f in alone if f.analyzer == "broken-since-write"]


# --- the node group split ---------------------------------------------------------------

_POOL = "kubernetes.azure.com/agentpool"
_NEW = "aks-apps2-58120377-vmss000000"


def _aks_node(name: str, pool: str) -> NodeEvidence:
    return NodeEvidence(name=name, ready="True", labels={_POOL: pool})


def _pool_split(
    *,
    new_pool: str = "apps2",
    joined_minutes_ago: float | None = 40,
    young_minutes_ago: float = 43,
) -> Evidence:
    def replica(suffix: str, node: str, *, crashing: bool, created: float) -> PodEvidence:
        app = (
            make.crash_looping("api", exit_code=134, restarts=10)
            if crashing
            else make.container(
                "api", state=ContainerState(state="running", started_at=ago(created))
            )
        )
        return make.app_pod(f"pricing-7c9d8b6f5-{suffix}", app, node=node, created_at=ago(created))

    pods = [
        replica("aaaa1", "aks-apps-1", crashing=False, created=14000),
        replica("aaaa2", "aks-apps-2", crashing=False, created=14000),
        replica("aaaa3", "aks-apps-1", crashing=False, created=young_minutes_ago),
        replica("bbbb1", _NEW, crashing=True, created=39),
        replica("bbbb2", _NEW, crashing=True, created=39),
    ]
    changes = []
    if joined_minutes_ago is not None:
        changes.append(
            ChangeEvidence(
                at=ago(joined_minutes_ago),
                kind="node",
                object=ObjectRef(kind="Node", name=_NEW),
                aspects=["created"],
                details=["node joined the cluster"],
            )
        )
    return make.evidence(
        workload=make.deployment("pricing", replicas=5, ready=3),
        pods=pods,
        nodes=[
            _aks_node("aks-apps-1", "apps"),
            _aks_node("aks-apps-2", "apps"),
            _aks_node(_NEW, new_pool),
        ],
        changes=changes,
    )


def test_replicas_crash_only_on_a_new_node_of_another_pool_drain_it() -> None:
    finding = assert_leads(
        analyze(_pool_split()),
        Category.NODE_FAILURE,
        Action.DRAIN_NODE,
        ObjectRef(kind="Node", name=_NEW),
    )
    assert finding.analyzer == "node-localized"
    assert any("from node group apps2" in e.fact for e in finding.evidence)
    assert any("runs" in e.fact and "aks-apps-1" in e.fact for e in finding.evidence)


def test_a_new_node_of_the_same_pool_is_no_suspect() -> None:
    assert not by_category(analyze(_pool_split(new_pool="apps")), Category.NODE_FAILURE)


def test_an_old_node_of_another_pool_is_no_suspect() -> None:
    assert not by_category(analyze(_pool_split(joined_minutes_ago=None)), Category.NODE_FAILURE)


def test_without_a_recent_replica_elsewhere_the_start_time_may_be_the_split() -> None:
    assert not by_category(analyze(_pool_split(young_minutes_ago=5000)), Category.NODE_FAILURE)
