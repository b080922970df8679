"""untrusting-client: a TLS server's own log names, by address, the clients that reject its
certificate as signed by an authority they do not trust (``Evidence.refused_clients`` with
``refusal`` "untrusted": their pods, what CA file each container trusts and the ConfigMap it
is mounted from). The server's certificate is not what to fix; the clients' trust is:

- the CA file is mounted from a ConfigMap with ``subPath``, and the ConfigMap was written
  after the container started: a subPath mount never receives a ConfigMap's updates, so the
  process still reads the bundle of its start (from before the CA rotation the write
  distributed). The ConfigMap may well be right; the pods need restarting (restart the
  client's Deployment);
- otherwise the bundle the clients trust lacks the CA that now signs the server: correct
  that ConfigMap (as ``client-trust-bundle`` says from the client's side).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.support import item, object_source
from kubetriage.analyzers.tls_clients import trust_bundle
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.neighbours import RefusedClientEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure an untrusting-client finding is, by the evidence that earns it."""

    # The server names the client rejecting its chain, the client's CA file is a subPath mount
    # of a ConfigMap written after the container started: the file is the old bundle (above
    # the client-side bundle rule, 0.84, whose fix would change nothing here).
    stale_sub_path: float = 0.87
    # ... the CA file is mounted from a ConfigMap the process does read as it is: that bundle
    # lacks the server's CA (as the client-side rule says it, 0.84).
    bundle: float = 0.84


CONFIDENCE: Final = _Confidence()


def _finding(client: RefusedClientEvidence) -> Finding | None:
    namespace = client.ref.namespace
    for container in client.containers:
        located = trust_bundle(container)
        if located is None:
            continue
        mount, path = located
        bundle = ObjectRef(kind="ConfigMap", namespace=namespace, name=mount.name)
        written = client.config_written.get(mount.name)
        started = container.state.started_at
        refused = item(
            object_source(client.ref),
            f"pod {client.pod} at {client.address} refused: {prose.clip(client.line, 200)}",
        )
        trusts = item(
            object_source(client.ref),
            f"container {container.name} trusts {path}, mounted from {prose.obj(bundle)}"
            + (" by subPath" if mount.sub_path is not None else ""),
        )
        rejects = prose.claim(
            f"The server's own log says {prose.obj(client.ref)}'s pods reject its certificate "
            "as signed by an authority they do not trust",
            refused,
        )
        if (
            mount.sub_path is not None
            and written is not None
            and started is not None
            and written > started
        ):
            stale = item(
                object_source(bundle),
                f"last written {written:%Y-%m-%d %H:%M}, after container {container.name} "
                f"started at {started:%Y-%m-%d %H:%M}",
            )
            facts = [refused, trusts, stale]
            return make_finding(
                "untrusting-client",
                Category.CONFIG_MISSING,
                CONFIDENCE.stale_sub_path,
                prose.narrative(
                    f"{prose.obj(client.ref)} trusts a stale subPath copy of {prose.obj(bundle)}",
                    "restart it to mount the current one",
                    because=[
                        rejects,
                        prose.claim(
                            f"Its CA file is mounted from {prose.obj(bundle)} by subPath, which "
                            "never receives the ConfigMap's updates",
                            trusts,
                        ),
                        prose.claim(
                            f"{prose.obj(bundle)} was written after the container started, so "
                            "the process reads the bundle from before that write",
                            stale,
                        ),
                    ],
                ),
                facts,
                Action.RESTART,
                client.ref,
                {},
            )
        facts = [refused, trusts]
        return make_finding(
            "untrusting-client",
            Category.CONFIG_MISSING,
            CONFIDENCE.bundle,
            prose.narrative(
                f"{prose.obj(bundle)}, the CA bundle {prose.obj(client.ref)} trusts, lacks the "
                "CA that signs the server's certificate",
                "add that CA to it",
                because=[
                    rejects,
                    prose.claim(f"They trust only the CAs in {prose.obj(bundle)}", trusts),
                    prose.claim(
                        "Renewing the server's certificate from the same CA would not help"
                    ),
                ],
            ),
            facts,
            Action.FIX_CONFIG,
            bundle,
            {},
        )
    return None


def check_untrusting_clients(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for client in evidence.refused_clients:
        if client.refusal != "untrusted":
            continue
        finding = _finding(client)
        if finding is not None and all(f.target != finding.target for f in findings):
            findings.append(finding)
    return findings


UNTRUSTING_CLIENT_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("untrusting-client", (Category.CONFIG_MISSING,), check_untrusting_clients),
)
