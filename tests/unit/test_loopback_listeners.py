"""A server that listens on the loopback address only, while the kubelet's probes dial the
pod's IP and are refused on that port: what the pod runs moved the server out of the probe's
reach (``analyzers.listen_ports.serves_elsewhere``), so a rollout that left its probes alone
is rolled back and the probe is not the fault.

Everything is real but the Evidence, which is synthetic (``tests/support/evidence``
factories): the analyzer registry runs as in production; the listening lines are the start-up
lines of Puma, Kestrel, gunicorn and a Go server.
"""

from __future__ import annotations

import pytest

from kubetriage.analyzers.listen_ports import loopback, serves_elsewhere
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make

CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
NEW_POD = "checkout-7d9f6c8b5-new01"


def _rolled_out(listening: str, *aspects: str) -> Evidence:
    """Revision 7 (a new image) rolled out 20 minutes ago; its pod's probes on :3000 are
    refused and the kubelet kills it, while its server logged ``listening``; revision 6 still
    serves on a pod of its own."""
    new = make.container(
        "app",
        "ghcr.io/example/app:2.0",
        ready=False,
        restarts=4,
        last_state=make.terminated("Error", 143),
    )
    old = make.container("app", "ghcr.io/example/app:1.9")
    refused = [
        make.event(
            "Unhealthy",
            f'{kind} probe failed: Get "http://10.1.2.3:3000/up": dial tcp 10.1.2.3:3000: '
            "connect: connection refused",
            name=NEW_POD,
            count=20,
        )
        for kind in ("Liveness", "Readiness")
    ]
    return make.evidence(
        workload=make.deployment(replicas=2, ready=1, revision=7),
        revisions=make.rollout_revisions(
            7, {"app": new.image}, {"app": old.image}, minutes_ago=20, old_ready=1
        ),
        pods=[
            make.pod(NEW_POD, new),
            make.pod("checkout-5c6d7e8f9-old01", old, replica_set="checkout-5c6d7e8f9"),
        ],
        events=[
            *refused,
            make.event(
                "Killing",
                "Container app failed liveness probe, will be restarted",
                name=NEW_POD,
                type_="Normal",
                count=4,
            ),
        ],
        logs=[make.log(NEW_POD, "app", listening)],
        changes=[make.rollout_change(CHECKOUT, 6, "image", *aspects, minutes_ago=20)],
    )


@pytest.mark.parametrize(
    "listening",
    [
        "* Listening on http://127.0.0.1:3000",
        "info: Microsoft.Hosting.Lifetime[14] Now listening on: http://localhost:3000",
        "[INFO] Listening at: http://[::1]:3000 (1)",
    ],
)
def test_a_release_that_binds_loopback_under_its_unchanged_probe_is_rolled_back(
    listening: str,
) -> None:
    result = make.analyze(_rolled_out(listening))
    first = make.assert_leads(result, Category.BAD_ROLLOUT, Action.ROLLBACK, CHECKOUT)
    assert any("inside the pod only" in e.fact for e in first.evidence), first.evidence
    make.assert_ranks_below(result, Category.PROBE_FAILURE, first)


@pytest.mark.parametrize(
    "listening",
    [
        "* Listening on http://0.0.0.0:3000",
        "Now listening on: http://[::]:3000",
        '{"level":"info","msg":"listening on :3000"}',
        # Bound on loopback and on the pod's address alike: the probe's address is served.
        "Listening on http://127.0.0.1:3000\nListening on http://10.1.2.3:3000",
    ],
)
def test_a_server_on_every_address_is_not_out_of_the_probes_reach(listening: str) -> None:
    ev = _rolled_out(listening)
    assert serves_elsewhere(ev, ev.pods) is None


def test_a_rollout_that_changed_the_probes_leaves_the_probe_in_question() -> None:
    result = make.analyze(_rolled_out("* Listening on http://127.0.0.1:3000", "probes"))
    rollout = make.by_category(result, Category.BAD_ROLLOUT)
    assert rollout
    assert not any("inside the pod only" in e.fact for e in rollout[0].evidence)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.0.1.1", True),
        ("localhost", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("[::]", False),
        ("10.1.2.3", False),
        ("checkout.shop.svc", False),
    ],
)
def test_loopback_hosts(host: str, expected: bool) -> None:
    assert loopback(host) is expected
