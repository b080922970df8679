"""Checks a pod's DNS settings as evidence and as a change aspect, and the node-resolver rule.

- ``kubetriage.pod_dns``: ``hostNetwork`` with ``ClusterFirst`` (the default) is the node's
  resolver (``Default``); ``ClusterFirstWithHostNet`` is the cluster DNS; the DNS-deciding
  fields of a spec (dnsPolicy, hostNetwork, dnsConfig nameservers/searches/options).
- the pod summary carries ``host_network`` and ``dns_policy``; a rollout that changes any of
  these fields has the "dns" aspect, with a detail naming the field (an ndots override
  dropped reads ``dnsConfig.options.ndots 1 -> unset``).
- the node-resolver rule: pods of a release that put them on the node's resolver, whose
  lookups of cluster Service names fail, lead with a rollback of their workload, above the
  escalation to the Service whose name does not resolve. Near misses make no finding: the
  host network with ``ClusterFirstWithHostNet``, settings changed long before the onset (or
  by an earlier release than the one that made the pods), lookups of external names only.

Real: the pure module, ``rollout_changes`` and ``build_evidence`` over API-shaped dicts, and
the analyzer registry over synthetic evidence (``tests/support/evidence.py``).
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.node_resolver import check_node_resolver
from kubetriage.evidence.changes import rollout_changes
from kubetriage.models.base import ObjectRef
from kubetriage.models.vocabulary import Action, Category
from kubetriage.pod_dns import dns_settings, effective_policy, resolves_via_node
from tests.support.built import built
from tests.support.evidence import (
    ago,
    alert,
    analyze,
    assert_leads,
    crash_looping,
    deployment,
    evidence,
    log,
    pod,
    rollout_change,
    service,
)

CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
ENOTFOUND = "redis error: getaddrinfo ENOTFOUND orders-cache.data.svc.cluster.local"
GO_NO_SUCH_HOST = "dial tcp: lookup orders-cache on 169.254.169.254:53: no such host"


def test_the_host_network_with_cluster_first_is_the_nodes_resolver() -> None:
    assert effective_policy(None, host_network=True) == "Default"
    assert resolves_via_node("ClusterFirst", host_network=True)
    assert resolves_via_node("Default", host_network=False)
    assert not resolves_via_node("ClusterFirstWithHostNet", host_network=True)
    assert not resolves_via_node("ClusterFirst", host_network=False)
    assert not resolves_via_node("None", host_network=True)


def test_dns_settings_name_every_field_that_decides_resolution() -> None:
    spec = {
        "hostNetwork": True,
        "dnsConfig": {"searches": ["corp.example"], "options": [{"name": "ndots", "value": "2"}]},
    }
    assert dns_settings(spec) == {
        "hostNetwork": "true",
        "dnsPolicy": "ClusterFirst",
        "dnsConfig.searches": "corp.example",
        "dnsConfig.options.ndots": "2",
    }
    assert dns_settings({}) == {"hostNetwork": "false", "dnsPolicy": "ClusterFirst"}


def _replica_set(number: int, spec: dict[str, Any], created: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"api-rs{number}",
            "namespace": "shop",
            "creationTimestamp": created,
            "annotations": {"deployment.kubernetes.io/revision": str(number)},
            "ownerReferences": [
                {"kind": "Deployment", "name": "api", "uid": "d1", "controller": True}
            ],
        },
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "api"}},
                "spec": {"containers": [{"name": "api", "image": "app:1.0"}], **spec},
            }
        },
    }


_API = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "api", "namespace": "shop", "uid": "d1"},
    "spec": {"selector": {"matchLabels": {"app": "api"}}},
}


def _rollout(old: dict[str, Any], new: dict[str, Any]) -> tuple[list[str], list[str]]:
    changes = rollout_changes(
        _API,
        [
            _replica_set(1, old, "2026-10-01T00:00:00Z"),
            _replica_set(2, new, "2026-11-20T09:40:00Z"),
        ],
    )
    assert len(changes) == 1
    return changes[0].aspects, changes[0].details


def test_a_release_that_moves_to_the_host_network_changes_the_dns_aspect() -> None:
    aspects, details = _rollout({"dnsPolicy": "ClusterFirst"}, {"hostNetwork": True})
    assert aspects == ["dns"]
    assert "hostNetwork false -> true" in details


def test_a_release_that_drops_an_ndots_override_changes_the_dns_aspect() -> None:
    ndots = {"dnsConfig": {"options": [{"name": "ndots", "value": "1"}]}}
    aspects, details = _rollout(ndots, {})
    assert aspects == ["dns"]
    assert "dnsConfig.options.ndots 1 -> unset" in details


def test_a_release_that_keeps_the_dns_settings_has_no_dns_aspect() -> None:
    same = {"hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet"}
    aspects, _ = _rollout(same, dict(same))
    assert "dns" not in aspects


def test_a_rollout_keeps_each_aspects_lines_apart() -> None:
    old = {"dnsPolicy": "ClusterFirst", "serviceAccountName": "api"}
    new = {"hostNetwork": True, "serviceAccountName": "api-v2"}
    [change] = rollout_changes(
        _API,
        [
            _replica_set(1, old, "2026-10-01T00:00:00Z"),
            _replica_set(2, new, "2026-11-20T09:40:00Z"),
        ],
    )
    assert change.aspect_details["dns"] == ["hostNetwork false -> true"]
    assert change.aspect_details["serviceAccount"] == ["serviceAccountName api -> api-v2"]
    assert change.details[1:] == [
        line for lines in change.aspect_details.values() for line in lines
    ]


def test_the_pod_summary_carries_the_host_network_and_the_dns_policy() -> None:
    raw = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "agent-1", "namespace": "shop"},
        "spec": {"hostNetwork": True, "containers": [{"name": "a", "image": "a:1"}]},
        "status": {"phase": "Running"},
    }
    plain = {**raw, "metadata": {"name": "web-1", "namespace": "shop"}, "spec": {"containers": []}}
    ev = built([raw, plain], ObjectRef(kind="Namespace", name="shop"))
    pods = {p.name: p for p in ev.pods}
    assert (pods["agent-1"].host_network, pods["agent-1"].dns_policy) == (True, "ClusterFirst")
    assert (pods["web-1"].host_network, pods["web-1"].dns_policy) == (False, "ClusterFirst")


def _evidence(
    *,
    line: str = ENOTFOUND,
    dns_policy: str = "ClusterFirst",
    host_network: bool = True,
    created_minutes_ago: float = 12,
    changes: tuple[str, ...] | None = None,
    changed_minutes_ago: float = 12,
) -> Any:
    """Two crash-looping pods of ``checkout`` with these DNS settings, created
    ``created_minutes_ago``, logging ``line``; the Service they call is up. ``changes``: the
    aspects of the rollout that made them (None: no revision history in evidence)."""
    pods = [
        pod(
            f"checkout-7d9f6c8b5-{suffix}",
            crash_looping(),
            host_network=host_network,
            dns_policy=dns_policy,
            created_at=ago(created_minutes_ago),
        )
        for suffix in ("a1", "b2")
    ]
    timeline = (
        [rollout_change(CHECKOUT, 4, *changes, minutes_ago=changed_minutes_ago)]
        if changes is not None
        else []
    )
    return evidence(
        workload=deployment(ready=0),
        pods=pods,
        logs=[log(pods[0].name, "app", f"{line}\n{line}")],
        services=[service("orders-cache", "data", ready=1, matching=1)],
        alerts=[alert(alertname="CheckoutDown", namespace="shop")],
        changes=timeline,
    )


def _node_resolver_findings(ev: Any) -> list[Any]:
    assert not analyze(ev).errors
    return check_node_resolver(ev)


def test_a_release_onto_the_nodes_resolver_leads_with_its_rollback() -> None:
    ev = _evidence(changes=("dns", "image"))
    result = analyze(ev)
    assert_leads(result, Category.BAD_ROLLOUT, Action.ROLLBACK, CHECKOUT)
    assert "node-resolver" in result.fired
    (found,) = check_node_resolver(ev)
    assert (found.action, found.target) == (Action.ROLLBACK, CHECKOUT)
    assert any("host network" in e.fact for e in found.evidence)
    escalations = [f for f in result.findings if f.category is Category.DEPENDENCY_FAILURE]
    assert all(f.confidence < found.confidence for f in escalations)


def test_without_revision_history_the_pods_creation_dates_the_settings() -> None:
    result = analyze(_evidence())
    assert_leads(result, Category.BAD_ROLLOUT, Action.ROLLBACK, CHECKOUT)


def test_dns_policy_default_fails_a_short_service_name_too() -> None:
    ev = _evidence(line=GO_NO_SUCH_HOST, dns_policy="Default", host_network=False, changes=("dns",))
    ev.services[0] = service("orders-cache", "shop", ready=1, matching=1)
    assert _node_resolver_findings(ev)


def test_the_host_network_with_cluster_first_with_host_net_is_no_finding() -> None:
    ev = _evidence(dns_policy="ClusterFirstWithHostNet", changes=("dns",))
    assert not _node_resolver_findings(ev)


def test_settings_changed_long_before_the_onset_are_no_finding() -> None:
    assert not _node_resolver_findings(_evidence(changes=("dns",), changed_minutes_ago=3 * 24 * 60))
    assert not _node_resolver_findings(_evidence(created_minutes_ago=3 * 24 * 60))


def test_a_release_that_did_not_change_the_settings_is_no_finding() -> None:
    assert not _node_resolver_findings(_evidence(changes=("image",)))


def test_failing_lookups_of_external_names_only_are_no_finding() -> None:
    line = "getaddrinfo ENOTFOUND api.payments-provider.example.com"
    assert not _node_resolver_findings(_evidence(line=line, changes=("dns",)))
