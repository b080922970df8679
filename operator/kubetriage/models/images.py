"""Image references, as the analyzers and the evidence builder read them."""

from __future__ import annotations


def repository_name(reference: str) -> str:
    """The repository's last path segment of an image reference, without tag or digest
    (``ghcr.io/fluent/fluent-bit:3.1@sha256:...`` -> ``fluent-bit``)."""
    return reference.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0]
