"""Ingress controllers: which controller serves an Ingress (the IngressClass it names, else
the class marked default) and which pods are that controller's, by the labels each
mainstream controller's own manifests and Helm charts give its data-plane pods. The
controller usually runs in a namespace of its own, so its pods are where the Ingress's
traffic to the backend pods comes from (a NetworkPolicy of the backend must admit them).

Also which Ingress serves a host a probe names (``serving_ingress``: by its rules' and TLS
hosts, wildcards included), the way to a probed URL's Ingress, TLS Secret and Certificate.

Also the controller's settings ConfigMap (``settings_config``: the ``--configmap`` flag of
ingress-nginx and HAProxy controllers) and when it was last written.

Pure; ``kubetriage.evidence.ingress_walk`` reads the IngressClass, the pods and that ConfigMap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from kubetriage.evidence.changes import last_write
from kubetriage.evidence.dependency_summary import pod_trouble
from kubetriage.evidence.index import ObjectIndex, workload_of
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.raw import as_dict, as_list, as_str, dicts, ref_of, str_map
from kubetriage.evidence.summaries.pods import pod_ips
from kubetriage.models.base import ObjectRef
from kubetriage.models.objects import (
    JsonDict,
    annotations_of,
    ingress_backends,
    pod_ready,
    pod_workload,
    service_selects,
)
from kubetriage.models.objects import labels as _labels
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns
from kubetriage.models.relations import IngressControllerEvidence

DEFAULT_CLASS_ANNOTATION: Final = "ingressclass.kubernetes.io/is-default-class"
# The class annotation that predates spec.ingressClassName, still honoured by controllers.
LEGACY_CLASS_ANNOTATION: Final = "kubernetes.io/ingress.class"

# IngressClass spec.controller (a prefix of it) -> the labels of that controller's
# data-plane pods in its upstream manifests. A controller whose traffic comes from outside
# the cluster (a cloud load balancer sending to pod IPs, such as AWS ALB) has none here.
CONTROLLER_POD_LABELS: Final[tuple[tuple[str, Mapping[str, str]], ...]] = (
    (
        "k8s.io/ingress-nginx",
        {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"},
    ),
    ("nginx.org/ingress-controller", {"app.kubernetes.io/name": "nginx-ingress"}),
    ("traefik.io/ingress-controller", {"app.kubernetes.io/name": "traefik"}),
    ("haproxy.org/ingress-controller", {"app.kubernetes.io/name": "kubernetes-ingress"}),
    ("haproxy-ingress.github.io/controller", {"app.kubernetes.io/name": "haproxy-ingress"}),
    ("projectcontour.io/", {"app": "envoy"}),
    ("istio.io/ingress-controller", {"istio": "ingressgateway"}),
    ("ingress-controllers.konghq.com/", {"app.kubernetes.io/name": "kong"}),
)
# Ingresses of one namespace whose controllers are looked for.
MAX_INGRESSES: Final = 3
# Controller pods kept per controller (their labels and addresses are all that is used).
MAX_CONTROLLER_PODS: Final = 5


def controller_pod_labels(controller: str | None) -> Mapping[str, str] | None:
    """The labels of the pods of the controller named ``controller``; None when unknown."""
    if not controller:
        return None
    for prefix, labels in CONTROLLER_POD_LABELS:
        if controller.startswith(prefix):
            return labels
    return None


def ingress_class_name(ingress: Mapping[str, object]) -> str | None:
    """The class an Ingress names (``spec.ingressClassName``, else the legacy annotation)."""
    spec = as_dict(ingress.get("spec"))
    return as_str(spec.get("ingressClassName")) or annotations_of(ingress).get(
        LEGACY_CLASS_ANNOTATION
    )


def class_of(ingress: Mapping[str, object], classes: Iterable[JsonDict]) -> JsonDict | None:
    """The IngressClass serving ``ingress``: the one it names, else the cluster's default."""
    listed = list(classes)
    name = ingress_class_name(ingress)
    if name is not None:
        return next((c for c in listed if _name(c) == name), None)
    return next(
        (c for c in listed if annotations_of(c).get(DEFAULT_CLASS_ANNOTATION) == "true"), None
    )


def controller_of(ingress_class: Mapping[str, object] | None) -> str | None:
    if ingress_class is None:
        return None
    return as_str(as_dict(ingress_class.get("spec")).get("controller"))


