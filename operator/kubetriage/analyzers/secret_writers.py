"""A Secret the pods cannot get that no person writes but a controller, from a source object
(``Evidence.secret_writers``): "who writes this Secret, from what, and why didn't they?".

Two conclusions, one per way a writer fails:
- its input is broken (the Secret a Kyverno rule clones, the credentials Secret a Crossplane
  ProviderConfig names while a managed resource cannot sync): the config-missing rule moves
  its target from the consumer's Secret to that input (``writer_input``);
- its controller is down (the operator that writes it keeps being OOM-killed): that
  controller's workload is the target, and the consumer's Secret is no finding of its own
  (``writer_down``).
A writer that is healthy, or no writer at all, changes nothing: the consumer's own
configuration is still what is wrong.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.support import event_fact, item
from kubetriage.config_errors import missing_secret
from kubetriage.models.base import ObjectRef
from kubetriage.models.controllers import SecretWriterEvidence
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a Secret-writer finding is, by the evidence that earns it."""

    oom_down: float = 0.9  # the Secret's writer is not Ready and the container of the
    # operator writing it is OOM-killed again and again


CONFIDENCE: Final = _Confidence()


def _writer(evidence: Evidence, secret: ObjectRef) -> SecretWriterEvidence | None:
    return next((w for w in evidence.secret_writers if w.secret.same_object(secret)), None)


def writer_fact(writer: SecretWriterEvidence) -> EvidenceItem:
    """The writer as evidence: what writes the Secret, from what, and what it reports."""
    ref = writer.writer
    text = f"{prose.obj(ref)} {writer.how} {prose.obj(writer.secret)}"
    if writer.source is not None:
        text += f"{';' if writer.failing else ''} {writer.source_role} {prose.obj(writer.source)}"
    if writer.failing is not None:
        text += f"; {prose.obj(writer.failing)} is not Synced: {writer.message}"
    source = f"{ref.kind.lower()}/{ref.namespace + '/' if ref.namespace else ''}{ref.name}"
    return item(source, text)


def writer_input(evidence: Evidence, secret: ObjectRef) -> tuple[ObjectRef, EvidenceItem] | None:
    """The broken input of the writer of ``secret`` (the Secret it copies, or the credentials
    Secret it cannot read), with the fact saying so; None when nothing writes it from one."""
    writer = _writer(evidence, secret)
    if writer is None or writer.source is None:
        return None
    return writer.source, writer_fact(writer)


def writer_down(evidence: Evidence, secret: ObjectRef) -> bool:
    """Whether ``secret`` is not written because its writer's controller is down."""
    writer = _writer(evidence, secret)
    return writer is not None and writer.controller is not None and writer.controller_oom_killed


def check_secret_writer_down(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for writer in evidence.secret_writers:
        controller = writer.controller
        if controller is None or not writer.controller_oom_killed or writer.ready:
            continue
        facts = [
            item(f"{controller.kind.lower()}/{controller.namespace}/{controller.name}", failure)
            for failure in writer.controller_failures[:3]
        ]
        missing = [
            item("events", event_fact(e))
            for e in evidence.events
            if e.involved.kind == "Pod" and missing_secret(e.message) == writer.secret.name
        ][:1]
        findings.append(
            make_finding(
                "secret-writer-down",
                Category.OOM_KILLED,
                CONFIDENCE.oom_down,
                prose.narrative(
                    f"{prose.obj(controller)}, which writes {prose.obj(writer.secret)}, is "
                    "OOM-killed again and again",
                    "raise its memory limit",
                    aside=f"{prose.obj(writer.secret)} is never written",
                    because=[
                        prose.claim(
                            f"{prose.obj(writer.secret)} is missing and {prose.obj(writer.writer)}"
                            f" {writer.how} it, but is not Ready",
                            *missing,
                            writer_fact(writer),
                        ),
                        prose.claim(
                            f"the operator in {prose.obj(controller)} is OOM-killed", *facts
                        ),
                    ],
                ),
                [*missing, writer_fact(writer), *facts],
                Action.INCREASE_MEMORY,
                controller,
            )
        )
    return findings


SECRET_WRITER_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("secret-writer-down", (Category.OOM_KILLED,), check_secret_writer_down),
)
