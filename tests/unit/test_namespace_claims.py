"""The volumes of the incident's namespace that no object the walk followed mounts: a claim
there out of bytes or of inodes is asked about (``query_templates_volumes``), so that a store
the alerted workload reaches in ways no object names (a build cache its CI job pods call)
still shows as full; a claim of the namespace far from full answers nothing, and the claims
the other queries already ask about are not asked about twice.

Real: ``build_scope``/``select_queries``, the real ``promtool test rules`` evaluating the
rendered queries over series, and the storage rule over Evidence models from
``tests.support.evidence``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from kubetriage.analyzers.storage import check_storage
from kubetriage.evidence.queries import build_scope, select_queries
from kubetriage.models.base import ObjectRef
from kubetriage.models.findings import Finding
from kubetriage.models.incident import Alert
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import CHECKOUT_POD
from tests.support.promtool_checks import assert_promtool, expect

WINDOW = timedelta(minutes=66)
RUNNER = ObjectRef(kind="Deployment", namespace="ci", name="runner")
MOUNTED = ObjectRef(kind="PersistentVolumeClaim", namespace="ci", name="runner-home")
NAMES = ("namespace_claims_unavailable_ratio", "namespace_claims_inodes_used_ratio")


def _queries(*claims: ObjectRef, target: ObjectRef = RUNNER) -> dict[str, str]:
    alert = Alert(status="firing", labels={"alertname": "X", "namespace": "ci"})
    scope = build_scope(target, [alert], claims=claims)
    return {q.name: q.promql for q in select_queries(scope, WINDOW) if q.name in NAMES}


def test_the_namespaces_other_claims_are_asked_about_without_the_mounted_ones() -> None:
    queries = _queries(MOUNTED)
    assert set(queries) == set(NAMES)
    for promql in queries.values():
        assert 'namespace="ci"' in promql
        assert 'persistentvolumeclaim!~"runner-home"' in promql
        assert promql.rstrip().endswith(">= 0.9")
    # The claim the incident is about is asked about by its own queries already.
    about = _queries(target=ObjectRef(kind="PersistentVolumeClaim", namespace="ci", name="cache"))
    assert all('persistentvolumeclaim!="cache"' in q for q in about.values())
    # No namespace, nothing to ask.
    assert not {q.name for q in select_queries(build_scope(None, []), WINDOW)} & set(NAMES)


def _series(claim: str, **values: str) -> list[tuple[str, str]]:
    labels = f'namespace="ci",persistentvolumeclaim="{claim}"'
    return [(f"kubelet_volume_stats_{name}{{{labels}}}", value) for name, value in values.items()]


def test_only_a_claim_near_full_answers_and_not_a_mounted_one(tmp_path: Path) -> None:
    queries = _queries(MOUNTED)
    series = [
        # Half its bytes free, out of inodes: answers on the inode query only.
        *_series(
            "cache",
            available_bytes="250x2",
            capacity_bytes="500x2",
            inodes_used="1000x2",
            inodes="1000x2",
        ),
        # Healthy: answers nothing.
        *_series(
            "logs",
            available_bytes="400x2",
            capacity_bytes="500x2",
            inodes_used="10x2",
            inodes="1000x2",
        ),
        # Full, but mounted by the workload: its own queries ask about it.
        *_series("runner-home", available_bytes="1x2", capacity_bytes="500x2"),
    ]
    labels = {"namespace": "ci", "persistentvolumeclaim": "cache"}
    assert_promtool(
        tmp_path,
        series,
        [
            expect(
                queries["namespace_claims_inodes_used_ratio"],
                1,
                labels=f"{{{_labels(labels)}}}",
                at="1m",
            ),
            expect(queries["namespace_claims_unavailable_ratio"], None, at="1m"),
        ],
    )


def _labels(labels: dict[str, str]) -> str:
    return ",".join(f'{k}="{v}"' for k, v in labels.items())


def _evidence_with(query_name: str, share: float) -> list[Finding]:
    ratio = make.metric(
        f"max by (namespace, persistentvolumeclaim) (kubelet_volume_stats_{query_name})"
        " / max by (namespace, persistentvolumeclaim) (kubelet_volume_stats_inodes)",
        last=share,
        labels={"namespace": "ci", "persistentvolumeclaim": "cache"},
        name="namespace_claims_inodes_used_ratio",
    )
    ev = make.evidence(
        workload=make.deployment(),
        pods=[make.pod(CHECKOUT_POD, make.container("app"), namespace="ci")],
        metrics=[ratio],
    )
    return check_storage(ev)


def test_the_storage_rule_expands_a_namespace_claim_out_of_inodes() -> None:
    [finding] = _evidence_with("inodes_used", 1.0)
    assert (finding.category, finding.action, finding.target) == (
        Category.STORAGE,
        Action.EXPAND_STORAGE,
        ObjectRef(kind="PersistentVolumeClaim", namespace="ci", name="cache"),
    )
    assert "of inodes" in finding.summary
    # Near miss: the same claim with most of its inodes free is no finding.
    assert _evidence_with("inodes_used", 0.56) == []
