"""Checks the diagnosis prose helpers (``kubetriage.prose``): object, selector, quantity,
count and duration wording, clipping at token boundaries, summary assembly within the length
limit, and root causes citing evidence ids.

Real: the module itself on literal values and on hypothesis-generated names, labels and text;
nothing is replaced.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kubetriage import prose
from kubetriage.models.base import ObjectRef
from kubetriage.models.findings import EvidenceItem

# A DNS-1123 label as Kubernetes names namespaces and most objects (kept to 40 characters:
# a summary names one object and must also say the fix within the limit).
NAMES = st.from_regex(r"[a-z][a-z0-9-]{0,38}[a-z0-9]", fullmatch=True)
WORDS = st.lists(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789/:=-", min_size=1, max_size=25),
    min_size=1,
    max_size=60,
)


def test_objects_read_kind_then_namespace_and_name() -> None:
    assert prose.obj(ObjectRef(kind="Deployment", namespace="shop", name="checkout")) == (
        "Deployment shop/checkout"
    )
    assert prose.obj(ObjectRef(kind="Node", name="worker-1")) == "Node worker-1"


def test_selectors_read_as_kubectl_writes_them() -> None:
    assert prose.selector({"tier": "web", "app": "frontend"}) == "app=frontend,tier=web"
    assert prose.selector({}) == "every pod"


def test_quantities_carry_units() -> None:
    assert prose.memory(512 * 1024**2) == "512Mi"
    assert prose.memory(1.5 * 1024**3) == "1.5Gi"
    assert prose.memory(800 * 1024) == "800Ki"
    assert prose.memory(1) == "1 byte"
    assert prose.cpu(0.25) == "250m CPU"
    assert prose.cpu(1.0) == "1 CPU"
    assert prose.cpu(1.5) == "1.5 CPU"
    assert prose.percent(0.934) == "93%"
    assert [prose.number(v) for v in (0.0421, 12.5, 655.4, 1712.0)] == [
        "0.0421",
        "12.5",
        "655",
        "1,712",
    ]


def test_counts_agree_with_their_noun() -> None:
    assert prose.count(1, "pod") == "1 pod"
    assert prose.count(0, "pod") == "0 pods"
    assert prose.count(3, "restart") == "3 restarts"
    assert prose.count(2, "policy", "policies") == "2 policies"


def test_a_services_endpoint_count_is_said_or_said_to_be_unknown() -> None:
    assert prose.ready_endpoints(1) == "1 ready endpoint"
    assert prose.ready_endpoints(0, 2) == "0 ready endpoints, 2 not ready"
    assert prose.ready_endpoints(None, 0) == "its endpoints were not read"
    assert "None" not in prose.ready_endpoints(None)


def test_a_containers_readiness_is_said_or_said_to_be_unknown() -> None:
    assert [prose.readiness(r) for r in (True, False, None)] == [
        "ready",
        "not ready",
        "readiness unknown",
    ]


def test_durations_use_the_two_largest_units() -> None:
    assert prose.duration(45) == "45s"
    assert prose.duration(12 * 60 + 5) == "12m"
    assert prose.duration(3 * 3600 + 20 * 60) == "3h 20m"
    assert prose.duration(2 * 86400 + 4 * 3600 + 59) == "2d 4h"
    assert prose.duration(-7200) == "2h"


def test_listings_join_with_a_conjunction() -> None:
    assert prose.listing(["a"]) == "a"
    assert prose.listing(["a", "b"]) == "a and b"
    assert prose.listing(["a", "b", "c"], "or") == "a, b or c"
    assert prose.listing(["a", "b", "c", "d", "e"], limit=3) == "a, b and 3 more"


def test_clip_stops_at_a_token_boundary_with_an_ellipsis() -> None:
    line = 'ready check failed err="GET http://auth-api/v1/health: 503 Service Unavailable"'
    clipped = prose.clip(line, 60)
    assert clipped.endswith(prose.ELLIPSIS)
    assert len(clipped) <= 60
    assert line.startswith(clipped[:-1])
    assert line[len(clipped) - 1] == " "


def test_summary_drops_the_aside_before_cutting_anything() -> None:
    problem = "Deployment media/thumbnailer is OOM-killed at its 512Mi memory limit"
    assert prose.summary(problem, "raise it to 1Gi", aside="3 restarts") == (
        "Deployment media/thumbnailer is OOM-killed at its 512Mi memory limit (3 restarts); "
        "raise it to 1Gi."
    )
    long_aside = "container thumbnailer, " * 5
    assert prose.summary(problem, "raise it to 1Gi", aside=long_aside) == (
        f"{problem}; raise it to 1Gi."
    )


def test_root_cause_cites_the_evidence_ids_that_were_kept() -> None:
    kept = EvidenceItem(source="pod/media/x", fact="OOMKilled, exit code 137")
    dropped = EvidenceItem(source="metrics", fact="never listed")
    cited = prose.evidence_ids([kept])
    text = prose.root_cause(
        [
            prose.claim("the container was killed by the kernel", kept, dropped),
            prose.claim("nothing else restarted it"),
        ],
        cited,
    )
    assert text == "The container was killed by the kernel [E1]. Nothing else restarted it."
    assert prose.evidence_line(cited[0]) == "E1 [pod/media/x] OOMKilled, exit code 137"


@given(kind=st.sampled_from(["Deployment", "StatefulSet", "PersistentVolumeClaim"]), ns=NAMES)
def test_summaries_fit_the_limit_and_end_a_sentence(kind: str, ns: str) -> None:
    ref = ObjectRef(kind=kind, namespace=ns, name=ns[::-1].strip("-") or "x")
    text = prose.summary(
        f"{prose.obj(ref)} is OOM-killed at its 512Mi memory limit",
        "raise it to 1Gi",
        aside=f"{prose.count(len(ns), 'restart')} in {prose.duration(len(ns) * 97)}",
    )
    assert len(text) <= prose.SUMMARY_LIMIT
    assert text.endswith("raise it to 1Gi.")
    assert "{'" not in text


@given(words=WORDS, limit=st.integers(min_value=8, max_value=200))
def test_clipped_text_never_ends_mid_word(words: list[str], limit: int) -> None:
    text = " ".join(words)
    clipped = prose.clip(text, limit)
    assert len(clipped) <= limit
    if clipped == text:
        return
    cut = clipped.removesuffix(prose.ELLIPSIS)
    assert clipped.endswith(prose.ELLIPSIS)
    assert text.startswith(cut)
    if len(words[0]) < limit - 1 and cut:
        # Whatever follows the kept text in the original is not the rest of a word.
        assert not (cut[-1].isalnum() and text[len(cut)].isalnum())


@given(problem=WORDS, fix=st.sampled_from(["", "raise it to 1Gi", "roll back to revision 3"]))
def test_summaries_never_exceed_the_limit(problem: list[str], fix: str) -> None:
    text = prose.summary(" ".join(problem), fix)
    assert len(text) <= prose.SUMMARY_LIMIT
    assert text.endswith(".")


def test_fitting_problem_gives_up_a_detail_before_the_sentence_is_clipped() -> None:
    detailed, plain = (
        "Deployment a/b cannot pull image app:1.2",
        "Deployment a/b cannot pull its image",
    )
    assert prose.fitting_problem([detailed, plain], "roll back") == detailed
    long_fix = "x" * (prose.SUMMARY_LIMIT - len(plain) - 3)
    assert prose.fitting_problem([detailed, plain], long_fix) == plain
    assert prose.ELLIPSIS not in prose.summary(plain, long_fix)


def test_fitting_fix_gives_up_the_fixs_detail_before_the_problem_is_clipped() -> None:
    detailed, plain = "allow it in policy baseline in namespace retail", "correct its source"
    assert prose.fitting_fix("NetworkPolicy a/b blocks traffic", [detailed, plain]) == detailed
    long_problem = "x" * (prose.SUMMARY_LIMIT - len(plain) - 4)
    assert prose.fitting_fix(long_problem, [detailed, plain]) == plain
    assert prose.ELLIPSIS not in prose.summary(long_problem, plain)
