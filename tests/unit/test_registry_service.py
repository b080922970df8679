"""Checks the in-cluster registry reasoning: a pod's pull that fails while the runtime talks
to a registry served by a Service of the cluster (a pull-through cache or mirror, found by
its ClusterIP or cluster DNS name in the kubelet's Failed event) makes that Service a
dependency, and when the registry answers with a server failure (502, refused, timeouts) the
fix is its owner's (escalate to the Service), not the workload's image. Contrasts keep the
old answers: a 404 from the same registry is the image's problem, and a failing registry
outside the cluster stays an image-pull finding.

Everything is real: raw objects as the API returns them for the host discovery
(``kubetriage.evidence.node_plugins``), Evidence models from ``tests.support.evidence`` and
``run_analyzers`` for the rule; the event texts follow containerd's wording.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.pull_registries import pull_registries, registry_hosts
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.relations import DependencyEvidence, DependencyRoute
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import CHECKOUT_POD, analyze, assert_leads, by_category, named, naming

CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
MIRROR = ObjectRef(kind="Service", namespace="registry-cache", name="zot")
IMAGE = "docker.io/example/checkout:2.0"
SOURCE = named(f"event Pod/{CHECKOUT_POD} Failed")


def _failed(image: str, url: str, status: str) -> str:
    return (
        f'Failed to pull image "{image}": failed to pull and unpack image "{image}": failed to '
        f'resolve reference "{image}": unexpected status from HEAD request to {url}: {status}'
    )


BAD_GATEWAY = _failed(
    IMAGE,
    "http://10.96.50.5:5000/v2/example/checkout/manifests/2.0?ns=docker.io",
    "502 Bad Gateway",
)
NOT_FOUND = _failed(
    IMAGE, "http://10.96.50.5:5000/v2/example/checkout/manifests/2.0?ns=docker.io", "404 Not Found"
)


def _service(cluster_ip: str) -> dict[str, Any]:
    return {
        "kind": "Service",
        "metadata": {"name": "zot", "namespace": "registry-cache"},
        "spec": {"clusterIP": cluster_ip, "ports": [{"port": 5000}]},
    }


def test_a_failed_pull_through_a_service_address_follows_that_service() -> None:
    [host] = registry_hosts([(SOURCE, BAD_GATEWAY)], [_service("10.96.50.5")])
    assert (host.namespace, host.name, host.port) == ("registry-cache", "zot", 5000)
    assert host.source == named(f"registry 10.96.50.5 of Pod/{CHECKOUT_POD} Failed")


def test_a_registry_named_by_its_cluster_dns_name_needs_no_service_list() -> None:
    text = _failed(
        IMAGE, "https://zot.registry-cache.svc:5000/v2/example/checkout/manifests/2.0", "503"
    )
    [host] = registry_hosts([(SOURCE, text)], [])
    assert (host.namespace, host.name) == ("registry-cache", "zot")


def test_registries_outside_the_cluster_and_other_events_are_not_followed() -> None:
    public = _failed(IMAGE, "https://registry-1.docker.io/v2/example/checkout/manifests/2.0", "503")
    assert pull_registries([(SOURCE, public)]) == [("registry-1.docker.io", None, SOURCE)]
    assert not registry_hosts([(SOURCE, public)], [_service("10.96.50.5")])
    # A webhook's call to the same address is no pull.
    webhook = "failed calling webhook: Post http://10.96.50.5:5000/v2/validate: EOF"
    assert not pull_registries([(named("event Pod/x FailedCreate"), webhook)])


def _pulling_through_mirror(message: str, *, followed: bool = True) -> Evidence:
    stuck = make.container(
        "app",
        IMAGE,
        ready=False,
        state=make.waiting("ImagePullBackOff", f'Back-off pulling image "{IMAGE}"'),
    )
    mirror = DependencyEvidence(
        service=make.service("zot", "registry-cache", ready=1, matching=1),
        named_by=naming(f"registry 10.96.50.5 of Pod/{CHECKOUT_POD} Failed"),
        routes=[DependencyRoute(kind="registry", host="10.96.50.5")],
        desired_replicas=1,
        ready_replicas=1,
        pods=1,
    )
    return make.checkout_evidence(
        stuck,
        events=[make.event("Failed", message, name=CHECKOUT_POD, count=8)],
        dependencies=[mirror] if followed else [],
    )


def test_a_mirror_failing_the_pulls_with_a_server_error_is_escalated() -> None:
    result = analyze(_pulling_through_mirror(BAD_GATEWAY))
    leader = assert_leads(result, Category.DEPENDENCY_FAILURE, Action.ESCALATE, MIRROR)
    pulls = by_category(result, Category.IMAGE_PULL)
    assert pulls
    assert pulls[0].confidence < leader.confidence


def test_other_images_failing_through_the_mirror_raise_the_confidence() -> None:
    one = analyze(_pulling_through_mirror(BAD_GATEWAY)).findings[0]
    other = _failed(
        "docker.io/library/postgres:16",
        "http://10.96.50.5:5000/v2/library/postgres/manifests/16?ns=docker.io",
        "502 Bad Gateway",
    )
    ev = _pulling_through_mirror(BAD_GATEWAY)
    ev = ev.model_copy(
        update={"events": [*ev.events, make.event("Failed", other, name="backup-29395770-x7p2q")]}
    )
    several = assert_leads(analyze(ev), Category.DEPENDENCY_FAILURE, Action.ESCALATE, MIRROR)
    assert several.confidence > one.confidence


def test_a_missing_tag_on_the_mirror_stays_an_image_problem() -> None:
    result = analyze(_pulling_through_mirror(NOT_FOUND))
    assert_leads(result, Category.IMAGE_PULL, Action.FIX_IMAGE, CHECKOUT)
    assert not [f for f in result.findings if f.target == MIRROR]


def test_without_the_followed_service_the_pull_stays_an_image_problem() -> None:
    result = analyze(_pulling_through_mirror(BAD_GATEWAY, followed=False))
    assert_leads(result, Category.IMAGE_PULL, Action.FIX_IMAGE, CHECKOUT)
