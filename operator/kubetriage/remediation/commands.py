"""kubectl command templates, one per remediation action.

The command shown in a remediation is always generated here from the action, the target and
the remediation's typed parameters (``kubetriage.models.remediation``, validated against
strict patterns); text from a model, an alert or a log never reaches it. Names are checked
and shell-quoted, so a hostile object name cannot smuggle a second command into what an SRE
copies into a terminal. The command is display only: approval executes the parameters and
never reads this text. Called by ``kubetriage.combine``.
"""

from __future__ import annotations

import re
import shlex

from kubetriage.models.base import ObjectRef
from kubetriage.models.remediation import (
    ConfigParameters,
    CpuParameters,
    ImageParameters,
    MemoryParameters,
    RemediationParameters,
    RollbackParameters,
    ScaleParameters,
    StorageParameters,
)
from kubetriage.models.vocabulary import Action

_DNS_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")

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


def _ref(target: ObjectRef) -> str:
    resource = _RESOURCE.get(target.kind, target.kind.lower())
    name = target.name if _DNS_NAME.fullmatch(target.name) else "INVALID-NAME"
    return shlex.quote(f"{resource}/{name}")


def _ns(target: ObjectRef) -> str:
    if not target.namespace:
        return ""
    namespace = target.namespace if _DNS_NAME.fullmatch(target.namespace) else "INVALID-NAMESPACE"
    return f"-n {shlex.quote(namespace)} "


# The actions whose command needs nothing but the (quoted) namespace flag and target.
_PLAIN: dict[Action, str] = {
    Action.RESTART: "kubectl {ns}rollout restart {ref}",
    Action.FIX_PROBE: "kubectl {ns}edit {ref}  # correct the probe path, port or timing",
    Action.DRAIN_NODE: (
        "kubectl cordon {ref} && kubectl drain {ref} --ignore-daemonsets --delete-emptydir-data"
    ),
    Action.FIX_NETWORK: "kubectl {ns}edit {ref}",
    Action.ESCALATE: "kubectl {ns}describe {ref}  # hand to the owner with this evidence",
}


def render_command(action: Action, target: ObjectRef, parameters: RemediationParameters) -> str:
    """The kubectl command an SRE would run for ``action`` on ``target``.

    Placeholders in angle brackets mark values only a person can supply (a corrected image,
    a missing key's value); they are deliberately not valid shell so they cannot run as is.
    """
    ns, ref = _ns(target), _ref(target)
    if action in _PLAIN:
        return _PLAIN[action].format(ns=ns, ref=ref)
    container = (
        parameters.container if isinstance(parameters, MemoryParameters | CpuParameters) else None
    )
    container_flag = f" -c {container}" if container else ""
    if action is Action.INCREASE_MEMORY:
        memory = parameters.memory if isinstance(parameters, MemoryParameters) else None
        value = memory or "<new-limit>"
        return (
            f"kubectl {ns}set resources {ref}{container_flag} "
            f"--limits=memory={value} --requests=memory={value}"
        )
    if action is Action.INCREASE_CPU:
        cpu = parameters.cpu if isinstance(parameters, CpuParameters) else None
        return (
            f"kubectl {ns}set resources {ref}{container_flag} --limits=cpu={cpu or '<new-limit>'}"
        )
    if action is Action.ROLLBACK:
        revision = parameters.revision if isinstance(parameters, RollbackParameters) else None
        to_revision = f" --to-revision={revision}" if revision else ""
        return f"kubectl {ns}rollout undo {ref}{to_revision}"
    if action is Action.SCALE_OUT:
        replicas = parameters.replicas if isinstance(parameters, ScaleParameters) else None
        return f"kubectl {ns}scale {ref} --replicas={replicas or '<replicas>'}"
    if action is Action.FIX_CONFIG:
        config = parameters if isinstance(parameters, ConfigParameters) else ConfigParameters()
        if target.kind == "ConfigMap" and config.missing == "object":
            key = config.key
            literal = f"--from-literal={key}=<value>" if key else "--from-file=<path>"
            name = shlex.quote(target.name)
            return f"kubectl {ns}create configmap {name} {literal}"
        return f"kubectl {ns}edit {ref}"
    if action is Action.FIX_IMAGE:
        image = parameters.container if isinstance(parameters, ImageParameters) else None
        return f"kubectl {ns}set image {ref} {image or '<container>'}=<corrected-image>"
    if action is Action.FREE_CAPACITY:
        if target.kind == "Node":
            return f"kubectl describe {ref}"
        return f"kubectl {ns}describe {ref}  # then add nodes, lower requests or fix the constraint"
    if action is Action.EXPAND_STORAGE:
        size = parameters.size if isinstance(parameters, StorageParameters) else None
        patch = shlex.quote(
            f'{{"spec":{{"resources":{{"requests":{{"storage":"{size or "<new-size>"}"}}}}}}}}'
        )
        return f"kubectl {ns}patch {ref} --type merge -p {patch}"
    if action is Action.RENEW_CERTIFICATE:
        if target.kind == "Certificate":
            return f"cmctl renew {ns}{shlex.quote(target.name)}"
        return f"kubectl {ns}describe {ref}  # then reissue the certificate it holds"
    raise ValueError(f"no command template for action {action!r}")
