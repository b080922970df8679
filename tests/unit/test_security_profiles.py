"""Checks the missing-security-profile rule (``kubetriage.analyzers.security_profiles``): the
container runtime cannot load a Localhost seccomp or an AppArmor profile the pods name on
the node they landed on. Pods of the same workload serving on other nodes show those nodes
lack it (config-missing, escalate on the workload); with none serving anywhere the spec's
reference is corrected (fix-config). Pods that ran on the one failing node before it
restarted say the node lost the profile (node-failure, drain it); near misses: pods created
after the restart, pods that never ran, a restart of another node, a CreateContainerError
for another reason, the same words about another workload's pod. Real: the analyzer registry
over Evidence built with the shared factories (``tests/support/evidence``); names and
messages are synthetic.
"""

from __future__ import annotations

import pytest

from kubetriage.analyzers.security_profiles import CONFIDENCE
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import NodeEvidence, PodCondition, PodEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import ago, analyze, assert_leads

CHECKOUT = make.deployment("checkout", replicas=4, ready=2).ref
SECCOMP = (
    'failed to generate security options for container "app": failed to generate seccomp '
    'security options for container: cannot load seccomp profile "/var/lib/kubelet/seccomp/'
    'operator/shop/checkout.json": open /var/lib/kubelet/seccomp/operator/shop/checkout.json: '
    "no such file or directory"
)
APPARMOR = (
    "failed to create containerd container: failed to generate apparmor spec opts: apparmor "
    "profile not found k8s-checkout"
)


def _failing(name: str, message: str, node: str) -> PodEvidence:
    state = make.waiting("CreateContainerError", message)
    return make.app_pod(name, make.container("app", ready=False, state=state), node=node)


def _evidence(message: str, *, serving_elsewhere: bool = True) -> Evidence:
    serving = [
        make.app_pod("checkout-7d9f6c8b5-a1b2c", node="pool-a-1"),
        make.app_pod("checkout-7d9f6c8b5-d3e4f", node="pool-a-2"),
    ]
    failing = [
        _failing("checkout-7d9f6c8b5-g5h6j", message, "pool-b-1"),
        _failing("checkout-7d9f6c8b5-k7l8m", message, "pool-b-1"),
    ]
    return make.evidence(
        workload=make.deployment("checkout", replicas=4, ready=2),
        pods=[*serving, *failing] if serving_elsewhere else failing,
    )


@pytest.mark.parametrize("message", [SECCOMP, APPARMOR])
def test_a_profile_missing_on_the_nodes_some_pods_landed_on_goes_to_its_owner(
    message: str,
) -> None:
    first = assert_leads(
        analyze(_evidence(message)), Category.CONFIG_MISSING, Action.ESCALATE, CHECKOUT
    )
    assert first.analyzer == "security-profile-missing"
    assert first.params == {"nodes": "pool-b-1"}


def test_a_profile_no_pod_can_load_anywhere_is_the_specs_reference_to_correct() -> None:
    result = analyze(_evidence(SECCOMP, serving_elsewhere=False))
    first = assert_leads(result, Category.CONFIG_MISSING, Action.FIX_CONFIG, CHECKOUT)
    assert first.analyzer == "security-profile-missing"


def _fired(ev: Evidence) -> bool:
    return any(f.analyzer == "security-profile-missing" for f in analyze(ev).findings)


def test_other_container_errors_and_other_workloads_pods_are_not_this_rule() -> None:
    # A CreateContainerError that is no profile (a missing subPath), and the profile error
    # of another workload's pod on the same node.
    assert not _fired(_evidence('failed to create subPath directory for volumeMount "conf"'))
    neighbour = make.app_pod(
        "search-6c5d4b3a2-x9y8z",
        make.container("app", ready=False, state=make.waiting("CreateContainerError", SECCOMP)),
        node="pool-b-1",
    )
    ours = make.app_pod("checkout-7d9f6c8b5-a1b2c", node="pool-b-1")
    assert not _fired(make.evidence(workload=make.deployment("checkout"), pods=[ours, neighbour]))


# --- a node that had the profile and came back from a restart without it ---------------------

NODE_B = ObjectRef(kind="Node", name="pool-b-1")


def _ran_there_before(name: str, *, created: float = 600, restarts: int = 1) -> PodEvidence:
    """A pod created ``created`` minutes ago on pool-b-1 whose container the runtime now
    refuses to create: with a restart behind it, it ran there before."""
    state = make.waiting("CreateContainerError", APPARMOR)
    last = make.terminated("Unknown", 255) if restarts else None
    app = make.container("app", ready=False, state=state, restarts=restarts, last_state=last)
    return make.app_pod(name, app, node="pool-b-1", created_at=ago(created))


def _node_restart(
    *, reboot_minutes_ago: float | None = 45, ready_minutes_ago: float = 44, **failing: float
) -> Evidence:
    created = failing.get("created", 600)
    restarts = int(failing.get("restarts", 1))
    pods = [
        make.app_pod("checkout-7d9f6c8b5-a1b2c", node="pool-a-1"),
        make.app_pod("checkout-7d9f6c8b5-d3e4f", node="pool-a-2"),
        _ran_there_before("checkout-7d9f6c8b5-g5h6j", created=created, restarts=restarts),
        _ran_there_before("checkout-7d9f6c8b5-k7l8m", created=created, restarts=restarts),
    ]
    ready = PodCondition(type="Ready", status="True", last_transition_time=ago(ready_minutes_ago))
    events = []
    if reboot_minutes_ago is not None:
        rebooted = make.event(
            "Rebooted", "Node pool-b-1 has been rebooted", name="pool-b-1", kind="Node"
        )
        rebooted.first_seen = rebooted.last_seen = ago(reboot_minutes_ago)
        events.append(rebooted)
    return make.evidence(
        workload=make.deployment("checkout", replicas=4, ready=2),
        pods=pods,
        nodes=[NodeEvidence(name="pool-b-1", ready="True", conditions=[ready])],
        events=events,
    )


@pytest.mark.parametrize("reboot", [45, None])
def test_pods_that_ran_on_a_node_before_its_restart_and_now_lack_the_profile_drain_it(
    reboot: float | None,
) -> None:
    """By its Rebooted event, or by its Ready condition turning after the pods were created."""
    first = assert_leads(
        analyze(_node_restart(reboot_minutes_ago=reboot)),
        Category.NODE_FAILURE,
        Action.DRAIN_NODE,
        NODE_B,
    )
    assert first.confidence == CONFIDENCE.lost_in_node_restart


def test_near_miss_pods_created_after_the_nodes_restart_go_to_the_profiles_owner() -> None:
    """A node that came up (new, or rebooted) before the pods were placed on it never ran them
    with the profile: the profile never reached it."""
    ev = _node_restart(created=30, restarts=0)
    assert_leads(analyze(ev), Category.CONFIG_MISSING, Action.ESCALATE, CHECKOUT)


def test_near_miss_pods_that_never_ran_are_not_evidence_the_node_lost_the_profile() -> None:
    ev = _node_restart(restarts=0)
    assert_leads(analyze(ev), Category.CONFIG_MISSING, Action.ESCALATE, CHECKOUT)


def test_near_miss_a_restart_on_another_node_says_nothing_about_this_one() -> None:
    ev = _node_restart(reboot_minutes_ago=None, ready_minutes_ago=3000)
    ev.nodes[0].name = "pool-a-1"
    assert_leads(analyze(ev), Category.CONFIG_MISSING, Action.ESCALATE, CHECKOUT)
