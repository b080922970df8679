"""Checks the missing-security-profile rule (``kubetriage.analyzers.security_profiles``): the
container runtime cannot load a Localhost seccomp or an AppArmor profile the pods name on the
node they landed on. Pods of the same workload serving on other nodes show those nodes lack
it (config-missing, escalate on the workload); with none serving anywhere the spec's
reference is corrected (fix-config). Near misses: a CreateContainerError for another reason,
the same words about another workload's pod. Real: the analyzer registry over Evidence built
with the shared factories (``tests/support/evidence``); names and messages are synthetic.
"""

from __future__ import annotations

import pytest

from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import PodEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads

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
