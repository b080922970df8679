"""Checks the secret-store part of the config-missing rule: a Secrets Store CSI volume whose
store does not hold a listed secret (or refuses it to the pod), and a container kept from
starting whose log says its store has no secret at the path it asks for, are configuration
fixes on the workload; they outrank a rollback of the revision that introduced the name.
Near misses (a CSI mount that times out, a running container that logs a lookup miss, a
dependency's tail) stay with the other rules.

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

import pytest

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.signals import LogSource
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import CHECKOUT_POD, analyze, assert_leads, by_category

CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
_MOUNT = (
    'MountVolume.SetUp failed for volume "secrets" : rpc error: code = Unknown desc = failed to '
    "mount secrets store objects for pod shop/{pod}, err: rpc error: code = Unknown desc = "
    "failed to mount objects, error: {error}"
)
_AZURE_MISSING = (
    "failed to get objectType:secret, objectName:signing-key, objectVersion:: "
    'Status=404 Code="SecretNotFound" Message="A secret with (name/id) signing-key was not '
    'found in this key vault."'
)
_AWS_MISSING = (
    "Failed to fetch secret from all regions: prod/db: ResourceNotFoundException: Secrets "
    "Manager can't find the specified secret."
)
_VAULT_DENIED = (
    'error making mount request: couldn\'t read secret "db": Error making API request. '
    "URL: GET http://vault.vault:8200/v1/database/creds/app Code: 403. Errors: * permission denied"
)


def _mounting(error: str) -> Evidence:
    """The checkout pod stuck in ContainerCreating: its CSI secrets volume fails with
    ``error``; a second replica of the same revision runs."""
    stuck = make.container("app", ready=False, state=make.waiting("ContainerCreating"))
    return make.evidence(
        workload=make.deployment(replicas=2, ready=1),
        pods=[
            make.pod(CHECKOUT_POD, stuck, phase="Pending"),
            make.pod("checkout-7d9f6c8b5-bbbbb", make.container("app")),
        ],
        events=[
            make.event(
                "FailedMount", _MOUNT.format(pod=CHECKOUT_POD, error=error), name=CHECKOUT_POD
            )
        ],
    )


@pytest.mark.parametrize("error", [_AZURE_MISSING, _AWS_MISSING], ids=["key-vault", "aws"])
def test_a_csi_secret_the_store_does_not_hold_is_a_config_fix_not_storage(error: str) -> None:
    result = analyze(_mounting(error))
    finding = assert_leads(result, Category.CONFIG_MISSING, Action.FIX_CONFIG, CHECKOUT)
    assert "does not hold" in finding.summary
    assert by_category(result, Category.STORAGE) == []


def test_a_csi_secret_the_store_refuses_is_the_workloads_access() -> None:
    finding = assert_leads(
        analyze(_mounting(_VAULT_DENIED)), Category.CONFIG_MISSING, Action.FIX_CONFIG, CHECKOUT
    )
    assert "refuses" in finding.summary


def test_a_csi_mount_that_times_out_says_nothing_about_the_secret() -> None:
    result = analyze(_mounting("failed to get keyvault client: context deadline exceeded"))
    assert not [f for f in by_category(result, Category.CONFIG_MISSING) if f.target == CHECKOUT]


_AGENT = (
    '[INFO]  agent: (runner) rendered "(dynamic)" => "/vault/secrets/db"\n'
    "[ERROR] agent: (view) vault.read(kv/data/shop/carrier): no secret exists at "
    "kv/data/shop/carrier (exceeded maximum retries)\n"
    "Error encountered during run, refer to logs for more details.\n"
)


def _agent_init(*, failing: bool, source: LogSource = "scope") -> Evidence:
    """A new revision's pod whose Vault Agent init container logs ``_AGENT``: failing, it
    restarts in CrashLoopBackOff; otherwise it completed. The old revision still serves."""
    init = (
        make.crash_looping("vault-agent-init", "hashicorp/vault:1.17", init=True)
        if failing
        else make.container("vault-agent-init", "hashicorp/vault:1.17", init=True)
    )
    app = make.container("app", ready=False, state=make.waiting("PodInitializing"))
    workload = CHECKOUT
    return make.evidence(
        workload=make.deployment(replicas=2, ready=1, revision=2),
        pods=[
            make.pod(CHECKOUT_POD, init, app, replica_set="checkout-7d9f6c8b5"),
            make.pod(
                "checkout-5b6c7d8e9-ccccc", make.container("app"), replica_set="checkout-5b6c7d8e9"
            ),
        ],
        revisions=[
            make.revision(
                "checkout-7d9f6c8b5",
                2,
                {"app": "ghcr.io/example/app:1.1"},
                current=True,
                created_minutes_ago=20,
            ),
            make.revision("checkout-5b6c7d8e9", 1, {"app": "ghcr.io/example/app:1.0"}, ready=1),
        ],
        changes=[make.rollout_change(workload, 1, "image", minutes_ago=20)],
        logs=[make.log(CHECKOUT_POD, "vault-agent-init", _AGENT, source=source)],
    )


def test_an_init_container_told_its_secret_does_not_exist_is_config_ahead_of_rollback() -> None:
    result = analyze(_agent_init(failing=True))
    finding = assert_leads(result, Category.CONFIG_MISSING, Action.FIX_CONFIG, CHECKOUT)
    assert any("no secret exists at" in e.fact for e in finding.evidence)


def test_a_lookup_miss_in_a_container_that_started_is_no_missing_secret() -> None:
    result = analyze(_agent_init(failing=False))
    assert not [f for f in result.findings if "secret store" in f.summary]


def test_a_dependencys_tail_is_not_the_pods_own_secret() -> None:
    result = analyze(_agent_init(failing=True, source="dependency"))
    assert not [f for f in result.findings if "secret store" in f.summary]
