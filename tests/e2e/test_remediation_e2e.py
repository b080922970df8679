"""End to end: approving a remediation with ``kubectl patch`` makes the real operator check
the policy, dry-run the change on the server, apply it once and record it, or reject it
with a reason. Real: the emulated API server over HTTP (its audit log and fault injection
are why these tests always use the emulator), kubectl, the kubernetes client, Kopf, the
pipeline, the policy file on disk. The only spy wraps the operator's HTTP client to see
the query strings the audit log does not keep; every request still reaches the server."""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from kubetriage.replay.cases import load_case
from kubetriage.replay.session import load_case_into
from kubetriage.settings import Settings
from tests.e2e.conftest import Cluster
from tests.support.cases import EXAMPLES
from tests.support.incidents import incident
from tests.support.operator import OperatorThread
from tests.support.polling import wait_for

pytestmark = pytest.mark.e2e

SHARED_CASES = EXAMPLES
OOM = ("exports", "csv-exporter", "example-oom-csv-exporter")
IMAGE = ("marketing-site", "landing-page", "example-image-tag-typo")
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}


def _load(cluster: Cluster, case_dir: str) -> None:
    assert cluster.emulator is not None
    case = load_case(SHARED_CASES / case_dir)
    load_case_into(cluster.emulator, case)


def _policy(tmp_path: Path, **policy: Any) -> Path:
    path = tmp_path / "policy.yaml"
    body = {"apiVersion": "kubetriage.io/v1alpha1", "kind": "RemediationPolicy", **policy}
    path.write_text(yaml.safe_dump(body))
    return path


def _oom_operator(
    cluster: Cluster, tmp_path: Path | None, **policy: Any
) -> tuple[OperatorThread, list[str]]:
    """The OOM case loaded, and ``_operator`` under ``policy`` (written to ``tmp_path``; no
    policy file without one)."""
    _load(cluster, OOM[2])
    return _operator(cluster, _policy(tmp_path, **policy) if tmp_path else None)


def _top(cluster: Cluster, namespace: str, workload: str, name: str) -> dict[str, Any]:
    """The top remediation of the Incident ``name`` about ``workload``, once diagnosed."""
    top: dict[str, Any] = _diagnose(cluster, namespace, workload, name)["status"]["diagnosis"][
        "remediations"
    ][0]
    return top


