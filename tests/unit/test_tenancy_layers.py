"""Checks the rules for faults a tenancy layer puts between a workload and the cluster: a
quota a webhook keeps over a namespace tree (HNC's HierarchicalResourceQuota) is a used-up
budget, not a pod spec to correct; a policy refusing the registry an image comes from makes
the image reference the fix; a NetworkPolicy a propagator copied into a subnamespace is
corrected on its source; a CPU limit admission filled in is not the rollout's doing; a quota
refusal a controller can only log (a virtual cluster's syncer) frees the quota it names.
Each has a near miss that must not fire.

Real: Evidence models from ``tests.support.evidence``, the evidence summary of a raw
NetworkPolicy, and the whole analyzer registry; objects, messages and numbers are synthetic.
"""

from __future__ import annotations

from kubetriage import prose
from kubetriage.analyzers.admitted_cpu import admitted_cpu_limit
from kubetriage.analyzers.base import make_finding
from kubetriage.analyzers.changes import explaining_change
from kubetriage.analyzers.propagated import to_sources
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.summaries.network import network_policy_summary
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import QuotaEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, by_category

CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
IMAGE = "ghcr.io/acme/checkout:2.4.1"

HRQ = (
    'Error creating: admission webhook "resourcesquotasstatus.hnc.x-k8s.io" denied the '
    'request: exceeded hierarchical quota in namespace "retail": "retail-hrq", requested: '
    "requests.cpu=1, used: requests.cpu=23500m, limited: requests.cpu=24"
)
SPEC_POLICY = (
    'Error creating: admission webhook "validation.gatekeeper.sh" denied the request: '
    "[must-have-limits] container <app> has no resource limits"
)
REGISTRY = (
    'Error creating: admission webhook "pods.projectcapsule.dev" denied the request: '
    f"Container image {IMAGE} registry is forbidden for the current Tenant: use one from the "
    "following list (acme.azurecr.io)"
)


def _refused(message: str, image: str = IMAGE) -> Evidence:
    """The checkout Deployment's only revision (``image``) has one pod left; the API server
    refuses the replacements with ``message``."""
    return make.evidence(
        workload=make.deployment(replicas=3, ready=1, containers=[make.container("app", image)]),
        events=[make.event("FailedCreate", message, name="checkout-7d9f6c8b5", kind="ReplicaSet")],
        revisions=[make.revision("checkout-7d9f6c8b5", 4, {"app": image}, current=True, ready=1)],
    )


def test_a_webhook_refusing_pods_over_a_hierarchical_quota_is_a_used_up_budget() -> None:
    assert_leads(analyze(_refused(HRQ)), Category.UNSCHEDULABLE, Action.FREE_CAPACITY, CHECKOUT)
    # Near miss: a webhook judging the spec itself still asks for a compliant spec.
    assert_leads(
        analyze(_refused(SPEC_POLICY)), Category.CONFIG_MISSING, Action.FIX_CONFIG, CHECKOUT
    )


def test_a_policy_refusing_the_registry_of_the_pods_image_makes_the_image_the_fix() -> None:
    first = assert_leads(
        analyze(_refused(REGISTRY)), Category.IMAGE_PULL, Action.FIX_IMAGE, CHECKOUT
    )
    assert first.params["image"] == IMAGE


def test_a_registry_refusal_that_quotes_another_image_or_no_registry_is_a_spec_to_correct() -> None:
    # The refusal names an image the workload does not run (a sidecar another rule injects).
    other = REGISTRY.replace(IMAGE, "docker.io/istio/proxyv2:1.22.0")
    assert_leads(
        analyzer := analyze(_refused(other)), Category.CONFIG_MISSING, Action.FIX_CONFIG, CHECKOUT
    )
    assert not by_category(analyzer, Category.IMAGE_PULL)
    # The refusal quotes the image for something other than where it comes from.
    tag = (
        'Error creating: admission webhook "validate.kyverno.svc-fail" denied the request: '
        f"image {IMAGE} must be signed by the release key"
    )
    assert_leads(analyze(_refused(tag)), Category.CONFIG_MISSING, Action.FIX_CONFIG, CHECKOUT)


def _policy(namespace: str, labels: dict[str, str]) -> dict[str, object]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "baseline", "namespace": namespace, "labels": labels},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {}}]}],
        },
    }


def _blocking(policy_namespace: str) -> Finding:
    """A finding that the policy ``baseline`` in ``policy_namespace`` drops a flow."""
    return Finding(
        analyzer="network-policy",
        category=Category.NETWORK,
        confidence=0.9,
        summary="NetworkPolicy baseline blocks traffic to payments-api; allow it.",
        action=Action.FIX_NETWORK,
        target=ObjectRef(kind="NetworkPolicy", namespace=policy_namespace, name="baseline"),
    )


def test_a_fix_on_a_propagated_policy_copy_acts_on_its_source() -> None:
    copy = network_policy_summary(
        _policy("retail-payments", {"hnc.x-k8s.io/inherited-from": "retail"}), [], EvidenceLimits()
    )
    assert copy.copy_of == "retail"
    ev = make.evidence(network_policies=[copy])
    (moved,) = to_sources(ev, [_blocking("retail-payments")])
    assert moved.target == ObjectRef(kind="NetworkPolicy", namespace="retail", name="baseline")
    assert moved.params["copy"] == "retail-payments/baseline"


