"""Checks the clock-shutdown rule: a process that measures its clock against its peers and
stops itself when its own is the outlier (CockroachDB's "clock synchronization error",
YugabyteDB's "Too big clock skew") crash-loops only on one node while a replica of the same
workload runs Ready on another: the node's clock is the fault (node-failure, drain the Node),
ahead of the crash loop. Replicas stopping on two nodes, no Ready replica elsewhere, a mere
offset warning, or the line in a log that is not the incident's own conclude nothing.

Real: the analyzer registry on Evidence models (tests/support/evidence.py factories).
"""

from __future__ import annotations

from kubetriage.analyzers.clocks import CONFIDENCE, check_clock_shutdown
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ContainerState, PodEvidence
from kubetriage.models.signals import LogSource
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import analyze, assert_leads, container, evidence, log, pod

SHUTDOWN = (
    "F261120 09:54:42.006813 588 1@server/server.go:287 [n3] clock synchronization error: "
    "this node is more than 500ms away from at least half of the known nodes (0 of 2 are "
    "within the offset)"
)
WARNING = (
    "W261120 09:54:38.912177 1207 rpc/clock_offset.go:284 [n1] remote clock offset from n3 "
    "is -0.778s, beyond the tolerated 0.400s"
)
SET = "cockroachdb"


def _crashing(name: str, node: str) -> PodEvidence:
    return pod(
        name,
        container(
            "db",
            ready=False,
            restarts=11,
            state=ContainerState(state="waiting", reason="CrashLoopBackOff"),
            last_state=ContainerState(state="terminated", reason="Error", exit_code=255),
        ),
        namespace="crdb",
        replica_set=SET,
        node=node,
    )


def _running(name: str, node: str) -> PodEvidence:
    return pod(name, container("db"), namespace="crdb", replica_set=SET, node=node)


def _evidence(*pods: PodEvidence, lines: dict[str, str], source: LogSource = "scope") -> Evidence:
    return evidence(
        pods=list(pods),
        logs=[
            log(name, "db", text, namespace="crdb", source=source) for name, text in lines.items()
        ],
    )


def test_the_one_node_whose_database_stops_on_its_clock_is_drained() -> None:
    ev = _evidence(
        _running("cockroachdb-0", "worker-01"),
        _running("cockroachdb-1", "worker-02"),
        _crashing("cockroachdb-2", "worker-03"),
        lines={"cockroachdb-2": SHUTDOWN, "cockroachdb-0": WARNING},
    )
    first = assert_leads(
        analyze(ev),
        Category.NODE_FAILURE,
        Action.DRAIN_NODE,
        ObjectRef(kind="Node", name="worker-03"),
    )
    assert first.confidence == CONFIDENCE.peers_measured_outlier
    assert first.narrative is not None
    assert any("worker-01" in e.fact or "worker-02" in e.fact for e in first.evidence)


def test_yugabyte_clock_skew_counts_too() -> None:
    line = "F1120 09:54:42.006 tablet_service.cc:912] Too big clock skew is detected: 0.742s"
    ev = _evidence(
        _running("yb-tserver-0", "worker-01"),
        _crashing("yb-tserver-1", "worker-02"),
        lines={"yb-tserver-1": line},
    )
    [finding] = check_clock_shutdown(ev)
    assert finding.target == ObjectRef(kind="Node", name="worker-02")


def test_replicas_stopping_on_two_nodes_are_not_one_clock() -> None:
    ev = _evidence(
        _running("cockroachdb-0", "worker-01"),
        _crashing("cockroachdb-1", "worker-02"),
        _crashing("cockroachdb-2", "worker-03"),
        lines={"cockroachdb-1": SHUTDOWN, "cockroachdb-2": SHUTDOWN},
    )
    assert check_clock_shutdown(ev) == []


def test_no_ready_replica_elsewhere_concludes_nothing() -> None:
    ev = _evidence(
        _crashing("cockroachdb-2", "worker-03"),
        _crashing("cockroachdb-1", "worker-02"),
        lines={"cockroachdb-2": SHUTDOWN},
    )
    assert check_clock_shutdown(ev) == []


def test_an_offset_warning_is_not_a_shutdown() -> None:
    ev = _evidence(
        _running("cockroachdb-0", "worker-01"),
        _crashing("cockroachdb-2", "worker-03"),
        lines={"cockroachdb-2": WARNING},
    )
    assert check_clock_shutdown(ev) == []


def test_the_line_in_a_dependencys_log_is_not_the_incidents_own() -> None:
    ev = _evidence(
        _running("cockroachdb-0", "worker-01"),
        _crashing("cockroachdb-2", "worker-03"),
        lines={"cockroachdb-2": SHUTDOWN},
        source="dependency",
    )
    assert check_clock_shutdown(ev) == []
