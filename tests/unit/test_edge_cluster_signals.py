"""Checks readings first met on small edge clusters, each general: a crash a shell reports as
"Illegal instruction" (SIGILL, exit 132: a binary built for a newer CPU than the node's) is
called so, not a segmentation fault; a Service the workload calls by its full cluster DNS name
is also looked up by the shorter names a blackbox probe may give it; the certificate expiry a
probe last saw is kept when the probe stops seeing it (blackbox drops the series when the
handshake fails, which is what an expired certificate does). Near misses: a real segfault stays
one, hosts that are not Service names keep only their own name.

Everything is real: Evidence models from ``tests.support.evidence``, ``check_crash_loop``, the
query templates rendered by ``select_queries``.
"""

from __future__ import annotations

from datetime import timedelta

from kubetriage.analyzers.crashes import check_crash_loop
from kubetriage.evidence.queries import build_scope, select_queries
from kubetriage.models.alerts_view import dependency_hosts, service_host_forms
from tests.support import evidence as make

_POD = "shelf-vision-5d7f9c6b48-r4kpl"
_SIGILL = (
    "/usr/local/bin/entrypoint.sh: line 14:     7 Illegal instruction     (core dumped) "
    '/opt/shelf-vision/bin/shelf-vision "$@"'
)


def _crashing(exit_code: int, text: str) -> str:
    container = make.crash_looping("vision", exit_code=exit_code)
    ev = make.app_evidence(_POD, container)
    ev = ev.model_copy(update={"logs": [make.log(_POD, "vision", text)]})
    (finding,) = check_crash_loop(ev)
    return finding.summary


def test_an_illegal_instruction_is_named_so_not_a_segmentation_fault() -> None:
    summary = _crashing(132, f"loading model /models/gap.onnx\n{_SIGILL}")
    assert "illegal instruction" in summary
    assert "segmentation fault" not in summary
    # Without a log line, the exit code alone (128 + SIGILL) says the same.
    assert "illegal instruction" in _crashing(132, "loading model /models/gap.onnx")


def test_a_segmentation_fault_stays_one() -> None:
    # Near miss: "core dumped" after a segfault is still the segfault.
    summary = _crashing(139, "./worker: line 3:  9 Segmentation fault      (core dumped) ./run")
    assert "segmentation fault" in summary
    assert "illegal instruction" not in summary


def test_a_service_host_goes_by_its_shorter_cluster_names() -> None:
    assert service_host_forms("mosquitto.cold-chain.svc.cluster.local") == [
        "mosquitto.cold-chain.svc.cluster.local",
        "mosquitto.cold-chain.svc",
        "mosquitto.cold-chain",
    ]
    # Near misses: an outside host and a two-label name are not Service names.
    assert service_host_forms("api.example.com") == ["api.example.com"]
    assert service_host_forms("mosquitto.cold-chain") == ["mosquitto.cold-chain"]


def test_dependency_hosts_carry_every_name_of_a_called_service() -> None:
    env = {"MQTT_BROKER": "ssl://mosquitto.cold-chain.svc.cluster.local:8883"}
    ev = make.app_evidence(
        "freezer-ingest-84c6d9b7f5-p6wqz",
        make.container("ingest", env={**env, "UPLINK": "https://hq.example.com/v2"}),
    )
    assert set(dependency_hosts(ev)) == {
        "mosquitto.cold-chain.svc.cluster.local",
        "mosquitto.cold-chain.svc",
        "mosquitto.cold-chain",
        "hq.example.com",
    }


def test_a_probed_certificate_keeps_its_last_seen_expiry() -> None:
    scope = build_scope(
        None, [], dependency_hosts=["mosquitto.cold-chain.svc"], namespace_wide=True
    )
    queries = {q.name: q.promql for q in select_queries(scope, timedelta(minutes=66))}
    for name in ("probe_ssl_expiry_seconds", "expiring_probe_certificates_seconds"):
        assert "last_over_time(probe_ssl_earliest_cert_expiry" in queries[name], queries[name]
        assert "[3960s]" in queries[name], queries[name]
