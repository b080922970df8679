"""The own-sockets rule (``kubetriage.analyzers.own_sockets``): a workload whose own pods run
out of local ports (EADDRNOTAVAIL) or file descriptors (EMFILE) since a new revision that
changed its code or settings, while the previous revision served longer without, is rolled
back, above the callee's failure the same lines would otherwise suggest; and the rule stays
silent when no such rollout precedes the errors, when only the old revision's pods log them,
or when the new revision had outlived the old one.

Real: the whole analyzer registry run over Evidence models built by the shared factories;
the log lines are in the words of Go's net package and Node.js. Synthetic: every object.
"""

from __future__ import annotations

from kubetriage.analyzers.own_sockets import check_own_sockets
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import RevisionEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import (
    alert,
    analyze,
    app_pod,
    assert_leads,
    container,
    deployment,
    evidence,
    log,
    revision,
    rollout_change,
    rollout_revisions,
    service,
)

POD = "search-5d8f7c6b9-x2x9k"
OLD_POD = "search-7a6b5c4d3-q1w2e"
APP = deployment("search", revision=19)
GO_PORTS = (
    'level=ERROR msg="stock lookup failed" err="Get \\"http://stock.inv.svc:8080/v1\\": '
    'dial tcp 10.0.13.63:8080: connect: cannot assign requested address"'
)
NODE_FDS = '{"level":50,"msg":"server error","err":{"message":"accept EMFILE","code":"EMFILE"}}'


def _revisions(
    minutes_ago: float, *, old_minutes_ago: float = 60 * 24 * 14
) -> list[RevisionEvidence]:
    new, old = rollout_revisions(
        19,
        {"app": "search:1.32.0"},
        {"app": "search:1.31.0"},
        minutes_ago=minutes_ago,
        ready=2,
        names=("search-5d8f7c6b9", "search-7a6b5c4d3"),
    )
    old = revision(old.name, old.revision, old.images, created_minutes_ago=old_minutes_ago)
    return [new, old]


def _evidence(
    line: str = GO_PORTS,
    *,
    rolled_minutes_ago: float = 70,
    aspects: tuple[str, ...] = ("image", "env"),
    pod_name: str = POD,
    old_minutes_ago: float = 60 * 24 * 14,
) -> Evidence:
    return evidence(
        workload=APP,
        pods=[app_pod(pod_name, container("app"))],
        revisions=_revisions(rolled_minutes_ago, old_minutes_ago=old_minutes_ago),
        changes=[rollout_change(APP.ref, 18, *aspects, minutes_ago=rolled_minutes_ago)]
        if aspects
        else [],
        logs=[log(pod_name, "app", line)],
        alerts=[alert(alertname="StockClientErrorRatioHigh", namespace="shop")],
        services=[service("search")],
    )


def test_ports_exhausted_after_the_release_roll_it_back() -> None:
    assert_leads(analyze(_evidence()), Category.BAD_ROLLOUT, Action.ROLLBACK, APP.ref)
    (found,) = check_own_sockets(_evidence())
    assert found.params == {"revision": "18"}
    assert "cannot assign requested address" in found.evidence[0].fact


def test_descriptor_leak_hours_after_the_release_is_still_the_release() -> None:
    """A leak takes hours to fill the descriptor table: past the two hours a step is
    attributed to a change, but well inside the previous revision's two weeks."""
    ev = _evidence(NODE_FDS, rolled_minutes_ago=170)
    assert_leads(analyze(ev), Category.BAD_ROLLOUT, Action.ROLLBACK, APP.ref)


def test_silent_without_a_rollout_that_changed_code_or_settings() -> None:
    assert check_own_sockets(_evidence(aspects=())) == []
    assert check_own_sockets(_evidence(aspects=("resources",))) == []


def test_silent_when_only_the_old_revisions_pods_run_out() -> None:
    assert check_own_sockets(_evidence(pod_name=OLD_POD)) == []


def test_silent_when_the_new_revision_outlived_the_old_one() -> None:
    """The previous revision served for less time than the new one took to run out: nothing
    says the old code would not have run out as well."""
    assert check_own_sockets(_evidence(rolled_minutes_ago=600, old_minutes_ago=900)) == []


def test_silent_when_the_release_is_a_day_old() -> None:
    assert check_own_sockets(_evidence(rolled_minutes_ago=60 * 30)) == []


def test_silent_on_errors_that_are_the_callees() -> None:
    line = 'level=ERROR err="dial tcp 10.0.13.63:8080: connect: connection refused"'
    assert check_own_sockets(_evidence(line)) == []