def test_the_moved_fix_says_it_is_made_at_the_source() -> None:
    copy = network_policy_summary(
        _policy("retail-payments", {"hnc.x-k8s.io/inherited-from": "retail"}), [], EvidenceLimits()
    )
    written = make_finding(
        "network-policy",
        Category.NETWORK,
        0.9,
        prose.narrative("NetworkPolicy baseline blocks traffic to payments-api", "allow it"),
        [],
        Action.FIX_NETWORK,
        ObjectRef(kind="NetworkPolicy", namespace="retail-payments", name="baseline"),
    )
    (moved,) = to_sources(make.evidence(network_policies=[copy]), [written])
    assert moved.summary == (
        "NetworkPolicy baseline blocks traffic to payments-api; allow it in namespace retail."
    )
    assert moved.narrative is not None
    (why,) = moved.narrative.because
    assert "propagated from namespace retail" in why.text
    assert why.evidence == [moved.evidence[-1]]


def test_a_policy_that_is_no_copy_keeps_the_fix() -> None:
    own = network_policy_summary(
        _policy("retail-payments", {"team": "retail"}), [], EvidenceLimits()
    )
    assert own.copy_of is None
    finding = _blocking("retail-payments")
    assert to_sources(make.evidence(network_policies=[own]), [finding]) == [finding]
    # A copy of another policy of that name, in another namespace, is not this one.
    elsewhere = network_policy_summary(
        _policy("retail-web", {"hnc.x-k8s.io/inherited-from": "retail"}), [], EvidenceLimits()
    )
    assert to_sources(make.evidence(network_policies=[elsewhere]), [finding]) == [finding]


def _throttled_after_rollout(
    *aspects: str, template_limits: dict[str, str] | None = None, throttled: float = 430
) -> Evidence:
    """Revision 5 (an env change, ``aspects``) rolled out 30 minutes ago; its pod runs app at
    a 500m CPU limit (``template_limits``: what the template sets), throttled in
    ``throttled`` of 600 CFS periods, and latency rose with it at flat traffic."""
    pod = make.pod(
        "checkout-7d9f6c8b5-a",
        make.container("app", "app:1.1", limits={"cpu": "500m"}, requests={"cpu": "400m"}),
    )
    template = make.container(
        "app", "app:1.1", limits=template_limits or {}, requests={"cpu": "400m"}
    )
    return make.evidence(
        workload=make.deployment(revision=5, replicas=1, containers=[template]),
        pods=[pod],
        revisions=make.rollout_revisions(5, {"app": "app:1.1"}, {"app": "app:1.1"}, minutes_ago=30),
        changes=[make.rollout_change(CHECKOUT, 4, *aspects, minutes_ago=30)],
        metrics=[
            make.metric(
                'container_cpu_cfs_throttled_periods_total{container="app"}',
                first=0,
                last=throttled,
                labels={"container": "app"},
            ),
            make.metric(
                'container_cpu_cfs_periods_total{container="app"}',
                first=0,
                last=600,
                labels={"container": "app"},
            ),
            make.metric(
                "latency_p99_seconds", first=0.4, last=2.1, trend="rising", changed_minutes_ago=29
            ),
        ],
    )


def test_throttling_at_a_cpu_limit_admission_filled_in_is_not_the_rollouts_doing() -> None:
    ev = _throttled_after_rollout("env")
    fact = admitted_cpu_limit(ev)
    assert fact is not None
    assert "admitted" in fact.fact
    assert explaining_change(ev) is None


def test_a_cpu_limit_the_template_sets_or_the_rollout_changed_says_nothing_about_admission() -> (
    None
):
    assert (
        admitted_cpu_limit(_throttled_after_rollout("env", template_limits={"cpu": "500m"})) is None
    )
    assert admitted_cpu_limit(_throttled_after_rollout("env", "resources")) is None
    # ... nor a limit the container does not hit.
    assert admitted_cpu_limit(_throttled_after_rollout("env", throttled=30)) is None


REFUSED = (
    '2026-11-20 09:05:41 ERROR Reconciler error {"controller": "pod", "error": "create object: '
    'pods \\"etl-exec-3-x-etl-x-data\\" is forbidden: exceeded quota: vc-data, requested: '
    'requests.memory=4Gi, used: requests.memory=19Gi, limited: requests.memory=20Gi"}'
)
QUOTA = QuotaEvidence(
    name="vc-data",
    namespace="vcluster-data",
    hard={"requests.memory": "20Gi"},
    used={"requests.memory": "19Gi"},
)


def _syncer(line: str, quotas: list[QuotaEvidence]) -> Evidence:
    syncer = make.pod(
        "data-0",
        make.container("syncer", "ghcr.io/loft-sh/vcluster:0.21"),
        namespace="vcluster-data",
        replica_set=None,
        labels={"app": "vcluster"},
    )
    return make.evidence(
        pods=[syncer],
        quotas=quotas,
        logs=[make.log("data-0", "syncer", line, namespace="vcluster-data")],
    )


def test_a_pod_refusal_a_controller_logs_frees_the_quota_it_names() -> None:
    assert_leads(
        analyze(_syncer(REFUSED, [QUOTA])),
        Category.UNSCHEDULABLE,
        Action.FREE_CAPACITY,
        ObjectRef(kind="ResourceQuota", namespace="vcluster-data", name="vc-data"),
    )


def test_a_logged_refusal_of_a_quota_out_of_scope_or_of_no_pod_is_not_that_quota() -> None:
    elsewhere = QUOTA.model_copy(update={"namespace": "team-b"})
    claim = REFUSED.replace(
        'pods \\"etl-exec-3-x-etl-x-data\\"', 'persistentvolumeclaims \\"data-etl\\"'
    )
    for ev in (_syncer(REFUSED, [elsewhere]), _syncer(claim, [QUOTA])):
        assert not any(f.target.kind == "ResourceQuota" for f in analyze(ev).findings)
