"""Checks the signal-swallowing shell: a rollout that started a container under ``sh -c``
with several commands and no ``exec`` before the last, whose pods are then killed rather than
stopped (a line logged well after the kubelet began stopping one, or exit 137 without OOM),
is rolled back; near misses stay quiet: ``exec`` before the app, a single command, a ``trap``,
a shell in the previous revision too, pods stopped cleanly, an OOM kill.

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

import pytest

from kubetriage.analyzers.signal_wrappers import swallows_sigterm
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ContainerEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import (
    CHECKOUT_POD,
    analyze,
    assert_leads,
    container,
    deployment,
    event,
    evidence,
    log,
    pod,
    rollout_revisions,
    terminated,
)

WRAPPED = ["/bin/sh", "-c", ". /etc/app/env.sh; python -m app"]
DIRECT = ["python", "-m", "app"]
# Logged before and after the kubelet began stopping the pod (``event`` saw it 30 minutes ago).
BEFORE_STOP = '{"ts":"2026-11-20T09:20:00Z","msg":"received batch"}'
AFTER_STOP = '{"ts":"2026-11-20T09:31:10Z","msg":"received batch"}'


@pytest.mark.parametrize(
    ("argv", "swallows"),
    [
        (WRAPPED, True),
        (["bash", "-ec", "source /env && ./server"], True),
        (["sh", "-c", "migrate\nserve"], True),
        (["sh", "-c", ". /etc/app/env.sh; exec python -m app"], False),
        (["sh", "-c", "python -m app"], False),
        (["sh", "-c", "trap 'kill -TERM $child' TERM; app & child=$!; wait"], False),
        (["sh", "script.sh"], False),
        (DIRECT, False),
        ([], False),
    ],
)
def test_which_shells_swallow_sigterm(argv: list[str], swallows: bool) -> None:
    assert swallows_sigterm(argv) is swallows


def _evidence(
    *,
    new: list[str] = WRAPPED,
    old: list[str] = DIRECT,
    lines: str = f"{BEFORE_STOP}\n{AFTER_STOP}",
    app: ContainerEvidence | None = None,
) -> Evidence:
    new_rev, old_rev = rollout_revisions(
        8, {"app": "r/app:2"}, {"app": "r/app:1"}, minutes_ago=90, ready=1
    )
    return evidence(
        workload=deployment(),
        revisions=[
            new_rev.model_copy(update={"commands": {"app": new}}),
            old_rev.model_copy(update={"commands": {"app": old}}),
        ],
        pods=[pod(CHECKOUT_POD, app or container("app", args=new))],
        events=[event("Killing", "Stopping container app", name=CHECKOUT_POD, type_="Normal")],
        logs=[log(CHECKOUT_POD, "app", lines)],
    )


def _fired(ev: Evidence) -> bool:
    return any(f.analyzer == "signal-swallowing-shell" for f in analyze(ev).findings)


def test_a_wrapped_command_whose_pods_work_past_the_stop_is_rolled_back() -> None:
    result = analyze(_evidence())
    finding = assert_leads(result, Category.BAD_ROLLOUT, Action.ROLLBACK, deployment().ref)
    assert finding.analyzer == "signal-swallowing-shell"
    assert finding.params == {"revision": "7"}


def test_exit_137_without_oom_is_a_kill_and_an_oom_kill_is_not() -> None:
    killed = container("app", args=WRAPPED, last_state=terminated("Error", 137))
    oom = container("app", args=WRAPPED, last_state=terminated("OOMKilled", 137))
    assert _fired(_evidence(lines=BEFORE_STOP, app=killed))
    assert not _fired(_evidence(lines=BEFORE_STOP, app=oom))


def test_near_misses_stay_quiet() -> None:
    exec_last = ["/bin/sh", "-c", ". /etc/app/env.sh; exec python -m app"]
    assert not _fired(_evidence(new=exec_last))
    assert not _fired(_evidence(old=["/bin/sh", "-c", ". /etc/app/old.sh; python -m app"]))
    assert not _fired(_evidence(lines=BEFORE_STOP))  # stopped cleanly
