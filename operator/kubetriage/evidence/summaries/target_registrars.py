"""Load-balancer target registrars: the controllers that put a Service's pod addresses into a
cloud load balancer's target group. They are not on the request path (the cloud load
balancer sends to the pods directly), but every pod a rollout creates has a new address that
only they register: the AWS Load Balancer Controller for an Ingress of its class (IngressClass
``spec.controller`` ``ingress.k8s.aws/alb``). While the controller is down, pods created
since then are never registered; once a rollout has replaced every pod the load balancer has
no healthy target and answers 5xx itself, however healthy the pods are. An SRE asks "who
registers these pods, and was it up when they were created?".

Pure; ``kubetriage.evidence.reconciler_walk`` reads the controller when an Ingress serving the
incident's pods is of such a class, ``kubetriage.evidence.summaries.reconcilers`` summarises
what it owes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from kubetriage import prose
from kubetriage.evidence.raw import as_dict, as_str, as_time, condition
from kubetriage.evidence.summaries.ingress import class_of, controller_of, served_ingresses
from kubetriage.models.objects import JsonDict, ingress_backends, pod_ready, service_selects
from kubetriage.models.objects import labels as _labels
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

# IngressClass spec.controller values whose controller registers the backends' pod addresses
# as the targets of a cloud load balancer (and is not itself a proxy the traffic crosses).
REGISTERING_CONTROLLERS = frozenset({"ingress.k8s.aws/alb"})


def registered_ingresses(
    ingresses: Iterable[JsonDict],
    classes: Iterable[JsonDict],
    services: Iterable[JsonDict],
    pods: Iterable[JsonDict],
) -> list[JsonDict]:
    """The Ingresses serving one of ``pods`` whose class's controller registers targets."""
    listed = list(classes)
    return [
        i
        for i in served_ingresses(ingresses, services, pods)
        if controller_of(class_of(i, listed)) in REGISTERING_CONTROLLERS
    ]


def down_since(workload: JsonDict) -> datetime | None:
    """When the controller's workload lost its minimum availability (its Available condition
    False since then); None while it is available or does not say."""
    available = condition(workload, "Available")
    if available is None or as_str(available.get("status")) != "False":
        return None
    return as_time(available.get("lastTransitionTime"))


def unregistered(
    ingresses: Iterable[JsonDict],
    classes: Iterable[JsonDict],
    services: Iterable[JsonDict],
    pods: Iterable[JsonDict],
    since: datetime,
) -> list[tuple[str, JsonDict, str]]:
    """("", Ingress, what says so) for each Ingress of a registering class whose backend
    pods were all created at or after ``since`` (when the registrar went down): none of the
    pods serving it can have been registered. An Ingress keeping one pod from before still
    has a registered target."""
    pod_list, service_list = list(pods), list(services)
    found: list[tuple[str, JsonDict, str]] = []
    for ingress in registered_ingresses(ingresses, classes, service_list, pod_list):
        backends = set(ingress_backends(ingress))
        selectors = [
            {str(k): str(v) for k, v in as_dict(as_dict(s.get("spec")).get("selector")).items()}
            for s in service_list
            if _ns(s) == _ns(ingress) and _name(s) in backends
        ]
        serving = [
            p
            for p in pod_list
            if _ns(p) == _ns(ingress) and any(service_selects(s, _labels(p)) for s in selectors)
        ]
        created = [as_time(as_dict(p.get("metadata")).get("creationTimestamp")) for p in serving]
        if not serving or any(t is None or t < since for t in created):
            continue
        ready = sum(pod_ready(p) for p in serving)
        found.append(
            (
                "",
                ingress,
                f"all {prose.count(len(serving), 'backend pod')} ({ready} ready) were created "
                f"after its target registrar went down at {since:%H:%M}",
            )
        )
    return found
