"""Checks the expired license rule: a container whose own log says its license key expired (or
is invalid), reading that key from exactly one Secret or ConfigMap (an env variable or key
named for the license, a mount at a license path), is a fix of that Secret or ConfigMap, not a
crash to escalate. Near misses: a warning of the coming expiry, a pod reading no license from
its configuration, one reading it from two places, and a rollout that rewired the pod.

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

from kubetriage.analyzers.license_keys import CONFIDENCE
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ConfigMount, ConfigReference
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads

POD = "grid-6d4f8b9c7e-w2t5n"
LICENSE = ObjectRef(kind="Secret", namespace="shop", name="grid-license")
BY_ENV = ConfigReference(
    kind="Secret", name="grid-license", key="license-key", via="env HZ_LICENSEKEY"
)
EXPIRED = (
    'Exception in thread "main" com.hazelcast.license.exception.InvalidLicenseException: '
    "License has expired! Expiry date: 2026-11-19"
)
WARNED = (
    "HAZELCAST LICENSE WILL EXPIRE IN 29 DAYS. "
    "Your Hazelcast cluster will stop working after this time."
)


def _grid(
    text: str = EXPIRED,
    *,
    refs: list[ConfigReference] | None = None,
    mounts: list[ConfigMount] | None = None,
    crashing: bool = True,
) -> Evidence:
    app = (
        make.crash_looping("grid", config_mounts=mounts or [])
        if crashing
        else make.container("grid", config_mounts=mounts or [])
    )
    pod = make.app_pod(POD, app, config_refs=[BY_ENV] if refs is None else refs)
    return make.evidence(
        pods=[pod], workload=make.deployment("grid"), logs=[make.log(POD, "grid", text)]
    )


def _expired(ev: Evidence) -> list[Finding]:
    return [f for f in analyze(ev).findings if f.analyzer == "expired-license"]


def test_an_expired_license_read_from_a_secret_is_that_secrets_fix_not_a_crash() -> None:
    finding = assert_leads(analyze(_grid()), Category.CONFIG_MISSING, Action.FIX_CONFIG, LICENSE)
    assert finding.analyzer == "expired-license"
    assert finding.confidence == CONFIDENCE.refused_failing


def test_a_license_file_mounted_from_a_configmap_is_that_configmaps_fix() -> None:
    mount = ConfigMount(path="/opt/app/license", kind="ConfigMap", name="grid-lic")
    ref = ConfigReference(kind="ConfigMap", name="grid-lic", via="volume license")
    (finding,) = _expired(
        _grid("ERROR invalid license key, exiting", refs=[ref], mounts=[mount], crashing=False)
    )
    assert finding.target == ObjectRef(kind="ConfigMap", namespace="shop", name="grid-lic")
    assert finding.confidence == CONFIDENCE.refused


def test_a_warning_of_the_coming_expiry_no_license_source_or_two_are_not_the_rules() -> None:
    assert not _expired(_grid(WARNED))
    plain = ConfigReference(kind="Secret", name="grid-db", key="password", via="env DB_PASSWORD")
    assert not _expired(_grid(refs=[plain]))
    second = ConfigReference(
        kind="Secret", name="grid-license-2027", key="license", via="env NEXT_LICENSE"
    )
    assert not _expired(_grid(refs=[BY_ENV, second]))


def test_a_rollout_that_rewired_the_pod_keeps_the_finding_weaker() -> None:
    grid = ObjectRef(kind="Deployment", namespace="shop", name="grid")
    ev = _grid().model_copy(
        update={"changes": [make.rollout_change(grid, 7, "env", minutes_ago=120)]}
    )
    (finding,) = _expired(ev)
    assert finding.confidence == CONFIDENCE.rewired
