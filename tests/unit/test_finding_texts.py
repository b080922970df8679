"""Property tests of what the analyzers (and the "unknown" explainer) write, whatever the
objects are called and whatever their logs say: every summary is one sentence within the
limit, never cut, naming the object, and free of log excerpts, timestamps, IPs, reprs and
redaction markers; every root cause cites evidence the finding carries.

Real: the analyzer registry and ``explain_unknown`` on Evidence built by
tests/unit/evidence_factories.py from hypothesis-generated names, labels, images, alert names
and log lines; nothing is replaced.
"""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from kubetriage import prose
from kubetriage.models.base import ObjectRef
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ServiceEvidence
from kubetriage.unknown import explain_unknown
from tests.support.evidence import (
    alert,
    analyze,
    container,
    deployment,
    event,
    evidence,
    log,
    pod,
    revision,
    terminated,
    top,
    waiting,
)

# Kubernetes object names as people write them (DNS labels); up to 30 characters each, the
# size for which a summary fits in full (longer names clip the problem, never the fix).
NAMES = st.from_regex(r"[a-z]([a-z0-9-]{0,28}[a-z0-9])?", fullmatch=True)
LOG_LINES = st.sampled_from(
    [
        "2026-11-20T09:59:21Z panic: runtime error: invalid memory address {'a': 1}",
        "Traceback (most recent call last): KeyError: 'x' at 10.1.2.3:8080",
        "level=fatal ts=2026-11-20 09:55:39 msg=boom token=[REDACTED:github-token]",
        "error: unrecognized arguments: --prefetch-multiplier 2",
    ]
)
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|\b\d{2}:\d{2}:\d{2}\b")
IPV4 = re.compile(r"\b\d{1,3}(\.\d{1,3}){3}\b")


def _check(finding: Finding, *names: str) -> None:
    summary = finding.summary
    assert len(summary) <= prose.SUMMARY_LIMIT, summary
    assert summary.endswith(".")
    assert prose.ELLIPSIS not in summary, summary
    for marker in ("{'", "[REDACTED", "(s)", "\n"):
        assert marker not in summary
    assert not TIMESTAMP.search(summary)
    assert not IPV4.search(summary)
    assert any(name in summary for name in names), summary
    assert finding.narrative is not None
    cited = [e for c in finding.narrative.because for e in c.evidence]
    assert cited
    assert all(e in finding.evidence for e in cited)


@settings(max_examples=40, deadline=None)
@given(ns=NAMES, name=NAMES, box=NAMES, limit=st.integers(16, 8192), restarts=st.integers(0, 999))
def test_oom_summaries(ns: str, name: str, box: str, limit: int, restarts: int) -> None:
    limits = {"memory": f"{limit}Mi"}
    ev = evidence(
        workload=deployment(name, ns, containers=[container(box, limits=limits)]),
        pods=[
            pod(
                f"{name}-7d9f6c8b5-x2x9k",
                container(
                    box,
                    ready=False,
                    restarts=restarts,
                    state=waiting("CrashLoopBackOff"),
                    last_state=terminated("OOMKilled", 137),
                    limits=limits,
                ),
                namespace=ns,
                replica_set=f"{name}-7d9f6c8b5",
            )
        ],
    )
    _check(top(ev), f"{ns}/{name}")


@settings(max_examples=40, deadline=None)
@given(ns=NAMES, name=NAMES, box=NAMES, line=LOG_LINES, code=st.sampled_from([1, 2, 139]))
def test_crash_loop_summaries_never_quote_the_log(
    ns: str, name: str, box: str, line: str, code: int
) -> None:
    pod_name = f"{name}-7d9f6c8b5-x2x9k"
    ev = evidence(
        workload=deployment(name, ns),
        pods=[
            pod(
                pod_name,
                container(
                    box,
                    ready=False,
                    restarts=7,
                    state=waiting("CrashLoopBackOff"),
                    last_state=terminated("Error", code),
                ),
                namespace=ns,
                replica_set=f"{name}-7d9f6c8b5",
            )
        ],
        logs=[log(pod_name, box, line, namespace=ns)],
    )
    _check(top(ev), f"{ns}/{name}")


@settings(max_examples=40, deadline=None)
@given(ns=NAMES, name=NAMES, registry=NAMES, tag=NAMES)
# Found by hypothesis: 24-character names left no room for the image and the rollback fix.
@example(ns="a" + "0" * 23, name="a" + "0" * 23, registry="a", tag="a" + "0" * 12)
def test_image_pull_summaries(ns: str, name: str, registry: str, tag: str) -> None:
    image = f"{registry}.example.com:5000/team/{name}:{tag}"
    pod_name = f"{name}-7d9f6c8b5-x2x9k"
    ev = evidence(
        workload=deployment(name, ns, revision=2),
        revisions=[
            revision(f"{name}-7d9f6c8b5", 2, {"app": image}, current=True),
            revision(f"{name}-5c4b3a2d1", 1, {"app": f"{image}-old"}, ready=2),
        ],
        pods=[
            pod(
                pod_name,
                container(
                    "app",
                    image,
                    ready=False,
                    state=waiting("ImagePullBackOff", f'Back-off pulling image "{image}"'),
                ),
                namespace=ns,
                replica_set=f"{name}-7d9f6c8b5",
            )
        ],
        events=[
            event(
                "Failed",
                f'Failed to pull image "{image}": manifest unknown at 2026-11-20T09:59:21Z',
                name=pod_name,
                namespace=ns,
            )
        ],
    )
    for finding in analyze(ev).findings:
        _check(finding, f"{ns}/{name}")


@settings(max_examples=40, deadline=None)
@given(ns=NAMES, name=NAMES, labels=st.dictionaries(NAMES, NAMES, min_size=1, max_size=4))
def test_selector_summaries_read_as_kubectl_writes_them(
    ns: str, name: str, labels: dict[str, str]
) -> None:
    ev = evidence(
        target=ObjectRef(kind="Service", namespace=ns, name=name),
        services=[
            ServiceEvidence(
                name=name, namespace=ns, selector=labels, matching_pods=0, ready_endpoints=0
            )
        ],
    )
    finding = top(ev)
    _check(finding, f"{ns}/{name}")
    assert finding.narrative is not None
    assert prose.selector(labels) in prose.root_cause(
        finding.narrative.because, prose.evidence_ids(finding.evidence)
    )


@settings(max_examples=40, deadline=None)
@given(
    ns=NAMES,
    name=NAMES,
    kind=st.sampled_from(["Deployment", "Service", "PersistentVolumeClaim"]),
    alertname=st.from_regex(r"[A-Z][A-Za-z]{0,40}", fullmatch=True),
    status=st.sampled_from(["ok", "no_data", "unavailable", "not_configured"]),
)
def test_unknown_summaries(ns: str, name: str, kind: str, alertname: str, status: str) -> None:
    ev = evidence(
        target=ObjectRef(kind=kind, namespace=ns, name=name),
        alerts=[alert(alertname=alertname, namespace=ns)],
    )
    text = explain_unknown(ev, metrics_status=status)
    summary = prose.narrative_summary(text)
    assert len(summary) <= prose.SUMMARY_LIMIT
    assert prose.ELLIPSIS not in summary
    assert f"{kind} {ns}/{name}" in summary
    assert 2 <= len(text.because) <= 4
