"""Checks that a dependency failure names the HTTP status its evidence states: the code after
a status key, an HTTP version or before its reason phrase wins over another bare number of
the same line (a duration, a size); near misses: a bare code alone still counts, and the
digits of a timestamp's fraction or a duration are never read as a status.

Real: Evidence models from ``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

import pytest

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.relations import DependencyEvidence
from tests.support import evidence as make
from tests.support.evidence import naming, top

RELAY = ObjectRef(kind="Service", namespace="outbound", name="mail-relay")


def _portal(line: str) -> Evidence:
    """The healthy portal whose env names the outside mail relay and that logged ``line``."""
    caller = make.container(
        "app", env={"UPSTREAM_URL": "http://mail-relay.outbound.svc.cluster.local"}
    )
    relay = make.external_service("mail-relay", "smtp.provider.example", namespace="outbound")
    return make.evidence(
        workload=make.deployment("portal"),
        pods=[make.app_pod("portal-6f7b8c9d4-abcde", caller)],
        logs=[make.log("portal-6f7b8c9d4-abcde", "app", line)],
        dependencies=[
            DependencyEvidence(
                service=relay, named_by=naming("pod portal-1 env UPSTREAM_URL"), pods=0
            )
        ],
    )


@pytest.mark.parametrize(
    ("line", "said", "unsaid"),
    [
        # A duration of 500 ms before the stated status 503.
        (
            '{"level":"warn","msg":"send failed, will retry","duration_ms":500,"status":503}',
            "HTTP 503",
            "HTTP 500",
        ),
        ("send failed after 500 ms: upstream answered 503 Service Unavailable", "HTTP 503", "500"),
        ("send failed: relay returned status=502 after 500 bytes", "HTTP 502", "500"),
        # Near miss: a bare code with nothing else is still the status.
        ("send failed: upstream connect error, 504 after 3 tries", "HTTP 504", "HTTP 5xx"),
    ],
)
def test_the_status_named_is_the_one_the_line_states(line: str, said: str, unsaid: str) -> None:
    finding = top(_portal(line))
    assert finding.target == RELAY
    assert said in finding.summary
    assert unsaid not in finding.summary


def test_a_timestamps_fraction_is_no_status() -> None:
    # Near miss: ".503" is the milliseconds of the time, the call failed with a reset.
    finding = top(_portal("2026-11-20 09:58:03.503 ERROR send failed: connection reset by peer"))
    assert finding.target == RELAY
    assert "503" not in finding.summary
