"""What a container that reads a ConfigMap or Secret through the API itself (a workflow
executor saving outputs, a controller, an operator) says when the object it read lacks a key:
no pod references the object, so the kubelet never checks it, and the reader's own log or
termination message is the only witness. Read by the config-missing rule.

Pure functions of evidence models; the words are ``kubetriage.config_errors``'.
"""

from __future__ import annotations

from kubetriage import prose
from kubetriage.analyzers.support import grep_logs, item, pod_source, states
from kubetriage.config_errors import READ_KEY_MISSING, read_key_missing
from kubetriage.models.base import ObjectRef
from kubetriage.models.findings import EvidenceItem
from kubetriage.models.object_evidence import ContainerEvidence, LogTail, PodEvidence

# How much of the line that says so is quoted.
QUOTE = 200


def container_failed(container: ContainerEvidence) -> bool:
    """Whether a container failed: it restarts, is kept waiting, or ended non-zero."""
    return (
        container.restart_count > 0
        or container.state.state == "waiting"
        or any(s.state == "terminated" and s.exit_code not in (None, 0) for s in states(container))
    )


def read_key_reports(
    pod: PodEvidence, logs: list[LogTail]
) -> list[tuple[ObjectRef, str, EvidenceItem]]:
    """The ConfigMaps and Secrets a failed container of the pod says lack a key, from its
    termination messages and its log: the object (in the pod's namespace unless the words
    name one), the key, and the line that says so. Words of a container that did not fail
    are a warning it survived, not the fault."""
    failed = {c.name for c in pod.containers if container_failed(c)}
    texts: list[tuple[str, str, str]] = [
        (c.name, pod_source(pod), f"{c.name}: {s.message}")
        for c in pod.containers
        for s in states(c)
        if s.state == "terminated" and s.message
    ]
    texts += [
        (log.container, hit.source, hit.line)
        for log in logs
        for hit in grep_logs([log], READ_KEY_MISSING, limit=1)
    ]
    found: list[tuple[ObjectRef, str, EvidenceItem]] = []
    for container, source, text in texts:
        said = read_key_missing(text)
        if said is None or container not in failed:
            continue
        target = ObjectRef(
            kind=said.kind, namespace=said.namespace or pod.namespace, name=said.name
        )
        if all(t != target or k != said.key for t, k, _ in found):
            found.append((target, said.key, item(source, prose.clip(text, QUOTE))))
    return found
