"""Render the chat messages for one diagnosis from evidence, findings and similar incidents.

Called by the diagnosis pipeline just before ``kubetriage.llm.client.LLMClient.diagnose``
(and by ``with_schema_instructions`` inside the client when the server only does
json_object). The wording lives in ``prompts/*.md`` (package data) and is filled in with
``string.Template``; this module only decides what goes in, in which order, and how much
of it fits. The sections' text is rendered by ``kubetriage.llm.sections``; everything from
the cluster, an alert or a past incident goes inside ``kubetriage.llm.untrusted``'s blocks.

The prompt is bounded by ``max_chars`` (all messages together). When the full rendering
is too long, the least useful parts are dropped first: the dependencies' own log tails, long
log tails, then older and Normal events, container env/args, then past incidents; a note
tells the model what was left out. As a last resort the evidence text is cut.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from string import Template
from typing import Any

from kubetriage.llm.schema import answer_json_schema
from kubetriage.llm.sections import Detail, render_evidence, render_findings, render_similar
from kubetriage.llm.untrusted import DATA_CLOSE, DATA_OPEN, data_block, escape_data
from kubetriage.models.diagnosis import SimilarIncident
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.vocabulary import (
    ACTION_TARGET_KINDS,
    CATEGORY_MEANINGS,
    WORKLOAD_KINDS,
    Action,
    Category,
)

DEFAULT_MAX_PROMPT_CHARS = 24_000
_TRUNCATION_MARK = "\n[... evidence cut to fit the prompt budget ...]"

ACTION_MEANINGS: dict[Action, str] = {
    Action.INCREASE_MEMORY: "raise the container's memory limit (and request)",
    Action.INCREASE_CPU: "raise or remove the container's CPU limit",
    Action.ROLLBACK: "return the workload to its previous revision",
    Action.RESTART: "rolling restart of the workload",
    Action.SCALE_OUT: "more replicas, or a higher HPA maximum",
    Action.FIX_CONFIG: "create or correct the missing ConfigMap, Secret or env value",
    Action.FIX_IMAGE: "correct the image reference or its pull secret",
    Action.FIX_PROBE: "correct the probe's path, port, or timing",
    Action.FREE_CAPACITY: "add nodes or free resources so pending pods fit, or fix the constraint",
    Action.DRAIN_NODE: "cordon and drain the failing node",
    Action.EXPAND_STORAGE: "grow the volume or free space on it",
    Action.FIX_NETWORK: "correct the NetworkPolicy or the Service selector or ports",
    Action.RENEW_CERTIFICATE: "renew or replace the certificate",
    Action.ESCALATE: "hand to the owner of the failing dependency, with the evidence",
}


# Each step shows less than the one before; the callees' own logs yield first.
_LADDER: tuple[Detail, ...] = (
    Detail(),
    Detail(dependency_log_lines=10),
    Detail(log_lines=40, events=20, dependency_log_lines=10),
    Detail(log_lines=20, events=15, container_env=False, dependency_log_lines=5),
    *(
        Detail(
            log_lines=own,
            events=events,
            normal_events=False,
            container_env=False,
            similar=similar,
            dependency_log_lines=callee,
        )
        for own, events, similar, callee in (
            (10, 10, 3, 3),
            (5, 5, 1, 2),
            (0, 3, 1, 0),
            (0, 0, 0, 0),
        )
    ),
)


# --- templates --------------------------------------------------------------------------


@cache
def _template(name: str) -> Template:
    text = resources.files("kubetriage.llm").joinpath("prompts", name).read_text("utf-8")
    return Template(text)


def prompt_file_names() -> list[str]:
    """The prompt files this module reads (a unit test checks they ship in the package)."""
    return ["system.md", "user.md", "schema.md"]


# --- vocabulary tables ------------------------------------------------------------------


def _kinds(action: Action) -> str:
    kinds = ACTION_TARGET_KINDS[action]
    named = sorted(kinds - WORKLOAD_KINDS)
    parts = (["a workload"] if kinds >= WORKLOAD_KINDS else sorted(kinds & WORKLOAD_KINDS)) + named
    return " or ".join(parts)


def system_prompt() -> str:
    categories = "\n".join(f"- {c.value}: {CATEGORY_MEANINGS[c]}" for c in Category)
    actions = "\n".join(f"- {a.value}: {ACTION_MEANINGS[a]}. Target: {_kinds(a)}." for a in Action)
    actions += f"\n(A workload is a {', '.join(sorted(WORKLOAD_KINDS))}.)"
    return _template("system.md").substitute(categories=categories, actions=actions)


def _without_descriptions(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_descriptions(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [_without_descriptions(v) for v in node]
    return node


def with_schema_instructions(messages: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """The messages with the answer schema appended to the system message.

    Used in json_object mode, where the server does not enforce the schema and the model
    has only the text to go by.
    """
    # Descriptions repeat the system prompt's field list; without them the text is ~40%
    # shorter, which matters most for the small local models that need json_object.
    schema = json.dumps(
        _without_descriptions(answer_json_schema(bounded_strings=True)), separators=(",", ":")
    )
    addition = _template("schema.md").substitute(schema=schema)
    out = [dict(m) for m in messages]
    for message in out:
        if message["role"] == "system":
            message["content"] += addition
            return out
    return [{"role": "system", "content": addition.strip()}, *out]


def _omitted_note(parts: Iterable[tuple[int, str]]) -> str:
    said = [f"{count} {what}" for count, what in parts if count > 0]
    if not said:
        return ""
    return f"\n(Left out to fit the prompt budget: {', '.join(said)}.)\n"


def _user_message(
    evidence: Evidence,
    findings: Sequence[Finding],
    similar: Sequence[SimilarIncident],
    detail: Detail,
    evidence_limit: int | None = None,
) -> str:
    rendered = render_evidence(evidence, detail)
    evidence_text = rendered.evidence
    if evidence_limit is not None and len(evidence_text) > evidence_limit:
        evidence_text = evidence_text[:evidence_limit] + _TRUNCATION_MARK
    shown_similar = len(similar) if detail.similar is None else min(len(similar), detail.similar)
    note = _omitted_note(
        [
            (rendered.dropped_log_lines, "older log lines"),
            (rendered.dropped_events, "older or Normal events"),
            (len(similar) - shown_similar, "less similar past incidents"),
        ]
    )
    return _template("user.md").substitute(
        findings=data_block("analyzer-findings", render_findings(findings)),
        evidence=data_block("evidence", evidence_text),
        similar=data_block("similar-incidents", render_similar(similar, detail.similar)),
        omitted=note,
    )


def render_messages(
    evidence: Evidence,
    findings: list[Finding],
    similar: list[SimilarIncident],
    *,
    max_chars: int = DEFAULT_MAX_PROMPT_CHARS,
) -> list[dict[str, str]]:
    """System + user messages whose contents total at most ``max_chars`` characters.

    Raises ``ValueError`` when ``max_chars`` cannot hold the instructions and findings
    with an empty evidence section.
    """
    system = system_prompt()
    budget = max_chars - len(system)
    for detail in _LADDER:
        user = _user_message(evidence, findings, similar, detail)
        if len(user) <= budget:
            return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    # Still too long at the lowest detail: cut the evidence text itself. Escaping can make
    # the cut text a little longer than planned, so shrink until the bound holds.
    lowest = _LADDER[-1]
    limit = len(render_evidence(evidence, lowest).evidence)
    while limit > 0:
        limit = max(0, limit - (len(user) - budget))
        user = _user_message(evidence, findings, similar, lowest, evidence_limit=limit)
        if len(user) <= budget:
            return [{"role": "system", "content": system}, {"role": "user", "content": user}]
    raise ValueError(
        f"max_chars={max_chars} is too small: the instructions and findings alone need "
        f"{len(system) + len(user)} characters"
    )


__all__ = [
    "ACTION_MEANINGS",
    "CATEGORY_MEANINGS",
    "DATA_CLOSE",
    "DATA_OPEN",
    "DEFAULT_MAX_PROMPT_CHARS",
    "data_block",
    "escape_data",
    "prompt_file_names",
    "render_messages",
    "system_prompt",
    "with_schema_instructions",
]
