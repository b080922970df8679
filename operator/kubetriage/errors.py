"""Error classes that cross layers. The handlers map them onto Kopf's retry model:
``RetryableError`` becomes a temporary error (retried after ``retry_delay_seconds``),
``InvalidIncident`` a permanent one (phase Failed with a clear condition)."""

from __future__ import annotations


class KubetriageError(Exception):
    """Base class for errors the operator understands."""


class RetryableError(KubetriageError):
    """A dependency the diagnosis cannot do without (the Kubernetes API) failed transiently;
    retried after the settings' ``retry_delay_seconds``."""


class InvalidIncident(KubetriageError):
    """The Incident passed the CRD schema but makes no sense (e.g. a target kind that cannot
    be investigated). Retrying cannot help."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
