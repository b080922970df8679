"""The ConfigMaps a pod reads its settings from through the Kubernetes API rather than
through a mount or an env reference: the kubelet never sees them, so only what names them
in the pod spec says that the pod depends on them. Two well-known readers:

- a proxy's controller naming its settings ConfigMap by flag, as ``NAMESPACE/NAME``:
  ingress-nginx and both HAProxy ingress controllers (``--configmap``), NGINX Inc's
  (``-nginx-configmaps``); their manifests spell the namespace ``$(POD_NAMESPACE)``;
- a Spring Boot application using Spring Cloud Kubernetes config (``spring.config.import``
  of ``kubernetes:``, or any ``spring.cloud.kubernetes.*`` setting), which reads the
  ConfigMap named by ``spring.cloud.kubernetes.config.name`` or its ``sources[n].name``,
  else the one named after ``spring.application.name``, in its own namespace unless another
  is configured, and with reload enabled applies an edit of it to the running pods with no
  rollout.

An edit of such a ConfigMap is a change of the pods' behaviour, dated like a mounted one's
(``kubetriage.evidence.changes.config_changes``). Pure.
"""

from __future__ import annotations

import re
from typing import Final

from kubetriage.evidence.raw import as_list, dicts
from kubetriage.models.objects import JsonDict

_SETTINGS_FLAG: Final = re.compile(
    r"^--?(?:configmap|nginx-configmaps)=(?:(?P<ns>[^/\s]+)/)?(?P<name>[a-z0-9][-a-z0-9.]*)$"
)
# Spring Boot's relaxed binding: ``spring.cloud.kubernetes.config.name`` is set as the env
# var ``SPRING_CLOUD_KUBERNETES_CONFIG_NAME`` or the argument
# ``--spring.cloud.kubernetes.config.name=...``; both are read into dotted lower-case keys.
_SPRING_KUBERNETES: Final = "spring.cloud.kubernetes."
_SPRING_IMPORT: Final = "spring.config.import"
_SPRING_NAME_KEYS: Final = re.compile(
    r"^spring\.cloud\.kubernetes\.config\.(?:name|sources\.?\[?\d+\]?\.name)$"
)
_SPRING_APPLICATION: Final = "spring.application.name"
_SPRING_NAMESPACE: Final = "spring.cloud.kubernetes.config.namespace"
_SPRING_DISABLED: Final = "spring.cloud.kubernetes.config.enabled"
_ARG: Final = re.compile(r"^--(?P<key>spring\.[a-z0-9.\[\]_-]+)=(?P<value>.*)$", re.IGNORECASE)


def _spring_settings(container: JsonDict) -> dict[str, str]:
    """The container's Spring properties set by plain env vars and ``--key=value`` args, as
    dotted lower-case keys (``SPRING_APPLICATION_NAME`` -> ``spring.application.name``)."""
    found: dict[str, str] = {}
    for var in dicts(container.get("env")):
        name, value = var.get("name"), var.get("value")
        if isinstance(name, str) and name.startswith("SPRING_") and isinstance(value, str):
            found[name.lower().replace("_", ".")] = value
    for arg in as_list(container.get("args")) + as_list(container.get("command")):
        match = _ARG.match(arg) if isinstance(arg, str) else None
        if match:
            found[match["key"].lower()] = match["value"]
    return found


def spring_config_maps(container: JsonDict, namespace: str | None) -> set[str]:
    """The ConfigMaps of ``namespace`` a Spring Cloud Kubernetes container reads: those its
    config names, else the one named after its application; none when it does not use
    Spring Cloud Kubernetes config, turns it off, or reads another namespace."""
    settings = _spring_settings(container)
    uses = "kubernetes:" in settings.get(_SPRING_IMPORT, "") or any(
        key.startswith(_SPRING_KUBERNETES) for key in settings
    )
    if not uses or settings.get(_SPRING_DISABLED, "").lower() == "false":
        return set()
    if settings.get(_SPRING_NAMESPACE, namespace) != namespace:
        return set()
    named = {v for k, v in settings.items() if _SPRING_NAME_KEYS.match(k) and v}
    application = settings.get(_SPRING_APPLICATION)
    return named or ({application} if application else set())


def settings_config_maps(pod_spec: JsonDict, namespace: str | None) -> set[str]:
    """Names of the ConfigMaps of the pod's own ``namespace`` its containers read through
    the API as their settings: named by a controller's flag
    (``--configmap=$(POD_NAMESPACE)/ingress-nginx-controller``) or by Spring Cloud
    Kubernetes config."""
    found: set[str] = set()
    for container in dicts(pod_spec.get("containers")):
        for arg in as_list(container.get("args")) + as_list(container.get("command")):
            match = _SETTINGS_FLAG.match(arg) if isinstance(arg, str) else None
            if match and match["ns"] in (None, "$(POD_NAMESPACE)", namespace):
                found.add(match["name"])
        found |= spring_config_maps(container, namespace)
    return found
