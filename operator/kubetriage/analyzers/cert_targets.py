"""Where an expired or failing certificate lives, so the fix can be aimed at it: the Secret
mounted by the pods behind the Service that presents it (its serving Secret), the TLS Secret a
followed dependency mounts, the workload's own TLS Secret (a mount whose path or configured
files name TLS material), else the presenting Service (escalate, someone else's certificate)
or the workload. Used by the certificate analyzers (``certificates``) and the webhook rule.

Pure functions of Evidence.
"""

from __future__ import annotations

import re

from kubetriage.analyzers.calls import services_elsewhere
from kubetriage.analyzers.log_signatures import (
    hosts_in,
    service_for_host,
)
from kubetriage.analyzers.support import workload_ref
from kubetriage.evidence.host_resolution import headless_workload
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import PodEvidence, ServiceEvidence
from kubetriage.models.objects import service_selects as _selects
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action

# Secret names that hold a certificate: TLS material, or a CA / issuer keypair.
TLS_NAME = re.compile(
    r"(?i)(tls|cert|x509|ssl|issuer|pki|keystore|truststore|keypair|(?<![a-z])ca(?![a-z]))"
)
# Files a TLS client or server is configured with.
_KEY_MATERIAL = re.compile(r"(?i)\.(crt|pem|key|cer|p12|pfx|jks)$")
# A line where the workload itself verified the certificate its peer presented and found it
# bad (Go's client "failed to verify certificate", OpenSSL's "certificate verify failed",
# Java's PKIX path checks): the certificate that failed is the server's, not one the
# workload holds. Go's server side says "failed to verify client certificate": not a server.
_VERIFIED_PEER = re.compile(
    r"(?i)(?<!client )(?:failed to verify certificate|certificate verify failed"
    r"|PKIX path (?:building|validation) failed)"
)


def certificate_target(
    evidence: Evidence, lines: list[str], instances: list[str]
) -> tuple[ObjectRef | None, Action]:
    """The Secret holding the certificate when the evidence names one (preferring the one
    mounted by the pods behind the Service that presents it), else that Service (escalate),
    else the workload."""
    hosts = [h for line in lines for h in hosts_in(line)]
    hosts += [h for i in instances for h in hosts_in(i) or [i]]
    services = list(evidence.services)
    services += [s for s in services_elsewhere(evidence, hosts) if s not in services]
    presenting = [s for h in hosts if (s := service_for_host(h, services)) is not None]
    for svc in presenting:
        if svc.type == "ExternalName":
            # Someone else's certificate: hand it to the owner of that endpoint.
            return svc.ref(), Action.ESCALATE
    for svc in presenting:
        secret = _serving_secret(evidence, svc) or _dependency_secret(evidence, svc)
        if secret is not None:
            return secret, Action.RENEW_CERTIFICATE
    for obj in evidence.other_objects:
        if obj.ref.kind == "Secret" and "tls" in (obj.fields.get("type", "") + obj.ref.name):
            return obj.ref, Action.RENEW_CERTIFICATE
    for obj in evidence.other_objects:
        if obj.ref.kind == "Ingress" and (secrets := obj.fields.get("tlsSecretNames")):
            return (
                ObjectRef(kind="Secret", namespace=obj.ref.namespace, name=secrets.split(",")[0]),
                Action.RENEW_CERTIFICATE,
            )
    if not presenting:
        # No called Service is named: the failing TLS is most likely the workload's own,
        # unless the workload says it verified its peer's certificate, which then is the one
        # TLS dependency's.
        served = _only_tls_dependency_secret(evidence)
        verified_peer = any(_VERIFIED_PEER.search(line) for line in lines)
        if served is not None and verified_peer:
            return served, Action.RENEW_CERTIFICATE
        if (own := own_tls_secret(evidence)) is not None:
            copied = _copied_dependency_secret(evidence, own) if verified_peer else None
            return copied or own, Action.RENEW_CERTIFICATE
        if served is not None:
            return served, Action.RENEW_CERTIFICATE
    for svc in presenting:
        return svc.ref(), Action.ESCALATE
    workload = workload_ref(evidence)
    if workload is not None:
        return workload, Action.ESCALATE
    return None, Action.ESCALATE


def own_tls_secret(evidence: Evidence) -> ObjectRef | None:
    """The Secret a workload's containers read their own certificate from (see
    ``pod_tls_secret``), in the first pod that has one."""
    for pod in evidence.pods:
        if (name := pod_tls_secret(pod)) is not None:
            return ObjectRef(kind="Secret", namespace=pod.namespace, name=name)
    return None


