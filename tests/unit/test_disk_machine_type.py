"""Checks that a volume the cloud refuses to attach because the node's machine type cannot take
that disk type (Azure Premium SSD on a VM size without premium support, a Hyperdisk on a
machine series without it) is fixed in the workload that placed its pod there, not by
expanding the claim; and that an attach failure for another reason stays on the claim.

Everything is real (the clipping is the evidence builder's own): Evidence models from
``tests.support.evidence`` and ``run_analyzers``; the messages follow the attach/detach
controller's FailedAttachVolume format with the providers' error texts.
"""

from __future__ import annotations

import pytest

from kubetriage.evidence.raw import clip_middle
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import PVCEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import CHECKOUT_POD, analyze, assert_leads

CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
CLAIM = ObjectRef(kind="PersistentVolumeClaim", namespace="shop", name="checkout-data")

AZURE = (
    'AttachVolume.Attach failed for volume "pvc-4d1c" : rpc error: code = Internal desc = '
    "Attach volume /subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/pvc-4d1c "
    "to instance aks-general-1-vmss00000k failed with Retriable: false, RetryAfter: 0s, "
    'HTTPStatusCode: 409, RawError: {"error": {"code": "OperationNotAllowed", "message": '
    "\"Storage account type 'Premium_LRS' is not supported for VM size 'Standard_D8_v5'.\"}}"
)
GCE = (
    'AttachVolume.Attach failed for volume "pvc-9e2a" : rpc error: code = InvalidArgument desc = '
    "Failed to Attach: googleapi: Error 400: hyperdisk-balanced disk type cannot be used by "
    "n2-standard-8 machine type., badRequest"
)
THROTTLED = (
    'AttachVolume.Attach failed for volume "pvc-4d1c" : rpc error: code = Internal desc = '
    "Attach volume pvc-4d1c to instance aks-general-1-vmss00000k failed with "
    "HTTPStatusCode: 429, RawError: TooManyRequests"
)


def _attach_refused(message: str) -> Evidence:
    pod = make.pod(
        CHECKOUT_POD,
        make.container("app", ready=False, state=make.waiting("ContainerCreating")),
        phase="Pending",
        node="general-1",
        pvc_names=["checkout-data"],
    )
    return make.evidence(
        workload=make.deployment(replicas=1, ready=0),
        pods=[pod],
        pvcs=[
            PVCEvidence(
                name="checkout-data",
                namespace="shop",
                phase="Bound",
                requested="256Gi",
                capacity="256Gi",
            )
        ],
        events=[make.event("FailedAttachVolume", message, name=CHECKOUT_POD, count=17)],
    )


@pytest.mark.parametrize("message", [AZURE, GCE], ids=["azure-vm-size", "gce-machine-type"])
def test_a_disk_the_machine_type_cannot_take_is_fixed_in_the_workload(message: str) -> None:
    finding = assert_leads(
        analyze(_attach_refused(message)), Category.STORAGE, Action.FIX_CONFIG, CHECKOUT
    )
    assert "machine type" in finding.summary


def test_a_long_attach_error_keeps_the_clouds_reason_at_its_end() -> None:
    # The attach/detach controller wraps the cloud's answer after the disk's full resource
    # path: clipped for the evidence, the head and the reason at the end both survive.
    long_path = "/subscriptions/" + "3c0e9f51-2a7d-4b8e-9f1c-6d2e8a4b7c90/" * 16
    message = AZURE.replace("/subscriptions/s/", long_path)
    clipped = clip_middle(message, 512)
    assert len(clipped) == 512 + 256
    assert clipped.startswith("AttachVolume.Attach failed")
    assert clipped.endswith("is not supported for VM size 'Standard_D8_v5'.\"}}")
    assert_leads(analyze(_attach_refused(clipped)), Category.STORAGE, Action.FIX_CONFIG, CHECKOUT)


def test_an_attach_failure_for_another_reason_stays_on_the_claim() -> None:
    assert_leads(
        analyze(_attach_refused(THROTTLED)), Category.STORAGE, Action.EXPAND_STORAGE, CLAIM
    )