def served_ingresses(
    ingresses: Iterable[JsonDict], services: Iterable[JsonDict], pods: Iterable[JsonDict]
) -> list[JsonDict]:
    """The Ingresses (bounded) with a backend Service that selects one of ``pods``."""
    pod_list = list(pods)
    by_name = {(_ns(s), _name(s)): s for s in services}
    served: list[JsonDict] = []
    for ingress in ingresses:
        for backend in ingress_backends(ingress):
            service = by_name.get((_ns(ingress), backend))
            selector = as_dict(as_dict(service.get("spec")).get("selector")) if service else {}
            wanted = {str(k): str(v) for k, v in selector.items()}
            if wanted and any(
                _ns(p) == _ns(ingress) and service_selects(wanted, _labels(p)) for p in pod_list
            ):
                served.append(ingress)
                break
    return served[:MAX_INGRESSES]


def controller_pods(pods: Iterable[JsonDict], labels: Mapping[str, str]) -> list[JsonDict]:
    """The pods carrying every one of ``labels``, bounded."""
    return [p for p in pods if service_selects(labels, _labels(p))][:MAX_CONTROLLER_PODS]


def unknown_ports(ingress: Mapping[str, object], services: Iterable[JsonDict]) -> dict[str, str]:
    """Backend Service -> the port the Ingress names that the Service does not have (by
    ``port.name`` or ``port.number``), for the backends whose Service is known."""
    by_name = {_name(s): s for s in services if _ns(s) == _ns(ingress)}
    spec = as_dict(ingress.get("spec"))
    backends = [as_dict(spec.get("defaultBackend"))] + [
        as_dict(path.get("backend"))
        for rule in dicts(spec.get("rules"))
        for path in dicts(as_dict(rule.get("http")).get("paths"))
    ]
    missing: dict[str, str] = {}
    for backend in backends:
        service = as_dict(backend.get("service"))
        name, port = as_str(service.get("name")), as_dict(service.get("port"))
        if name is None or name not in by_name:
            continue
        ports = dicts(as_dict(by_name[name].get("spec")).get("ports"))
        named = port.get("name")
        if isinstance(named, str):
            if named not in {p.get("name") for p in ports}:
                missing[name] = named
            continue
        number = port.get("number")
        if isinstance(number, int) and number not in {p.get("port") for p in ports}:
            missing[name] = str(number)
    return missing


def _ips(pod: JsonDict) -> list[str]:
    return pod_ips(as_dict(pod.get("status")))


def controller_workload(index: ObjectIndex, pod: JsonDict) -> ObjectRef | None:
    """The workload running a controller pod: its top-most owner when read, else the one its
    controller reference names (a ReplicaSet's Deployment is the ReplicaSet's name without
    the pod's pod-template-hash, as the Deployment controller names them)."""
    found = workload_of(index, pod)
    return ref_of(found) if found is not None else owned_by(pod)


def owned_by(pod: JsonDict) -> ObjectRef | None:
    """The workload a pod's controller reference names, without reading it
    (``objects.pod_workload``: a ReplicaSet's Deployment is the ReplicaSet's name without
    the pod's pod-template-hash)."""
    found = pod_workload(pod)
    return ObjectRef(kind=found[0], namespace=_ns(pod), name=found[1]) if found else None


# The controller flag naming its settings ConfigMap, "<namespace>/<name>" (ingress-nginx,
# HAProxy's controllers); the namespace usually the pod's own, through $(POD_NAMESPACE).
SETTINGS_FLAG: Final = "--configmap"


def settings_config(pod: JsonDict) -> ObjectRef | None:
    """The ConfigMap a controller pod's ``--configmap`` flag names (a bare name, or
    ``$(POD_NAMESPACE)/name``, is in the pod's namespace); None without the flag."""
    for container in dicts(as_dict(pod.get("spec")).get("containers")):
        words = [
            as_str(w) or ""
            for w in [*as_list(container.get("command")), *as_list(container.get("args"))]
        ]
        for at, word in enumerate(words):
            flag, equals, value = word.partition("=")
            if flag != SETTINGS_FLAG:
                continue
            value = value if equals else (words[at + 1] if at + 1 < len(words) else "")
            namespace, slash, name = value.replace("$(POD_NAMESPACE)", _ns(pod) or "").rpartition(
                "/"
            )
            if name:
                return ObjectRef(
                    kind="ConfigMap", namespace=(namespace if slash else "") or _ns(pod), name=name
                )
    return None


