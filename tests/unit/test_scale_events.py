"""``analyzers.support.scaled_down``: the one reader of "a ReplicaSet was scaled down" events
that the capacity, scale-in and client-rollout rules share, in every form controllers print
it (Kubernetes' deployment controller before and since 1.28, Argo Rollouts). Pure: real
message texts in, the parsed scale-down out; nothing is mocked."""

from __future__ import annotations

import pytest

from kubetriage.analyzers.support import ScaleDown, scaled_down


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        # kube-controller-manager since 1.28: "Scaled %s replica set %s to %d from %d".
        (
            "Scaled down replica set web-5d8c9f7b4 to 6 from 10",
            ScaleDown("web-5d8c9f7b4", before=10, after=6),
        ),
        # Before 1.28: "Scaled %s replica set %s to %d".
        ("Scaled down replica set web-5d8c9f7b4 to 0", ScaleDown("web-5d8c9f7b4", None, 0)),
        # Argo Rollouts: "Scaled down ReplicaSet %s (revision %d) from %d to %d".
        (
            "Scaled down ReplicaSet checkout-687d76d795 (revision 3) from 5 to 2",
            ScaleDown("checkout-687d76d795", before=5, after=2),
        ),
        ("Scaled down replica set api-7c9 from 4 to 3", ScaleDown("api-7c9", before=4, after=3)),
    ],
)
def test_every_controller_form_is_read(message: str, expected: ScaleDown) -> None:
    assert scaled_down(message) == expected


@pytest.mark.parametrize(
    "message",
    [
        "Scaled up replica set web-5d8c9f7b4 to 10 from 6",
        "Created pod: web-5d8c9f7b4-x2x9q",
        "New size: 6; reason: All metrics below target",
    ],
)
def test_other_messages_are_not_scale_downs(message: str) -> None:
    assert scaled_down(message) is None