def _operator(cluster: Cluster, policy_file: Path | None) -> tuple[OperatorThread, list[str]]:
    """The operator, and the URLs of the PATCHes its kubernetes client sent, in order."""
    operator = OperatorThread(
        cluster.kubeconfig, settings=Settings(memory_enabled=False, policy_file=policy_file)
    )
    sent: list[str] = []
    rest = operator.client.rest_client
    forward: Callable[..., Any] = rest.request

    def spy(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if method == "PATCH":
            sent.append(url)
        return forward(method, url, *args, **kwargs)

    rest.request = spy  # type: ignore[method-assign]
    return operator, sent


def _get(cluster: Cluster, kind: str, namespace: str, name: str) -> dict[str, Any]:
    out = cluster.kubectl("get", kind, name, "-n", namespace, "-o", "json").stdout
    return json.loads(out)  # type: ignore[no-any-return]


def _wait(
    cluster: Cluster, namespace: str, name: str, done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    return wait_for(
        lambda: _get(cluster, "incident", namespace, name),
        until=lambda body: done(body.get("status") or {}),
        what=f"{namespace}/{name}",
        within=90,
    )


def _diagnose(cluster: Cluster, namespace: str, workload: str, name: str) -> dict[str, Any]:
    body = incident(name, namespace, title=f"{workload} is failing", workload=workload)
    cluster.kubectl("apply", "-f", "-", input_text=yaml.safe_dump(body))
    body = _wait(cluster, namespace, name, lambda s: s.get("phase") in {"Diagnosed", "Failed"})
    assert body["status"]["phase"] == "Diagnosed", body["status"]
    return body


def _approve(
    cluster: Cluster, namespace: str, name: str, remediation_id: str | None, by: str | None
) -> None:
    spec: dict[str, Any] = {"approve": remediation_id}
    if by is not None:
        spec["approvedBy"] = by
    cluster.kubectl(
        "patch", "inc", name, "-n", namespace, "--type", "merge", "-p", json.dumps({"spec": spec})
    )


def _outcome(cluster: Cluster, namespace: str, name: str, remediation_id: str) -> dict[str, Any]:
    body = _wait(
        cluster,
        namespace,
        name,
        lambda s: (
            (s.get("remediation") or {}).get("id") == remediation_id
            and s["remediation"]["result"] != "Applying"
            and "Remediated" in {c["type"] for c in s.get("conditions") or []}
        ),
    )
    return body["status"]  # type: ignore[no-any-return]


def _deployment_writes(cluster: Cluster, name: str) -> list[str]:
    assert cluster.emulator is not None
    return [
        r.verb
        for r in cluster.emulator.audit
        if r.resource == "deployments" and r.name == name and r.verb in WRITE_VERBS
    ]


def _events(cluster: Cluster, namespace: str, involved: str) -> list[str]:
    items = json.loads(cluster.kubectl("get", "events", "-n", namespace, "-o", "json").stdout)[
        "items"
    ]
    return [e["reason"] for e in items if e["involvedObject"]["name"] == involved]


def _memory(deployment: dict[str, Any]) -> tuple[str, str]:
    resources = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]
    return resources["limits"]["memory"], resources["requests"]["memory"]


def _wait_events(cluster: Cluster, namespace: str, involved: str, wanted: set[str]) -> None:
    wait_for(
        lambda: set(_events(cluster, namespace, involved)),
        until=lambda reasons: wanted <= reasons,
        what=f"events {wanted} on {involved}",
        within=30,
    )


def test_approved_memory_increase_is_dry_run_then_applied_once_bounded_and_undoable(
    emulated: Cluster, tmp_path: Path
) -> None:
    cluster = emulated
    assert cluster.emulator is not None
    namespace, workload, _ = OOM
    operator, sent = _oom_operator(
        cluster,
        tmp_path,
        rules=[{"actions": ["increase-memory"], "namespaces": ["exp*"]}],
        bounds={"maxMemoryFactor": 1.5},
    )
    with operator:
        diagnosed = _diagnose(cluster, namespace, workload, "oom")
        top = diagnosed["status"]["diagnosis"]["remediations"][0]
        assert top["action"] == "increase-memory"
        assert "--limits=memory=512Mi" in top["command"]  # the analyzer suggests 2x
        before_rv = _get(cluster, "deployment", namespace, workload)["metadata"]["resourceVersion"]
        cluster.emulator.clear_audit()
        _approve(cluster, namespace, "oom", top["id"], "alice@example.com")
        status = _outcome(cluster, namespace, "oom", top["id"])

        record = status["remediation"]
        assert record["result"] == "Applied", record
        assert record["action"] == "increase-memory"
        assert record["target"]["name"] == workload
        assert record["approvedBy"] == "alice@example.com"
        assert record["approvedBySource"] == "spec.approvedBy"
        assert record["approvedAt"]
        assert record["appliedAt"]
        assert record["dryRun"] is True
        assert "capped" in record["message"]
        changes = {c["path"]: (c.get("before"), c.get("after")) for c in record["changes"]}
        limit_path = "spec.template.spec.containers[exporter].resources.limits.memory"
        assert changes[limit_path] == ('"256Mi"', '"384Mi"')
        remediated = {c["type"]: c for c in status["conditions"]}["Remediated"]
        assert (remediated["status"], remediated["reason"]) == ("True", "Applied")
        assert status["observedGeneration"] == 2  # the approval's generation is acknowledged

        deployment = _get(cluster, "deployment", namespace, workload)
        # 1.5 x 256Mi: the policy bound, not the suggested 512Mi.
        assert _memory(deployment) == ("384Mi", "384Mi")
        ledger = json.loads(
            deployment["metadata"]["annotations"]["kubetriage.io/last-remediations"]
        )
        assert [(e["id"], e["incident"]) for e in ledger] == [(top["id"], f"{namespace}/oom")]

        # The server saw two PATCHes of the Deployment: the dry run first, then the real one.
        assert _deployment_writes(cluster, workload) == ["patch", "patch"]
        to_deployment = [u for u in sent if f"/deployments/{workload}" in u]
        assert [parse_qs(urlsplit(u).query).get("dryRun") for u in to_deployment] == [
            ["All"],
            None,
        ]
        assert deployment["metadata"]["resourceVersion"] != before_rv
        # Nothing else outside the Incident's own bookkeeping was written.
        written = {
            (r.resource, r.name)
            for r in cluster.emulator.audit
            if r.verb in WRITE_VERBS and r.resource not in {"incidents", "events"}
        }
        assert written == {("deployments", workload)}

        _wait_events(
            cluster,
            namespace,
            "oom",
            {"RemediationApproved", "RemediationDryRun", "RemediationApplied"},
        )
        _wait_events(cluster, namespace, workload, {"RemediationDryRun", "RemediationApplied"})

        # Approving the same id again (after clearing it) is a no-op.
        _approve(cluster, namespace, "oom", None, None)
        _approve(cluster, namespace, "oom", top["id"], "bob@example.com")
        _wait(
            cluster,
            namespace,
            "oom",
            lambda s: (
                {c["type"]: c for c in s["conditions"]}["Remediated"]["reason"] == "AlreadyApplied"
            ),
        )
        assert _deployment_writes(cluster, workload) == ["patch", "patch"]

    # The recorded undo command restores the previous limits exactly.
    undo = record["undo"]
    assert undo["patchType"] == "strategic"
    args = shlex.split(undo["command"])
    assert args[0] == "kubectl"
    cluster.kubectl(*args[1:])
    assert _memory(_get(cluster, "deployment", namespace, workload)) == ("256Mi", "256Mi")


def test_without_a_policy_an_approval_is_rejected_and_nothing_changes(
    emulated: Cluster,
) -> None:
    cluster = emulated
    namespace, workload, _ = OOM
    operator, sent = _oom_operator(cluster, None)
    with operator:
        top = _top(cluster, namespace, workload, "oom")
        before = _get(cluster, "deployment", namespace, workload)
        _approve(cluster, namespace, "oom", top["id"], "alice@example.com")
        status = _outcome(cluster, namespace, "oom", top["id"])
        _wait_events(cluster, namespace, "oom", {"RemediationRejected"})
    assert status["remediation"]["result"] == "Rejected"
    remediated = {c["type"]: c for c in status["conditions"]}["Remediated"]
    assert (remediated["status"], remediated["reason"]) == ("False", "NoPolicy")
    assert "no remediation policy" in remediated["message"]
    assert _get(cluster, "deployment", namespace, workload) == before
    assert _deployment_writes(cluster, workload) == []
    assert not [u for u in sent if "/deployments/" in u]


@pytest.mark.parametrize(
    ("prepare", "reason"),
    [
        pytest.param(
            lambda c: c.kubectl(
                "annotate", "deployment", "csv-exporter", "-n", "exports",
                "kubetriage.io/remediation=disabled",
            ),
            "OptedOut",
            id="opt-out-annotation",
        ),
        pytest.param(
            lambda c: c.kubectl(
                "annotate", "deployment", "csv-exporter", "-n", "exports",
                "kubetriage.io/last-remediations="
                + json.dumps(
                    [
                        {
                            "at": time.strftime(
                                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 600)
                            ),
                            "action": "restart",
                            "id": "restart-000000",
                            "incident": "exports/earlier",
                        }
                    ]
                ),
            ),
            "RateLimited",
            id="rate-limit",
        ),
    ],
)  # fmt: skip
def test_policy_refusals_leave_the_workload_untouched(
    emulated: Cluster, tmp_path: Path, prepare: Callable[[Cluster], Any], reason: str
) -> None:
    cluster = emulated
    namespace, workload, case_dir = OOM
    _load(cluster, case_dir)
    prepare(cluster)
    assert cluster.emulator is not None
    cluster.emulator.clear_audit()
    policy = _policy(
        tmp_path,
        rules=[{"actions": ["increase-memory", "restart"], "namespaces": ["exports"]}],
        rateLimit={"maxPerWorkloadPerHour": 1},
    )
    operator, _ = _operator(cluster, policy)
    with operator:
        top = _top(cluster, namespace, workload, "oom")
        before = _get(cluster, "deployment", namespace, workload)
        _approve(cluster, namespace, "oom", top["id"], "alice@example.com")
        status = _outcome(cluster, namespace, "oom", top["id"])
        _wait_events(cluster, namespace, workload, {"RemediationRejected"})
    assert status["remediation"]["result"] == "Rejected"
    assert status["remediation"]["reason"] == reason
    assert _get(cluster, "deployment", namespace, workload) == before
    assert _deployment_writes(cluster, workload) == []


