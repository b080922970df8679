"""The shape of the model's answer: a JSON schema for the server and ``LLMAnswer`` for us.

``answer_json_schema()`` is sent as ``response_format`` (OpenAI strict structured outputs,
or llama.cpp's ``json_object`` + ``schema``) by ``kubetriage.llm.client``; ``LLMAnswer`` is
the gate every answer must pass in ``kubetriage.llm.parsing`` before the combiner sees it.
Both are built from ``kubetriage.models.vocabulary``, so neither can drift from the
product's categories and actions.

The schema keeps to the subset OpenAI accepts with ``strict: true``: every object closes
``additionalProperties``, lists every property as required, and expresses "nullable" as a
type array. String lengths are not a strict-mode keyword there, so by default they are
stated in the descriptions and enforced by ``LLMAnswer``; ``bounded_strings=True`` adds
``maxLength`` for servers that compile the schema into a grammar (llama.cpp, vLLM), where it
also stops a small model from rambling past the output token limit.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from kubetriage.models.vocabulary import Action, Category
from kubetriage.prose import SUMMARY_LIMIT

SCHEMA_NAME = "kubetriage_diagnosis"

MAX_SUMMARY_CHARS = 400
MAX_ROOT_CAUSE_CHARS = 1000
MAX_EVIDENCE_ITEMS = 8
MAX_EVIDENCE_ITEM_CHARS = 500
MAX_CITED_IDS = 12
MAX_CITED_ID_CHARS = 12
MAX_REMEDIATIONS = 5
MAX_RATIONALE_CHARS = 500
MAX_DISAGREEMENT_CHARS = 500
MAX_NAME_CHARS = 253  # a Kubernetes object name (DNS subdomain) is at most 253 characters
MAX_KIND_CHARS = 63


class _Closed(BaseModel):
    # Unknown keys are invalid: a model inventing fields is a sign it ignored the schema.
    model_config = ConfigDict(extra="forbid", frozen=True)


class LLMTarget(_Closed):
    kind: str = Field(min_length=1, max_length=MAX_KIND_CHARS)
    namespace: str | None = Field(max_length=MAX_NAME_CHARS)
    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)


class LLMRemediation(_Closed):
    action: Action
    target: LLMTarget
    rationale: str = Field(max_length=MAX_RATIONALE_CHARS)


class LLMAnswer(_Closed):
    """A validated model answer; any category or action outside the vocabulary is invalid."""

    category: Category
    confidence: float = Field(ge=0.0, le=1.0)
    summary: str = Field(min_length=1, max_length=MAX_SUMMARY_CHARS)
    root_cause: str = Field(max_length=MAX_ROOT_CAUSE_CHARS)
    evidence: list[Annotated[str, Field(max_length=MAX_EVIDENCE_ITEM_CHARS)]] = Field(
        max_length=MAX_EVIDENCE_ITEMS
    )
    remediations: list[LLMRemediation] = Field(max_length=MAX_REMEDIATIONS)
    disagrees_with_analyzers: str | None = Field(max_length=MAX_DISAGREEMENT_CHARS)
    # The ids of the evidence items the category rests on ("P1", "V3"). Servers without
    # strict structured output may leave it out; an id the evidence lacks is checked later
    # (``kubetriage.preconditions``), not here: the answer is still worth showing.
    evidence_ids: list[Annotated[str, Field(max_length=MAX_CITED_ID_CHARS)]] = Field(
        default_factory=list, max_length=MAX_CITED_IDS
    )


def answer_json_schema(*, bounded_strings: bool = False) -> dict[str, Any]:
    """The answer schema as a fresh dict (callers may embed or mutate it freely)."""

    def _string(description: str, max_length: int | None = None) -> dict[str, Any]:
        node: dict[str, Any] = {"type": "string", "description": description}
        if bounded_strings and max_length is not None:
            node["maxLength"] = max_length
        return node

    target = {
        "type": "object",
        "description": "The Kubernetes object the action acts on (see the action table).",
        "properties": {
            "kind": _string("Object kind, e.g. Deployment, ConfigMap, Node.", MAX_KIND_CHARS),
            "namespace": {
                "type": ["string", "null"],
                "description": "Namespace; null for cluster-scoped kinds such as Node.",
            },
            "name": _string("Object name.", MAX_NAME_CHARS),
        },
        "required": ["kind", "namespace", "name"],
        "additionalProperties": False,
    }
    remediation = {
        "type": "object",
        "properties": {
            "action": {"type": "string", "enum": [a.value for a in Action]},
            "target": target,
            "rationale": _string(
                f"Why this action fixes the root cause (at most {MAX_RATIONALE_CHARS} characters).",
                MAX_RATIONALE_CHARS,
            ),
        },
        "required": ["action", "target", "rationale"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "category": {"type": "string", "enum": [c.value for c in Category]},
            "confidence": {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "description": "How sure you are of the category, from 0 to 1.",
            },
            "summary": _string(
                f"One plain sentence of at most {SUMMARY_LIMIT} characters: what is broken, "
                f"on which object, the fix (never over {MAX_SUMMARY_CHARS}).",
                MAX_SUMMARY_CHARS,
            ),
            "root_cause": _string(
                f"The root cause and how the evidence shows it "
                f"(at most {MAX_ROOT_CAUSE_CHARS} characters).",
                MAX_ROOT_CAUSE_CHARS,
            ),
            "evidence": {
                "type": "array",
                "maxItems": MAX_EVIDENCE_ITEMS,
                "items": _string(
                    f"One fact quoted or paraphrased from the evidence "
                    f"(at most {MAX_EVIDENCE_ITEM_CHARS} characters).",
                    MAX_EVIDENCE_ITEM_CHARS,
                ),
            },
            "remediations": {
                "type": "array",
                "maxItems": MAX_REMEDIATIONS,
                "description": "Best first.",
                "items": remediation,
            },
            "disagrees_with_analyzers": {
                "type": ["string", "null"],
                "description": "Null if you agree with the analyzers, else why they are wrong.",
            },
            "evidence_ids": {
                "type": "array",
                "maxItems": MAX_CITED_IDS,
                "description": "The ids in brackets ([P1], [V3], [M2]...) of the evidence lines "
                "the category rests on; only ids that appear in the evidence.",
                "items": _string("One evidence id, e.g. P1.", MAX_CITED_ID_CHARS),
            },
        },
        "required": [
            "category",
            "confidence",
            "summary",
            "root_cause",
            "evidence",
            "remediations",
            "disagrees_with_analyzers",
            "evidence_ids",
        ],
        "additionalProperties": False,
    }
