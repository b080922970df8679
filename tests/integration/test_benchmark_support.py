"""The pieces the diagnosis benchmark measures with: the scripted OpenAI server's default
reply, the Incident phase watch (peak in flight, terminal times), and the prompt-size count
over real cases. Real: the scripted server over HTTP, the API emulator with the Incident
CRD, the case loader, evidence builder, analyzers and prompt renderer."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from benchmarks.measure import percentile
from benchmarks.phases import PhaseWatcher
from benchmarks.prompt_size import bench_prompt_size, estimate_tokenizer
from benchmarks.run import write_report

from kubetriage.crd import build_incident_crd
from kubetriage.models.incident import GROUP, KIND, VERSION
from kubetriage.replay.emulator import EmulatorThread
from kubetriage.settings import Settings
from tests.support.cases import EXAMPLES
from tests.support.llm_samples import valid_answer
from tests.support.openai_server import ScriptedOpenAIServer, answer, text
from tests.support.polling import wait_for

SHARED = EXAMPLES


def _chat(server: ScriptedOpenAIServer) -> tuple[int, str]:
    request = urllib.request.Request(
        f"{server.base_url}/chat/completions",
        data=json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode(),
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            body = json.load(response)
            return response.status, body["choices"][0]["message"]["content"]
    except urllib.error.HTTPError as error:
        error.close()
        return error.code, ""


def test_default_reply_answers_every_unscripted_request_and_scripts_come_first() -> None:
    default = answer(valid_answer())
    with ScriptedOpenAIServer(default=default) as server:
        server.script(text("scripted first"))
        replies = [_chat(server) for _ in range(3)]
        assert replies[0] == (200, "scripted first")
        assert [r[0] for r in replies[1:]] == [200, 200]
        assert json.loads(replies[1][1])["category"] == valid_answer()["category"]
        assert server.unscripted == 0
        assert len(server.usages) == 3
        server.repeat(None)  # back to the strict mode: an empty queue is a 500
        assert _chat(server)[0] == 500
        assert server.unscripted == 1


def _incident(name: str, phase: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {"name": name, "namespace": "bench"},
        "spec": {"title": name},
    }
    if phase is not None:
        body["status"] = {"phase": phase}
    return body


def test_phase_watch_counts_investigating_incidents_and_times_terminal_phases(
    emulator: EmulatorThread,
) -> None:
    emulator.emulator.load([build_incident_crd()])
    with PhaseWatcher(emulator.url, emulator.emulator.token) as watcher:
        emulator.emulator.load([_incident("a", None), _incident("b", None)])
        emulator.emulator.load([_incident("a", "Investigating")])
        emulator.emulator.load([_incident("b", "Investigating")])
        emulator.emulator.load([_incident("a", "Diagnosed")])
        emulator.emulator.load([_incident("c", "Investigating")])
        emulator.emulator.load([_incident("b", "Failed"), _incident("c", "Diagnosed")])
        assert watcher.wait_done(["bench/a", "bench/b", "bench/c"], within=10)
    # a and b overlapped, then c overlapped with b only: never three at once.
    assert watcher.peak_in_flight == 2
    assert watcher.phases == {"bench/a": "Diagnosed", "bench/b": "Failed", "bench/c": "Diagnosed"}
    assert watcher.investigating_at["bench/a"] <= watcher.done_at["bench/a"]
    assert watcher.again == set()
    assert watcher.error is None


def test_phase_watch_tells_an_incident_diagnosed_a_second_time(emulator: EmulatorThread) -> None:
    emulator.emulator.load([build_incident_crd()])
    with PhaseWatcher(emulator.url, emulator.emulator.token) as watcher:
        for phase in ("Investigating", "Diagnosed", "Investigating", "Diagnosed"):
            emulator.emulator.load([_incident("twice", phase)])
        emulator.emulator.load([_incident("once", "Investigating")])
        emulator.emulator.load([_incident("once", "Diagnosed")])
        wait_for(
            lambda: dict(watcher.phases),
            until=lambda phases: phases.get("bench/once") == "Diagnosed",
            what="the watch to see bench/once Diagnosed",
        )
    assert watcher.again == {"bench/twice"}


def test_phase_watch_reports_incidents_still_missing() -> None:
    with EmulatorThread() as cluster:
        cluster.emulator.load([build_incident_crd()])
        with PhaseWatcher(cluster.url, cluster.emulator.token) as watcher:
            cluster.emulator.load([_incident("slow", "Investigating")])
            assert not watcher.wait_done(["bench/slow"], within=0.3)


def test_prompt_size_counts_the_real_prompt_of_each_case_within_its_budget() -> None:
    result = bench_prompt_size(SHARED, counters=[estimate_tokenizer()])
    assert result["cases"] == 3
    (row,) = result["rows"]
    assert 0 < row["min"] <= row["median"] <= row["max"]
    assert row["schema"] > 0
    # The renderer's contract: no prompt above llm_prompt_max_chars.
    assert result["chars_max"] <= Settings().llm_prompt_max_chars
    assert result["chars_max"] // 4 - 1 <= row["max"] <= result["chars_max"] // 4


@pytest.mark.parametrize(("q", "expected"), [(0.0, 1.0), (0.5, 3.0), (0.95, 5.0), (1.0, 5.0)])
def test_percentile_is_nearest_rank(q: float, expected: float) -> None:
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], q) == expected


def test_runner_report_embeds_each_results_file_and_says_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "diagnosis.md").write_text("# Diagnosis benchmark\n\n## Latency\n\n| p50 | 37 |\n")
    (tmp_path / "receiver.md").write_text("# Receiver\n\nall accepted after 26.48 s\n")
    target = tmp_path / "RESULTS.md"
    write_report(tmp_path, "benchmarks/run.py --report-only", [], target)
    report = target.read_text()
    assert "### Latency" in report  # sub-headings pushed one level down under the section
    assert "| p50 | 37 |" in report
    assert "all accepted after 26.48 s" in report
    assert "_Not run yet: `" in report  # memory.md is absent: said so, not silently dropped
    assert "logical cores" in report
    assert "(report regenerated from existing results)" in report
