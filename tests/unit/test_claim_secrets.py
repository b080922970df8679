"""A claim whose CSI provisioner or resizer cannot read the Secret its StorageClass names
("error getting secret NAME in namespace NS: secrets "NAME" not found") waits on that Secret:
config-missing names the Secret (in the StorageClass's namespace, not the claim's) and the
storage rule leaves the claim alone. A claim that got its volume or its size since, another
provisioning failure, or a message that does not name the Secret's namespace do not count.

Real: the analyzer registry (``run_analyzers``) over Evidence models from
``tests.support.evidence``, and ``config_errors.claim_missing_secret``.
"""

from __future__ import annotations

from kubetriage.config_errors import claim_missing_secret
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import PVCEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make

CLAIM = "data-broker-3"
SECRET = ObjectRef(kind="Secret", namespace="ceph-external", name="csi-rbd-provisioner")
MISSING = (
    'failed to provision volume with StorageClass "ceph-rbd": error getting secret '
    'csi-rbd-provisioner in namespace ceph-external: secrets "csi-rbd-provisioner" not found'
)
RESIZE_MISSING = (
    'resize volume "pvc-1" by resizer "rbd.csi.ceph.com" failed: error getting secret '
    'csi-rbd-provisioner in namespace ceph-external: secrets "csi-rbd-provisioner" not found'
)


def _claim(
    phase: str = "Pending", capacity: str | None = None, requested: str = "200Gi"
) -> PVCEvidence:
    return PVCEvidence(
        name=CLAIM,
        namespace="shop",
        phase=phase,
        storage_class="ceph-rbd",
        requested=requested,
        capacity=capacity,
        volume_name="pvc-1" if phase == "Bound" else None,
    )


def _evidence(claim: PVCEvidence, reason: str, message: str) -> Evidence:
    return make.checkout_evidence(
        pvcs=[claim],
        events=[make.event(reason, message, name=CLAIM, kind="PersistentVolumeClaim", count=12)],
    )


def test_the_message_names_the_secret_and_its_namespace() -> None:
    assert claim_missing_secret(MISSING) == ("ceph-external", "csi-rbd-provisioner")
    # A message without the namespace, or about another object, names nothing here.
    assert claim_missing_secret('secrets "csi-rbd-provisioner" not found') is None
    assert claim_missing_secret("error getting secret a in namespace b: timeout") is None


def test_a_pending_claim_whose_provisioner_secret_is_missing_blames_the_secret() -> None:
    result = make.analyze(_evidence(_claim(), "ProvisioningFailed", MISSING))
    first = make.assert_leads(result, Category.CONFIG_MISSING, Action.FIX_CONFIG, SECRET)
    assert "create it" in first.summary
    claim = ObjectRef(kind="PersistentVolumeClaim", namespace="shop", name=CLAIM)
    assert all(f.target != claim for f in make.by_category(result, Category.STORAGE))


def test_a_claim_bound_since_the_failure_blames_nothing() -> None:
    result = make.analyze(_evidence(_claim("Bound", "200Gi"), "ProvisioningFailed", MISSING))
    assert not any(f.target == SECRET for f in result.findings)


def test_another_provisioning_failure_stays_the_claims() -> None:
    other = (
        'failed to provision volume with StorageClass "ceph-rbd": rpc error: code = '
        "DeadlineExceeded desc = context deadline exceeded"
    )
    result = make.analyze(_evidence(_claim(), "ProvisioningFailed", other))
    claim = ObjectRef(kind="PersistentVolumeClaim", namespace="shop", name=CLAIM)
    make.assert_leads(result, Category.STORAGE, Action.EXPAND_STORAGE, claim)
    assert not any(f.target == SECRET for f in result.findings)


def test_a_resize_waits_on_the_secret_only_while_the_claim_is_short_of_its_request() -> None:
    short = make.analyze(
        _evidence(_claim("Bound", "200Gi", "400Gi"), "VolumeResizeFailed", RESIZE_MISSING)
    )
    make.assert_leads(short, Category.CONFIG_MISSING, Action.FIX_CONFIG, SECRET)
    grown = make.analyze(
        _evidence(_claim("Bound", "400Gi", "400Gi"), "VolumeResizeFailed", RESIZE_MISSING)
    )
    assert not any(f.target == SECRET for f in grown.findings)
