"""Credential redaction, and optional reversible anonymisation of cluster names.

Everything that leaves the operator or is stored passes through here first: the pipeline
redacts the ``Evidence`` before rendering the LLM prompt, before writing the memory store,
span attributes, the Incident status and Kubernetes Events. Logs, env values, annotations,
event messages and alert annotations are untrusted and may carry credentials.

- ``keys``: the placeholder, the secret key names and the value heuristics;
- ``rules``: the ordered table of credential rules;
- ``text``: ``redact_text`` / ``redact_lines`` / ``redact_mapping`` / ``redact_args``;
- ``walk``: ``redact_model`` / ``redact_evidence`` over any pydantic model;
- ``anonymizer``: ``Anonymizer``, names replaced before the LLM and restored after.
"""

from kubetriage.redaction.anonymizer import Anonymizer
from kubetriage.redaction.keys import PLACEHOLDER_PREFIX, is_secret_key, placeholder
from kubetriage.redaction.text import redact_lines, redact_mapping, redact_text
from kubetriage.redaction.walk import redact_evidence, redact_model

__all__ = [
    "PLACEHOLDER_PREFIX",
    "Anonymizer",
    "is_secret_key",
    "placeholder",
    "redact_evidence",
    "redact_lines",
    "redact_mapping",
    "redact_model",
    "redact_text",
]