def test_rate_limit_counts_what_an_earlier_incident_applied(
    emulated: Cluster, tmp_path: Path
) -> None:
    cluster = emulated
    namespace, workload, _ = OOM
    operator, _ = _oom_operator(
        cluster,
        tmp_path,
        rules=[{"actions": ["increase-memory"], "namespaces": ["exports"]}],
        rateLimit={"maxPerWorkloadPerHour": 1},
    )
    with operator:
        top = _top(cluster, namespace, workload, "first")
        _approve(cluster, namespace, "first", top["id"], "alice")
        assert _outcome(cluster, namespace, "first", top["id"])["remediation"]["result"] == (
            "Applied"
        )
        second = _diagnose(cluster, namespace, workload, "second")["status"]["diagnosis"]
        again = second["remediations"][0]
        _approve(cluster, namespace, "second", again["id"], "alice")
        status = _outcome(cluster, namespace, "second", again["id"])
    assert (status["remediation"]["result"], status["remediation"]["reason"]) == (
        "Rejected",
        "RateLimited",
    )
    assert _deployment_writes(cluster, workload) == ["patch", "patch"]


def test_unknown_remediation_id_is_rejected_listing_the_valid_ids(
    emulated: Cluster, tmp_path: Path
) -> None:
    cluster = emulated
    namespace, workload, _ = OOM
    operator, _ = _oom_operator(
        cluster, tmp_path, rules=[{"actions": ["increase-memory"], "namespaces": ["*"]}]
    )
    with operator:
        diagnosis = _diagnose(cluster, namespace, workload, "oom")["status"]["diagnosis"]
        _approve(cluster, namespace, "oom", "rollback-ffffff", None)
        status = _outcome(cluster, namespace, "oom", "rollback-ffffff")
    remediated = {c["type"]: c for c in status["conditions"]}["Remediated"]
    assert (remediated["status"], remediated["reason"]) == ("False", "UnknownRemediation")
    for remediation in diagnosis["remediations"]:
        assert remediation["id"] in remediated["message"]
    assert _deployment_writes(cluster, workload) == []