def _settings(index: ObjectIndex, pods: list[JsonDict]) -> tuple[ObjectRef | None, JsonDict | None]:
    ref = next((r for p in pods if (r := settings_config(p)) is not None), None)
    return ref, index.get("ConfigMap", ref.namespace, ref.name) if ref is not None else None


def ingress_controllers(
    index: ObjectIndex, namespace: str | None, pods: list[JsonDict], limits: EvidenceLimits
) -> list[IngressControllerEvidence]:
    """For each Ingress of ``namespace`` that serves ``pods``: its class, controller and
    the controller's pods found in ``index`` (those the walk read)."""
    if namespace is None:
        return []
    served = served_ingresses(
        index.in_namespace("Ingress", namespace), index.in_namespace("Service", namespace), pods
    )
    classes = index.kind("IngressClass")
    summaries: list[IngressControllerEvidence] = []
    for ingress in served:
        ingress_class = class_of(ingress, classes)
        controller = controller_of(ingress_class)
        labels = controller_pod_labels(controller)
        found = controller_pods(index.kind("Pod"), labels) if labels else []
        settings, config = _settings(index, found)
        summaries.append(
            IngressControllerEvidence(
                ingress=_name(ingress),
                backends=ingress_backends(ingress)[: limits.max_list_items],
                ingress_class=_name(ingress_class)
                if ingress_class
                else ingress_class_name(ingress),
                controller=controller,
                namespace=_ns(found[0]) if found else None,
                labels=str_map(_labels(found[0]), limits) if found else {},
                ips=[ip for p in found for ip in _ips(p)][: limits.max_list_items],
                pods=len(found),
                ready_pods=sum(1 for p in found if pod_ready(p)),
                unknown_ports=unknown_ports(ingress, index.in_namespace("Service", namespace)),
                workload=controller_workload(index, found[0]) if found else None,
                failing_pods=[t for p in found if (t := pod_trouble(p))][: limits.max_list_items],
                settings=settings,
                settings_written=last_write(config) if config is not None else None,
            )
        )
    return summaries


def host_matches(pattern: str, host: str) -> bool:
    """Whether an Ingress host (``*.example.com`` covers exactly one more label) is ``host``."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == host


def ingress_hosts(ingress: Mapping[str, object]) -> list[str]:
    """The hosts an Ingress serves: its rules' hosts and its TLS sections' hosts."""
    spec = as_dict(ingress.get("spec"))
    hosts = [as_str(r.get("host")) or "" for r in dicts(spec.get("rules"))]
    hosts += [
        h for t in dicts(spec.get("tls")) for h in as_list(t.get("hosts")) if isinstance(h, str)
    ]
    return [h for h in dict.fromkeys(hosts) if h]


def catches_every_host(ingress: Mapping[str, object]) -> bool:
    """Whether an Ingress serves requests for any host: it has a default backend, or a rule
    with no host (the Ingress API's catch-all)."""
    spec = as_dict(ingress.get("spec"))
    return bool(as_dict(spec.get("defaultBackend"))) or any(
        not as_str(r.get("host")) for r in dicts(spec.get("rules"))
    )


def serving_ingress(ingresses: Iterable[JsonDict], hosts: list[str]) -> ObjectRef | None:
    """The Ingress that serves the first of ``hosts`` one serves (exact hosts before
    wildcards, then by namespace and name), as a target; when none names any of them, the
    one Ingress that catches every host (a default backend or a rule without a host), if
    only one does: several would leave the load balancer the probe reached unknown."""
    listed = list(ingresses)
    for host in hosts:
        matches = [
            (not any(h.lower() == host.lower() for h in ingress_hosts(i)), _ns(i), _name(i))
            for i in listed
            if any(host_matches(h, host) for h in ingress_hosts(i))
        ]
        if matches:
            _, namespace, name = min(matches)
            return _ingress_ref(namespace, name)
    catch_all = [i for i in listed if catches_every_host(i)]
    if hosts and len(catch_all) == 1:
        return _ingress_ref(_ns(catch_all[0]), _name(catch_all[0]))
    return None


def _ingress_ref(namespace: str | None, name: str) -> ObjectRef:
    return ObjectRef(
        kind="Ingress", namespace=namespace, name=name, api_version="networking.k8s.io/v1"
    )
