"""The probe-refusal rules: a running server that answers, but refuses what its probe sends.

The kubelet's probes are clients with fixed habits: an HTTP probe addresses the pod by its IP
(``Host: <pod IP>:<port>`` unless the probe sets ``httpHeaders``) and speaks plaintext unless
its scheme is HTTPS; the built-in gRPC probe has no TLS at all. A server that stopped
accepting those habits (a framework's host check that only admits named hosts: Rails'
HostAuthorization, Django's ALLOWED_HOSTS; a listener switched to TLS) says so in its own
log, once per probe: "Blocked hosts: 10.8.2.45:3000", "Invalid HTTP_HOST header:
'10.1.2.3:8000'", "first record does not look like a TLS handshake". The process runs and
serves its real clients (who send a named Host and speak TLS); only the probe is turned
away, so its pods never turn ready (or are killed). An SRE corrects the probe (a Host header,
the HTTPS scheme, an exec probe that speaks TLS or a plaintext health port), not the release
that tightened the server, and not the server's Service its callers see without endpoints.

Two rules: the workload's own pods (``check_probe_refused``), and a dependency the workload
fails on whose replicas are not ready for that reason (``check_callee_probe_refused``, from
the dependency's own log and the kubelet's Warnings about it).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.dependencies import caller_fails_on
from kubetriage.analyzers.pods import pod_events
from kubetriage.analyzers.support import (
    event_fact,
    grep_logs,
    item,
    iter_containers,
    logs_of,
    pod_source,
    workload_ref,
)
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import LogTail
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a probe-refusal finding is, by the evidence that earns it."""

    # The workload's probe fails while its server's log refuses the probe's own request (an
    # IP-literal Host, plaintext on a TLS listener): above a rollout that tightened the
    # server (0.88), since a rollback undoes a wanted change the probe can follow.
    own: float = 0.9
    # A dependency's replicas are not ready for that reason: above an escalation at its
    # Service that names no cause (0.86).
    callee: float = 0.89


CONFIDENCE: Final = _Confidence()

# A web framework refusing a request for its Host header, naming the host: Rails'
# ActionDispatch::HostAuthorization ("Blocked host: x" up to 7.0, "Blocked hosts: x" since)
# and Django's "Invalid HTTP_HOST header: 'x'. You may need to add 'x' to ALLOWED_HOSTS."
HOST_REFUSED_LOG: Final = re.compile(
    r"(?:Blocked hosts?: |Invalid HTTP_HOST header: ')(?P<host>[\[\]\w.:-]+)"
)
# A TLS server receiving plaintext, in its own words: Go crypto/tls and net/http, nginx, Java
# JSSE, Netty, OpenSSL.
PLAINTEXT_ON_TLS_LOG: Final = re.compile(
    r"(?i)first record does not look like a TLS handshake"
    r"|client sent an HTTP request to an HTTPS server"
    r"|plain HTTP request was sent to HTTPS port"
    r"|Unrecognized SSL message, plaintext connection"
    r"|NotSslRecordException"
    r"|ssl3_get_record:http request|SSL routines::http request"
)
_PROBE_FAILED = re.compile(r"(?i)(?P<kind>liveness|readiness|startup) probe failed")
_CLIENT_ERROR = re.compile(r"(?i)status ?code:? 4(00|01|03|21)\b")


def ip_host(host: str) -> bool:
    """Whether a Host header names an IP address (how the kubelet addresses a pod)."""
    bare = host.strip("'\"")
    if bare.startswith("["):
        bare = bare[1:].partition("]")[0]
    elif bare.count(":") == 1:
        bare = bare.partition(":")[0]
    try:
        ipaddress.ip_address(bare)
    except ValueError:
        return False
    return True


def _refusal(logs: list[LogTail], reasons: str) -> tuple[str, EvidenceItem] | None:
    """What the server says it refused, when it is what the kubelet's probe sends: an
    IP-literal Host (with the probe answered 4xx), or plaintext on a TLS listener."""
    if _CLIENT_ERROR.search(reasons):
        for hit in grep_logs(logs, HOST_REFUSED_LOG, limit=5):
            match = HOST_REFUSED_LOG.search(hit.line)
            if match is not None and ip_host(match["host"]):
                return "host", item(hit.source, hit.line)
    hits = grep_logs(logs, PLAINTEXT_ON_TLS_LOG, limit=1)
    return ("tls", item(hits[0].source, hits[0].line)) if hits else None


