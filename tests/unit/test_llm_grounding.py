"""A model's evidence line is shown only when it quotes what the operator observed
(``kubetriage.llm.grounding``): quotes of the rendered evidence or of analyzers' facts are
kept, paraphrases with new words, bare tokens and made-up lines are not. Pure; real Evidence
models rendered by the real prompt renderer, no model."""

from __future__ import annotations

from datetime import UTC, datetime

from kubetriage.llm.grounding import MIN_QUOTED_SHARE, grounded_lines, quoted_share, words
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import LogTail, WorkloadEvidence

WORKLOAD = ObjectRef(kind="Deployment", namespace="media", name="thumbnailer")


def _evidence() -> Evidence:
    return Evidence(
        collected_at=datetime(2026, 11, 20, 10, tzinfo=UTC),
        target=WORKLOAD,
        workload=WorkloadEvidence(ref=WORKLOAD),
        logs=[
            LogTail(
                namespace="media",
                pod="thumbnailer-5c9d-abcde",
                container="thumbnailer",
                lines=["2026-11-20T09:58:01Z fatal: cannot allocate 268435456 bytes for frame"],
            )
        ],
    )


def test_words_ignore_case_and_punctuation() -> None:
    assert words("Deployment/media/thumbnailer: desired=3") == [
        "deployment",
        "media",
        "thumbnailer",
        "desired",
        "3",
    ]


def test_a_quote_of_a_log_line_is_shown_and_made_up_lines_are_not() -> None:
    quote = "fatal: cannot allocate 268435456 bytes for frame"
    made_up = "required_images_to_be_reached : required images to be reached for this container."
    kept = grounded_lines(["1.5.2", made_up, quote, "thumbnailer"], _evidence())
    assert kept == [quote]


def test_a_paraphrase_with_words_the_evidence_lacks_is_not_shown() -> None:
    paraphrase = "the thumbnailer ran out of heap while decoding a large video"
    assert grounded_lines([paraphrase], _evidence()) == []


def test_an_analyzers_fact_counts_as_observed() -> None:
    fact = "container_memory_working_set_bytes peaked at 475Mi, 93% of the 512Mi limit"
    line = "working set peaked at 475Mi, 93% of the 512Mi limit"
    assert grounded_lines([line], _evidence()) == []
    assert grounded_lines([line], _evidence(), observed=[fact]) == [line]


def test_a_line_mostly_invented_around_a_quoted_name_is_not_shown() -> None:
    # The object's name is in the evidence; the rest is not.
    line = "Deployment/media/thumbnailer: requestable images pulled from the media stack"
    runs_share = quoted_share(line, frozenset({("deployment", "media", "thumbnailer")}))
    assert 0 < runs_share < MIN_QUOTED_SHARE
    assert grounded_lines([line], _evidence()) == []


def test_a_line_shorter_than_a_run_is_never_a_quote() -> None:
    assert quoted_share("cannot allocate", frozenset({("cannot", "allocate", "268435456")})) == 0
