"""Checks that children of a prefork supervisor killed by SIGKILL inside a container that
keeps running, its working set pressing on the memory limit, are read as the memory cgroup's
OOM killer (oom-killed, raise the memory limit), a node OOMKilling Event adding to it; and
that the same lines with memory well below the limit (gunicorn writes "Perhaps out of
memory?" for any SIGKILL, e.g. after a worker timeout), or from a container that restarts
(the OOMKilled rule's case), or a line that is no child's death, are not.

Real: Evidence models from ``tests.support.evidence``, the rule and the whole registry.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.child_oom_kills import (
    CHILD_SIGKILL_LOG,
    CONFIDENCE,
    check_child_oom_kills,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, by_category

GI = 1024**3
CELERY = (
    "[2026-11-20 09:27:12,507: ERROR/MainProcess] Process 'ForkPoolWorker-31' pid:2301 "
    "exited with 'signal 9 (SIGKILL)'"
)
PHP_FPM = (
    "[20-Nov-2026 09:27:12] WARNING: [pool www] child 1187 exited on signal 9 (SIGKILL) "
    "after 41.2 seconds from start"
)
GUNICORN = (
    "[2026-11-20 09:27:12 +0000] [1] [ERROR] Worker (pid:256) was sent SIGKILL! "
    "Perhaps out of memory?"
)
CGROUP_OOM = (
    "Memory cgroup out of memory: Killed process 3412877 (celery) total-vm:2981164kB, "
    "anon-rss:611048kB"
)


def _evidence(line: str, share: float, *, restarts: int = 0, **fields: Any) -> Evidence:
    app = make.container("app", limits={"memory": "6Gi"}, restarts=restarts)
    return make.checkout_evidence(
        app,
        logs=[make.checkout_log(f"{line}\n{line}")],
        metrics=[
            make.metric(
                'container_memory_working_set_bytes{container="app"}',
                last=share * 6 * GI,
                max_=share * 6 * GI,
                first=0.4 * 6 * GI,
                labels={"container": "app"},
            )
        ],
        **fields,
    )


def test_child_sigkill_lines_of_supervisors_are_recognised() -> None:
    assert CHILD_SIGKILL_LOG.search(CELERY)
    assert CHILD_SIGKILL_LOG.search(PHP_FPM)
    assert CHILD_SIGKILL_LOG.search(GUNICORN)
    assert CHILD_SIGKILL_LOG.search("[notice] 1#1: worker process 31 exited on signal 9")
    assert CHILD_SIGKILL_LOG.search(
        "[core:notice] [pid 1] AH00052: child pid 88 exit signal Killed (9)"
    )
    assert not CHILD_SIGKILL_LOG.search("received SIGTERM, shutting down workers")
    assert not CHILD_SIGKILL_LOG.search("task 4f1 failed: process exited with code 1")


def test_children_killed_at_the_limit_are_the_memory_cgroups_oom_killer() -> None:
    findings = by_category(analyze(_evidence(CELERY, 0.99)), Category.OOM_KILLED)
    assert findings
    top = max(findings, key=lambda f: f.confidence)
    assert top.analyzer == "child-oom-kills"
    assert top.action == Action.INCREASE_MEMORY
    assert top.target == ObjectRef(kind="Deployment", namespace="shop", name="checkout")
    assert top.confidence == CONFIDENCE.children_killed


def test_a_cgroup_oom_event_on_the_pods_node_corroborates() -> None:
    node_event = make.event("OOMKilling", CGROUP_OOM, name="worker-1", kind="Node", namespace=None)
    (finding,) = check_child_oom_kills(_evidence(PHP_FPM, 0.97, events=[node_event]))
    assert finding.confidence == round(CONFIDENCE.children_killed + CONFIDENCE.node_event_bonus, 3)
    elsewhere = make.event("OOMKilling", CGROUP_OOM, name="worker-9", kind="Node", namespace=None)
    (finding,) = check_child_oom_kills(_evidence(PHP_FPM, 0.97, events=[elsewhere]))
    assert finding.confidence == CONFIDENCE.children_killed


def test_sigkill_lines_with_memory_well_below_the_limit_are_not_oom_kills() -> None:
    assert not check_child_oom_kills(_evidence(GUNICORN, 0.4))


def test_a_restarting_container_is_left_to_the_oomkilled_rule() -> None:
    assert not check_child_oom_kills(_evidence(CELERY, 0.99, restarts=3))


def test_no_child_death_in_the_logs_no_finding() -> None:
    assert not check_child_oom_kills(_evidence("worker ready, concurrency 48", 0.99))