def _fix(kind: str) -> str:
    if kind == "host":
        return "give the probe a Host header the server accepts"
    return "make the probe speak TLS"


def _why(kind: str) -> str:
    if kind == "host":
        return "The server refuses the probe's request for its Host, the pod's IP address"
    return "The server expects TLS and refuses the probe's plaintext"


def check_probe_refused(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[str] = set()
    for pod, container in iter_containers(evidence, include_init=False):
        if container.state.state != "running":
            continue
        failed = [
            e
            for e in pod_events(evidence, pod)
            if e.reason == "Unhealthy" and _PROBE_FAILED.search(e.message)
        ]
        target = workload_ref(evidence, pod)
        if not failed or target is None or target.kind not in ACTION_TARGET_KINDS[Action.FIX_PROBE]:
            continue
        if f"{target.key()}/{container.name}" in seen:
            continue
        # Replicas of one workload refuse their probes alike; any replica's tail tells why.
        logs = logs_of(evidence, pod, container.name) or [
            log for log in evidence.logs if log.container == container.name
        ]
        found = _refusal(logs, " ".join(e.message for e in failed))
        if found is None:
            continue
        seen.add(f"{target.key()}/{container.name}")
        kind, said = found
        probe = _PROBE_FAILED.search(failed[0].message)
        probe_kind = probe["kind"].lower() if probe else "readiness"
        state = item(
            pod_source(pod),
            f"container {container.name}: running, {prose.readiness(container.ready)}, "
            f"{prose.count(container.restart_count, 'restart')}",
        )
        failure = item("events", event_fact(failed[0]))
        findings.append(
            make_finding(
                "probe-refused",
                Category.PROBE_FAILURE,
                CONFIDENCE.own,
                prose.narrative(
                    f"The {probe_kind} probe of {prose.obj(target)} is refused by its own server",
                    _fix(kind),
                    because=[
                        prose.claim("The process runs", state),
                        prose.claim(f"Its {probe_kind} probe fails", failure),
                        prose.claim(_why(kind), said),
                    ],
                ),
                [state, failure, said],
                Action.FIX_PROBE,
                target,
                {"container": container.name, "probe": probe_kind},
            )
        )
    return findings


def check_callee_probe_refused(evidence: Evidence) -> list[Finding]:
    """A dependency the workload fails on is short of ready replicas whose processes run
    (none waits or restarts) while its probes fail and its own log refuses what they send."""
    findings: list[Finding] = []
    for dependency in evidence.dependencies:
        workload = dependency.workload
        if workload is None or workload.kind not in ACTION_TARGET_KINDS[Action.FIX_PROBE]:
            continue
        if not dependency.short_of_ready() or not dependency.failing_pods:
            continue
        if any(p.waiting or p.phase or p.restarts for p in dependency.failing_pods):
            continue  # not (only) a running process its probe turns away
        failed = [w for w in dependency.warnings if _PROBE_FAILED.search(w)]
        found = _refusal(dependency.logs, " ".join(failed)) if failed else None
        if found is None or not caller_fails_on(evidence, dependency):
            continue
        kind, said = found
        source = f"dependency {prose.obj(dependency.ref or workload)}"
        facts = [
            item(
                source,
                f"{dependency.ready_replicas} of {dependency.desired_replicas} replicas ready, "
                f"{prose.count(len(dependency.failing_pods), 'pod')} running not ready",
            ),
            item(source, failed[0]),
            said,
            item("dependency", f"named by {', '.join(dependency.named_by_texts(2))}"),
        ]
        findings.append(
            make_finding(
                "callee-probe-refused",
                Category.PROBE_FAILURE,
                CONFIDENCE.callee,
                prose.narrative(
                    f"{prose.obj(workload)}, which the workload calls, refuses its own probe",
                    _fix(kind),
                    because=[
                        prose.claim("Its pods run but are not ready", facts[0]),
                        prose.claim("Their probes fail", facts[1]),
                        prose.claim(_why(kind), facts[2]),
                        prose.claim("The workload's calls to it fail", facts[3]),
                    ],
                ),
                facts,
                Action.FIX_PROBE,
                workload,
            )
        )
    return findings


PROBE_REFUSAL_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("probe-refused", (Category.PROBE_FAILURE,), check_probe_refused),
    Analyzer("callee-probe-refused", (Category.PROBE_FAILURE,), check_callee_probe_refused),
)
