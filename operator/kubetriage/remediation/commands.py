"""kubectl command templates, one per remediation action.

The command shown in a remediation is always generated here from the action, the target and
validated parameters; text from a model, an alert or a log never reaches it. Every value is
checked against a strict pattern and shell-quoted, so a hostile object name cannot smuggle a
second command into what an SRE copies into a terminal. Called by ``kubetriage.combine``.
"""

from __future__ import annotations

import re
import shlex

from kubetriage.models.base import ObjectRef
from kubetriage.models.vocabulary import Action

_DNS_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")
_INTEGER = re.compile(r"^[0-9]{1,6}$")
_CONTAINER = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")

# kubectl resource names for the kinds an action may target.
_RESOURCE = {
    "Deployment": "deployment",
    "StatefulSet": "statefulset",
    "DaemonSet": "daemonset",
    "ReplicaSet": "replicaset",
    "Job": "job",
    "CronJob": "cronjob",
    "ConfigMap": "configmap",
    "Secret": "secret",
    "Node": "node",
    "PersistentVolumeClaim": "pvc",
    "NetworkPolicy": "networkpolicy",
    "Service": "service",
    "Certificate": "certificate",
    "ResourceQuota": "resourcequota",
}


def _param(params: dict[str, str], key: str, pattern: re.Pattern[str]) -> str | None:
    value = params.get(key)
    if value is None or not pattern.fullmatch(value):
        return None
    return value


def _ref(target: ObjectRef) -> str:
    resource = _RESOURCE.get(target.kind, target.kind.lower())
    name = target.name if _DNS_NAME.fullmatch(target.name) else "INVALID-NAME"
    return shlex.quote(f"{resource}/{name}")


def _ns(target: ObjectRef) -> str:
    if not target.namespace:
        return ""
    namespace = target.namespace if _DNS_NAME.fullmatch(target.namespace) else "INVALID-NAMESPACE"
    return f"-n {shlex.quote(namespace)} "


def render_command(action: Action, target: ObjectRef, params: dict[str, str]) -> str:
    """The kubectl command an SRE would run for ``action`` on ``target``.

    Placeholders in angle brackets mark values only a person can supply (a corrected image,
    a missing key's value); they are deliberately not valid shell so they cannot run as is.
    """
    ns, ref = _ns(target), _ref(target)
    container = _param(params, "container", _CONTAINER)
    container_flag = f" -c {container}" if container else ""
    if action is Action.INCREASE_MEMORY:
        memory = _param(params, "memory", _QUANTITY) or "<new-limit>"
        return (
            f"kubectl {ns}set resources {ref}{container_flag} "
            f"--limits=memory={memory} --requests=memory={memory}"
        )
    if action is Action.INCREASE_CPU:
        cpu = _param(params, "cpu", _QUANTITY) or "<new-limit>"
        return f"kubectl {ns}set resources {ref}{container_flag} --limits=cpu={cpu}"
    if action is Action.ROLLBACK:
        revision = _param(params, "revision", _INTEGER)
        to_revision = f" --to-revision={revision}" if revision else ""
        return f"kubectl {ns}rollout undo {ref}{to_revision}"
    if action is Action.RESTART:
        return f"kubectl {ns}rollout restart {ref}"
    if action is Action.SCALE_OUT:
        replicas = _param(params, "replicas", _INTEGER) or "<replicas>"
        return f"kubectl {ns}scale {ref} --replicas={replicas}"
    if action is Action.FIX_CONFIG:
        key = _param(params, "key", re.compile(r"^[-._a-zA-Z0-9]{1,253}$"))
        if target.kind == "ConfigMap" and params.get("missing") == "object":
            literal = f"--from-literal={key}=<value>" if key else "--from-file=<path>"
            name = shlex.quote(target.name)
            return f"kubectl {ns}create configmap {name} {literal}"
        return f"kubectl {ns}edit {ref}"
    if action is Action.FIX_IMAGE:
        image_container = container or "<container>"
        return f"kubectl {ns}set image {ref} {image_container}=<corrected-image>"
    if action is Action.FIX_PROBE:
        return f"kubectl {ns}edit {ref}  # correct the probe path, port or timing"
    if action is Action.FREE_CAPACITY:
        if target.kind == "Node":
            return f"kubectl describe {ref}"
        return f"kubectl {ns}describe {ref}  # then add nodes, lower requests or fix the constraint"
    if action is Action.DRAIN_NODE:
        return (
            f"kubectl cordon {ref} && "
            f"kubectl drain {ref} --ignore-daemonsets --delete-emptydir-data"
        )
    if action is Action.EXPAND_STORAGE:
        size = _param(params, "size", _QUANTITY) or "<new-size>"
        patch = shlex.quote(f'{{"spec":{{"resources":{{"requests":{{"storage":"{size}"}}}}}}}}')
        return f"kubectl {ns}patch {ref} --type merge -p {patch}"
    if action is Action.FIX_NETWORK:
        return f"kubectl {ns}edit {ref}"
    if action is Action.RENEW_CERTIFICATE:
        if target.kind == "Certificate":
            return f"cmctl renew {ns}{shlex.quote(target.name)}"
        return f"kubectl {ns}describe {ref}  # then reissue the certificate it holds"
    if action is Action.ESCALATE:
        return f"kubectl {ns}describe {ref}  # hand to the owner with this evidence"
    raise ValueError(f"no command template for action {action!r}")
