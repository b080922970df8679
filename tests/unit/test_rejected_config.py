"""Checks the rejected-config rule: pods of a dependency the workload calls crash saying their
configuration does not parse, a ConfigMap they mount was edited within the day, so that
ConfigMap is what to correct (fix-config), above escalating to the dependency; an old edit,
or crashes without a parse error, leave it silent. Also the resolver words it relies on: Go's
"read: connection refused" from a DNS cache that is down is a resolver failure, and it does
not make the Service whose name was looked up a Service refusing connections.

Real: the analyzer registry over Evidence models from ``tests.support.evidence``, and
``kubetriage.dns_errors``.
"""

from __future__ import annotations

from kubetriage.dns_errors import DNS_RESOLVER_FAILURE
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ChangeEvidence, ServiceEvidence
from kubetriage.models.relations import DependencyEvidence, PodTrouble
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import ago, analyze, evidence, log, naming

CACHE = ObjectRef(kind="DaemonSet", namespace="kube-system", name="node-cache")
CONFIG = ObjectRef(kind="ConfigMap", namespace="kube-system", name="node-cache")
LOOKUP = (
    "dial tcp: lookup search.shop.svc.cluster.local on 169.254.20.10:53: read udp "
    "10.1.4.12:39142->169.254.20.10:53: read: connection refused"
)
PARSE = "Corefile:18 - Error during parsing: Unknown directive 'forwrd'"


def _evidence(edited_minutes_ago: float = 16 * 60, said: str = PARSE) -> Evidence:
    cache = DependencyEvidence(
        ref=CACHE,
        workload=CACHE,
        named_by=naming("log shop/web-7d9f6c8b5-a/web"),
        desired_replicas=5,
        ready_replicas=3,
        pods=5,
        failing_pods=[
            PodTrouble(
                pod="node-cache-h8w2n",
                container="cache",
                waiting="CrashLoopBackOff",
                restarts=8,
                last_terminated="Error",
            )
        ],
        config_changes=[
            ChangeEvidence(
                at=ago(edited_minutes_ago), kind="config", object=CONFIG, aspects=["data"]
            )
        ],
    )
    search = ServiceEvidence(
        name="search", namespace="shop", selector={"app": "search"}, ready_endpoints=1
    )
    return evidence(
        logs=[
            log("web-7d9f6c8b5-a", "web", LOOKUP),
            log("node-cache-h8w2n", "cache", said, namespace="kube-system"),
        ],
        services=[search],
        dependencies=[cache],
    )


def _rejected(ev: Evidence) -> list[Finding]:
    return [f for f in analyze(ev).findings if f.analyzer == "rejected-config"]


def test_pods_rejecting_an_edited_configmap_name_that_configmap() -> None:
    found = analyze(_evidence()).findings
    assert (found[0].category, found[0].action, found[0].target) == (
        Category.CONFIG_MISSING,
        Action.FIX_CONFIG,
        CONFIG,
    )
    assert found[0].analyzer == "rejected-config"


def test_silent_for_an_old_edit_or_a_crash_without_a_parse_error() -> None:
    assert not _rejected(_evidence(edited_minutes_ago=3 * 24 * 60))
    assert not _rejected(_evidence(said="panic: runtime error: index out of range"))


def test_a_cache_refusing_lookups_is_a_resolver_failure_not_a_refusing_service() -> None:
    assert DNS_RESOLVER_FAILURE.search(LOOKUP)
    refusing = [f for f in analyze(_evidence()).findings if f.action is Action.FIX_NETWORK]
    assert not refusing
