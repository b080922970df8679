"""Checks the API-server-storage rule (``analyzers.api_storage``): a workload whose own lines
quote the API server answering its calls with etcd's failure words, again and again, while it
did not change, is handed to the control plane's owners (escalate, the ``default/kubernetes``
Service), above the probe and crash readings of the symptoms. Near misses: one such line (a
routine leader election), the same lines after the workload's own rollout, and the same words
in a dependency's log rather than the workload's own.

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``; the
lines are the kubernetes Python client's ApiException bodies.
"""

from __future__ import annotations

from kubetriage.analyzers.api_storage import API_SERVER, check_api_storage
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.signals import ChangeEvidence, LogSource
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads

_POD = "batch-scheduler-7c9d5b8f46-hx4zq"
_TIMED_OUT = (
    'HTTP response body: {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
    '"message":"etcdserver: request timed out","code":500}'
)
_LEADER = (
    'HTTP response body: {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
    '"message":"etcdserver: leader changed","code":500}'
)


def _scheduler(
    text: str,
    *,
    source: LogSource = "scope",
    changes: list[ChangeEvidence] | None = None,
    alerts: list[AlertEvidence] | None = None,
) -> Evidence:
    """batch-scheduler's pod, which logged ``text`` (read as ``source``)."""
    ev = make.app_evidence(
        _POD, make.container("scheduler"), changes=changes or [], alerts=alerts or []
    )
    return ev.model_copy(update={"logs": [make.log(_POD, "scheduler", text, source=source)]})


def test_repeated_etcd_failures_hand_the_control_plane_to_its_owners() -> None:
    ev = _scheduler(f"ERROR create pod failed\n{_TIMED_OUT}\nWARNING retrying\n{_LEADER}")
    finding = assert_leads(analyze(ev), Category.DEPENDENCY_FAILURE, Action.ESCALATE, API_SERVER)
    assert "etcdserver" in " ".join(e.fact for e in finding.evidence)


def test_one_leader_election_is_routine() -> None:
    # Near miss: a single such line, then the calls succeed again.
    assert check_api_storage(_scheduler(f"{_LEADER}\nINFO pod created")) == []


def test_the_workloads_own_rollout_explains_more() -> None:
    # Near miss: the same lines right after the workload's own rollout.
    ref = make.deployment("batch-scheduler", "shop").ref
    change = make.rollout_change(ref, 4, "image", minutes_ago=6)
    alert = make.alert(alertname="BatchTasksFailing", namespace="shop")
    ev = _scheduler(f"{_TIMED_OUT}\n{_TIMED_OUT}", changes=[change], alerts=[alert])
    assert check_api_storage(ev) == []
    # The same lines, the rollout a day old: the control plane again.
    old = make.rollout_change(ref, 4, "image", minutes_ago=1440)
    ev = _scheduler(f"{_TIMED_OUT}\n{_TIMED_OUT}", changes=[old], alerts=[alert])
    assert check_api_storage(ev) != []


def test_a_dependencys_log_is_not_the_workloads_own() -> None:
    # Near miss: the words in a dependency's log tail, not in the workload's.
    ev = _scheduler(f"{_TIMED_OUT}\n{_LEADER}", source="dependency")
    assert check_api_storage(ev) == []


# client-go's leader election, as a controller logs it when the API server answers its lease
# writes too slowly (a datastore on a slow disk): the request went out and timed out.
_LEASE_PUT = (
    "E1120 09:58:16.119823       1 leaderelection.go:429] Failed to update lock optimistically: "
    "Put "
    '"https://10.43.0.1:443/apis/coordination.k8s.io/v1/namespaces/devices/leases/op-lock'
    '?timeout=5s": context deadline exceeded, falling back to slow path'
)
_LEASE_GET = (
    "E1120 09:58:21.120447       1 leaderelection.go:436] error retrieving resource lock "
    'devices/op-lock: Get "https://10.43.0.1:443/apis/coordination.k8s.io/v1/namespaces/devices/'
    'leases/op-lock?timeout=5s": context deadline exceeded'
)


def test_requests_to_the_api_server_that_keep_timing_out_are_the_control_planes() -> None:
    ev = _scheduler(f"{_LEASE_PUT}\n{_LEASE_GET}\nleader election lost")
    finding = assert_leads(analyze(ev), Category.DEPENDENCY_FAILURE, Action.ESCALATE, API_SERVER)
    assert (
        finding.confidence < check_api_storage(_scheduler(f"{_TIMED_OUT}\n{_LEADER}"))[0].confidence
    )  # the etcd words say more than the client's timeout


def test_timeouts_that_never_reached_the_api_server_are_not_its_own() -> None:
    # Near misses: connections that never opened (a NetworkPolicy, a dead route), one timeout
    # alone, and timeouts of calls to an application's own API rather than Kubernetes'.
    dial = (
        'Get "https://10.43.0.1:443/api/v1/namespaces/devices/pods": dial tcp 10.43.0.1:443: '
        "i/o timeout"
    )
    assert check_api_storage(_scheduler(f"{dial}\n{dial}")) == []
    assert check_api_storage(_scheduler(f"{_LEASE_PUT}\nINFO lease renewed")) == []
    app = 'Post "https://payments.shop.svc:8443/v1/charges": context deadline exceeded'
    assert check_api_storage(_scheduler(f"{app}\n{app}")) == []


# Prometheus' remote write to Mimir: its push path is ``/api/v1/push``, a plain-HTTP call to
# another Service by name, and it times out when that backend is slow.
_REMOTE_WRITE = (
    "ts=2026-11-20T09:31:44.207Z caller=dedupe.go:112 component=remote level=warn "
    'remote_name=mimir msg="Failed to send batch, retrying" err="Post '
    '\\"{url}/api/v1/push\\": context deadline exceeded"'
)


def test_another_servers_api_v1_path_is_not_the_api_servers() -> None:
    # Near misses: the same timeouts to Mimir's push path, by its Service name over plain HTTP,
    # and by its Service name over TLS.
    for url in (
        "http://mimir-distributor.mimir.svc.cluster.local:8080",
        "https://mimir-distributor.mimir.svc:8443",
        "http://10.0.142.18:8080",
    ):
        line = _REMOTE_WRITE.format(url=url)
        assert check_api_storage(_scheduler(f"{line}\n{line}")) == [], url


def test_the_api_server_by_its_own_service_name_or_a_local_proxy_still_counts() -> None:
    by_name = _LEASE_GET.replace("10.43.0.1:443", "kubernetes.default.svc:443")
    assert check_api_storage(_scheduler(f"{by_name}\n{by_name}")) != []
    proxied = _LEASE_GET.replace("https://10.43.0.1:443", "http://127.0.0.1:8001")
    assert check_api_storage(_scheduler(f"{proxied}\n{proxied}")) != []