def test_a_failed_dry_run_stops_before_the_real_patch(emulated: Cluster, tmp_path: Path) -> None:
    cluster = emulated
    assert cluster.emulator is not None
    namespace, workload, _ = OOM
    operator, sent = _oom_operator(
        cluster, tmp_path, rules=[{"actions": ["increase-memory"], "namespaces": ["exports"]}]
    )
    with operator:
        top = _top(cluster, namespace, workload, "oom")
        before = _get(cluster, "deployment", namespace, workload)
        cluster.emulator.fail_requests(
            1,
            code=422,
            predicate=lambda r: r.verb == "patch" and r.resource == "deployments",
            message="admission webhook denied the request",
        )
        _approve(cluster, namespace, "oom", top["id"], "alice")
        status = _outcome(cluster, namespace, "oom", top["id"])
        _wait_events(cluster, namespace, "oom", {"RemediationFailed"})
    record = status["remediation"]
    assert (record["result"], record["reason"]) == ("DryRunFailed", "DryRunFailed")
    assert "admission webhook denied" in record["message"]
    assert _get(cluster, "deployment", namespace, workload) == before
    assert _deployment_writes(cluster, workload) == ["patch"]  # the dry run, refused
    to_deployment = [u for u in sent if f"/deployments/{workload}" in u]
    assert [parse_qs(urlsplit(u).query).get("dryRun") for u in to_deployment] == [["All"]]


