"""The volume claims a Job's own log names: what a run-to-completion task created or waits on.

A Job that provisions, restores or migrates data often creates a claim (and a pod or a
StatefulSet to mount it) through the API rather than mounting it itself, and then waits for it
until its deadline kills it. The failed Job's pods then show only an exit by SIGTERM; what an
SRE reads is the run's log (``created pvc ledger/data-verify-0``, ``waiting for claim ...``) and
then the claim it names: its phase and its provisioning events say why the run never finished.

Pure; used by the collector (``event_subjects``: the claims' events are read) and by the
builder (``select_pvcs``: the claims are summarised), so both keep the same claims. Only claims
that exist in the Job's namespace are kept (a name in free text is a lead, the object is the
evidence), and only for a Job: a long-running service's log mentioning a claim is not a task
waiting on it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from kubetriage.evidence.raw import kind_of
from kubetriage.models.object_evidence import LogTail
from kubetriage.models.objects import JsonDict
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

# A claim named in free text: "pvc ns/name", "PersistentVolumeClaim \"name\"", "claim name".
CLAIM_IN_TEXT = re.compile(
    r"(?i)(?:persistentvolumeclaim|pvc|claim)[s]? \"?(?:[\w.-]+/)?(?P<name>[a-z0-9][\w.-]*)\"?"
)


def claim_mentions(text: str) -> list[str]:
    """The claim names ``text`` mentions, in order, each once."""
    return list(dict.fromkeys(m["name"] for m in CLAIM_IN_TEXT.finditer(text)))


def claims_named_by_run(
    workload: JsonDict | None,
    pods: Iterable[JsonDict],
    tails: Iterable[LogTail],
    existing: Collection[str],
    limit: int,
) -> list[str]:
    """The claims of the Job ``workload``'s namespace (among ``existing``) that the log tails
    of its ``pods`` name, first named first, at most ``limit``; none for any other workload."""
    if workload is None or kind_of(workload) != "Job":
        return []
    namespace = _ns(workload)
    own = {_name(p) for p in pods if _ns(p) == namespace}
    found: list[str] = []
    for tail in tails:
        if tail.namespace != namespace or tail.pod not in own:
            continue
        for line in tail.lines:
            found += [n for n in claim_mentions(line) if n in existing and n not in found]
    return found[:limit]