def pod_tls_secret(pod: PodEvidence) -> str | None:
    """The Secret a pod holds a certificate in: one whose name says TLS material, else a
    Secret volume mounted at a TLS-looking path, or one the container's env points a key or
    certificate file into (``DB_TLS_CERT=/etc/db-client/tls.crt``): the path tells what
    a Secret holds when its name does not."""
    for ref in pod.config_refs:
        if ref.kind == "Secret" and TLS_NAME.search(ref.name):
            return ref.name
    for container in pod.containers:
        files = [v for v in container.env.values() if _KEY_MATERIAL.search(v.strip())]
        for mount in container.config_mounts:
            if mount.kind != "Secret":
                continue
            base = mount.path.rstrip("/") + "/"
            if TLS_NAME.search(mount.path) or any(f.startswith(base) for f in files):
                return mount.name
    return None


def _dependency_secret(evidence: Evidence, svc: ServiceEvidence) -> ObjectRef | None:
    """A TLS-looking Secret mounted by the pods of a followed dependency (any namespace):
    the Service's, or the workload a ``<workload>-headless`` Service fronts."""
    behind = headless_workload(svc.name)
    for dependency in evidence.dependencies:
        found = dependency.service
        if found is not None:
            if (found.namespace, found.name) != (svc.namespace, svc.name):
                continue
        elif dependency.workload is None or (
            dependency.workload.namespace,
            dependency.workload.name,
        ) != (svc.namespace, behind):
            continue
        for name in dependency_tls_secrets(dependency):
            return ObjectRef(kind="Secret", namespace=svc.namespace, name=name)
    return None


def dependency_tls_secrets(dependency: DependencyEvidence) -> list[str]:
    """The Secrets a dependency's pods hold a certificate in: named as TLS material, or
    mounted at a TLS-looking path."""
    found = [name for name in dependency.mounted_secrets if TLS_NAME.search(name)]
    found += [
        m.name for m in dependency.secret_mounts if TLS_NAME.search(m.path) and m.name not in found
    ]
    return found


def _only_tls_dependency_secret(evidence: Evidence) -> ObjectRef | None:
    """The TLS-looking Secret mounted by the one followed dependency that mounts any, when
    the failing lines name no host (a client library that reports only "certificate has
    expired") and the workload holds no certificate of its own: the server it calls over
    TLS presents the certificate that failed. None when several dependencies could."""
    found = {
        (ref.namespace, name)
        for dependency in evidence.dependencies
        if (ref := dependency.service or dependency.workload) is not None
        for name in dependency_tls_secrets(dependency)
    }
    if len(found) != 1:
        return None
    namespace, name = found.pop()
    return ObjectRef(kind="Secret", namespace=namespace, name=name)


def _copied_dependency_secret(evidence: Evidence, own: ObjectRef) -> ObjectRef | None:
    """The Secret of the same name a followed dependency's pods hold a certificate in, in
    that dependency's own namespace, when the workload verified its peer's certificate and
    found it bad: the workload's Secret is a copy of the server's (a CA certificate mirrored
    into each client namespace), and the certificate is renewed where the server keeps it.
    None when no dependency, or more than one, holds a Secret of that name."""
    found = {
        (ref.namespace, name)
        for dependency in evidence.dependencies
        if (ref := dependency.service or dependency.workload) is not None
        and ref.namespace
        and ref.namespace != own.namespace
        for name in dependency_tls_secrets(dependency)
        if name == own.name
    }
    if len(found) != 1:
        return None
    namespace, name = found.pop()
    return ObjectRef(kind="Secret", namespace=namespace, name=name)


def _serving_secret(evidence: Evidence, svc: ServiceEvidence) -> ObjectRef | None:
    """The certificate Secret of the pods the Service selects: its serving certificate."""
    for pod in evidence.pods:
        if pod.namespace != svc.namespace or not _selects(svc.selector, pod.labels):
            continue
        if (name := pod_tls_secret(pod)) is not None:
            return ObjectRef(kind="Secret", namespace=pod.namespace, name=name)
    return None


def series_certificate(evidence: Evidence, labels: dict[str, str]) -> ObjectRef | None:
    """The one cert-manager Certificate in the evidence that an expiry series' labels name
    (cert-manager's exporter labels each series with its Certificate's ``name`` and
    ``namespace``; an aggregated query may keep the name alone): the incident's namespace's,
    a webhook's or a followed dependency's."""
    name, namespace = labels.get("name"), labels.get("namespace")
    if not name:
        return None
    known = [o.ref for o in evidence.other_objects]
    known += [c.ref for hook in evidence.webhooks for c in hook.certificates]
    known += [c.ref for dependency in evidence.dependencies for c in dependency.certificates]
    found = {
        (ref.namespace, ref.name): ref
        for ref in known
        if ref.kind == "Certificate"
        and ref.name == name
        and (namespace is None or ref.namespace == namespace)
    }
    return next(iter(found.values())) if len(found) == 1 else None