def test_an_approval_already_recorded_on_the_workload_is_not_applied_twice(
    emulated: Cluster, tmp_path: Path
) -> None:
    """What an operator restart between the write and the status update leaves behind: the
    workload's ledger says the approval was applied, the Incident does not know yet."""
    cluster = emulated
    namespace, workload, _ = OOM
    operator, _ = _oom_operator(
        cluster, tmp_path, rules=[{"actions": ["increase-memory"], "namespaces": ["exports"]}]
    )
    with operator:
        top = _top(cluster, namespace, workload, "oom")
        entry = {
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "action": "increase-memory",
            "id": top["id"],
            "incident": f"{namespace}/oom",
        }
        cluster.kubectl(
            "annotate", "deployment", workload, "-n", namespace,
            f"kubetriage.io/last-remediations={json.dumps([entry])}",
        )  # fmt: skip
        before = _get(cluster, "deployment", namespace, workload)
        _approve(cluster, namespace, "oom", top["id"], "alice")
        status = _outcome(cluster, namespace, "oom", top["id"])
    assert (status["remediation"]["result"], status["remediation"]["reason"]) == (
        "Applied",
        "AlreadyApplied",
    )
    assert _get(cluster, "deployment", namespace, workload) == before


def test_rollback_restores_the_previous_revisions_pod_template(
    emulated: Cluster, tmp_path: Path
) -> None:
    cluster = emulated
    namespace, workload, case_dir = IMAGE
    _load(cluster, case_dir)
    policy = _policy(
        tmp_path,
        rules=[
            {
                "actions": ["rollback"],
                "namespaces": ["marketing-*"],
                "selector": {"matchLabels": {}},
                "names": ["landing-*"],
            }
        ],
    )
    operator, _ = _operator(cluster, policy)
    with operator:
        diagnosis = _diagnose(cluster, namespace, workload, "typo")["status"]["diagnosis"]
        rollback = next(r for r in diagnosis["remediations"] if r["action"] == "rollback")
        _approve(cluster, namespace, "typo", rollback["id"], "carol")
        status = _outcome(cluster, namespace, "typo", rollback["id"])
    record = status["remediation"]
    assert record["result"] == "Applied", record
    template = _get(cluster, "deployment", namespace, workload)["spec"]["template"]
    assert template["spec"]["containers"][0]["image"] == "docker.io/library/nginx:1.27-alpine"
    assert "pod-template-hash" not in template["metadata"]["labels"]
    image_path = "spec.template.spec.containers[web].image"
    changes = {c["path"]: (c.get("before"), c.get("after")) for c in record["changes"]}
    assert changes[image_path] == (
        '"docker.io/library/nginx:1.27-alpline"',
        '"docker.io/library/nginx:1.27-alpine"',
    )
    assert "from revision 4 to 3" in record["message"]
    assert "--to-revision=4" in record["undo"]["note"]
