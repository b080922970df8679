"""The API server's storage fails the workload's requests: its own lines quote the API server
answering with etcd's failure words ("etcdserver: request timed out", "etcdserver: leader
changed", "etcdserver: no leader") in the Status of a failed call, again and again. Those
words are the API server passing on that etcd did not commit or serve the request in time
(slow disk fsyncs, lost quorum, leader elections); they are never the client's fault. A
workload that creates pods (a batch scheduler, a CI runner, an operator) or renews a lease
through the API server then fails, restarts or misses its liveness checks, and changing it
changes nothing: an SRE hands the control plane (the ``default/kubernetes`` Service every
in-cluster client calls) to whoever runs it, with the lines.

The same hand-over, less sure, when the API server says nothing but the workload's own
requests to it (client-go URLs, ``/api/v1/...``, ``/apis/<group>/<version>/...``) keep timing
out after they were sent: a datastore on a slow disk (k3s's SQLite on an SD card) answers
writes in seconds, and every lease renewal misses its deadline.

Silent on a single such line (one leader election is routine), on connections that never
opened ("dial tcp ...: i/o timeout": the network's), on requests to another server whose own
API happens to live under ``/api/v1/`` (Prometheus remote write and Mimir's or Thanos'
``/api/v1/push``, Grafana's ``/api/v1/...``): the API server is only reached over TLS (plain
``http://`` only through a local ``kubectl proxy``) and never by another Service's cluster DNS
name, and when the workload itself rolled out or was reconfigured right before the onset (its
own change explains more).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.onset import earliest_onset
from kubetriage.analyzers.shared_dependency import own_changed
from kubetriage.analyzers.support import grep_logs, item
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.vocabulary import Action, Category

# The API server's storage failing, as clients see it in a failed call's Status: etcd's own
# error words, which only the API server passes on.
ETCD_FAILURE: Final = re.compile(
    r"etcdserver: (?:request timed out|leader changed|no leader|too many requests"
    r"|server stopped|request cancelled)"
)
# The workload's own request to the Kubernetes API (a client-go URL: ``/api/v1/...`` or
# ``/apis/<group>/<version>/...``) that was sent and timed out waiting for the answer. A
# connection that never opened ("dial tcp ...: i/o timeout") is the network's, not this.
API_REQUEST_TIMEOUT: Final = re.compile(
    r"(?P<scheme>https?)://(?P<host>[^\s/\"]+)/(?:api/v1|apis/[a-z0-9.-]+/v[0-9a-z]+)/\S*\"?: "
    r"(?:context deadline exceeded|net/http: request canceled|.*Client\.Timeout exceeded)"
)
# A host that is another Service's cluster DNS name (``<service>.<namespace>.svc[...]``): the
# API server's own is ``kubernetes.default.svc``.
_SERVICE_HOST: Final = re.compile(r"^(?P<service>[a-z0-9-]+)\.(?P<namespace>[a-z0-9-]+)\.svc\b")
# Plain HTTP reaches the API server only through a local ``kubectl proxy``.
_LOOPBACK: Final = re.compile(r"^(?:localhost|127\.0\.0\.1|\[::1\])(?::\d+)?$")
_DIAL: Final = re.compile(r"\bdial tcp\b")
# Repeated lines, not one routine leader election.
MIN_LINES: Final = 2
# Every in-cluster client reaches the API server through this Service.
API_SERVER: Final = ObjectRef(kind="Service", namespace="default", name="kubernetes")

# Repeated etcd failures quoted by the API server to the unchanged workload: above a probe
# or crash reading of the symptoms they cause (0.85), which would change the workload; below a
# rule naming the one client that overloads the API server (0.82 on its own rollout plus the
# 429s it causes), which never fires on storage failures.
CONFIDENCE: Final = 0.88
# Only the client's side: its requests to the API server time out again and again while the
# workload did not change (a datastore on a slow disk, such as k3s's SQLite, answers writes
# in seconds). Above the crash loop it causes (0.8) and a node event (0.8); below the etcd
# words, which say what failed behind the API server.
TIMEOUTS_CONFIDENCE: Final = 0.82


def check_api_storage(evidence: Evidence) -> list[Finding]:
    """Hand the control plane to its owners when the API server keeps answering the
    unchanged workload with etcd's failures."""
    own = [log for log in evidence.logs if log.source == "scope"]
    hits = grep_logs(own, ETCD_FAILURE, limit=10)
    confidence = CONFIDENCE
    if len(hits) < MIN_LINES:
        hits = [
            h
            for h in grep_logs(own, API_REQUEST_TIMEOUT, limit=10)
            if not _DIAL.search(h.line) and _reaches_api_server(h.line)
        ]
        confidence = TIMEOUTS_CONFIDENCE
    if len(hits) < MIN_LINES:
        return []
    onset = earliest_onset(evidence)
    if onset is not None and own_changed(evidence, onset):
        return []
    facts = [item(hit.source, hit.line) for hit in hits[:2]]
    storage = confidence == CONFIDENCE
    text = prose.narrative(
        f"the API server behind {prose.obj(API_SERVER)} "
        + ("fails on its storage (etcd)" if storage else "answers too slowly"),
        "escalate to the control plane's owners",
        because=[
            prose.claim(
                (
                    "The API server answered the workload's calls with etcd's failure "
                    if storage
                    else "The workload's requests to the API server timed out waiting for it "
                )
                + prose.count(len(hits), "time"),
                facts[0],
            ),
            prose.claim(
                "The workload did not change before; every in-cluster client reaches the API "
                f"server through {prose.obj(API_SERVER)}",
                facts[1],
            ),
        ],
    )
    return [
        make_finding(
            "api-storage",
            Category.DEPENDENCY_FAILURE,
            confidence,
            text,
            facts,
            Action.ESCALATE,
            API_SERVER,
            {},
        )
    ]


def _reaches_api_server(line: str) -> bool:
    """Whether the timed-out request in ``line`` could have gone to the API server: over TLS
    (or plain HTTP to a local ``kubectl proxy``), and not to another Service by its name."""
    match = API_REQUEST_TIMEOUT.search(line)
    if match is None:
        return False
    host = match["host"]
    if match["scheme"] == "http" and not _LOOPBACK.match(host):
        return False
    service = _SERVICE_HOST.match(host)
    return service is None or (service["service"], service["namespace"]) == (
        API_SERVER.name,
        API_SERVER.namespace,
    )


API_STORAGE_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("api-storage", (Category.DEPENDENCY_FAILURE,), check_api_storage),
)
