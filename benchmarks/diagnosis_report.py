"""The diagnosis benchmark's report: its results (the JSON twin) rendered as Markdown."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any


def _mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def within_limit(row: dict[str, Any]) -> bool:
    peak = max(row["peak_investigating"], row["peak_collections"], row["peak_model_calls"])
    return bool(peak <= row["concurrency"])


def _peak_cell(row: dict[str, Any]) -> str:
    peak = row["peak_in_flight"]
    return f"{peak} (**queued**)" if peak >= row["concurrency"] else str(peak)


def _failures(rows: Sequence[dict[str, Any]]) -> list[str]:
    """A line per scenario in which Incidents did not end Diagnosed: how many, in which
    phase, and the reasons their status gives (older runs did not record them); and one
    where the watch saw Incidents diagnosed a second time."""
    lines: list[str] = []
    for row in rows:
        missing = row["count"] - row["diagnosed"]
        where = f"{row.get('api', 'emulator')}, concurrency {row['concurrency']}"
        if again := row.get("diagnosed_again"):
            lines.append(f"- {where}: {len(again)} diagnosed a second time.")
        if missing <= 0:
            continue
        if "not_diagnosed" not in row:
            lines.append(f"- {where}: {missing} not Diagnosed; this run did not record why.")
            continue
        reasons = Counter(
            f"{r['phase']} ({r['failure'] or 'no failure seen'})" for r in row["not_diagnosed"]
        )
        said = "; ".join(f"{n} x {text}" for text, n in reasons.most_common())
        lines.append(f"- {where}: {missing} not Diagnosed: {said}")
    heading = "Incidents that did not end Diagnosed once:"
    return ["", heading, "", *lines] if lines else []


def _burst_rows(rows: Sequence[dict[str, Any]]) -> list[str]:
    lines = [
        "| API server | concurrency | Kopf idle_timeout | incidents | diagnosed | seconds | "
        "incidents/s | peak Investigating | peak collections | peak LLM calls | LLM requests | "
        "within limit | load |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for row in rows:
        idle = row["kopf_queueing"].get("idle_timeout")
        lines.append(
            f"| {row.get('api', 'emulator')} | {row['concurrency']} | {idle} s | "
            f"{row['count']} | {row['diagnosed']} | {row['seconds']:.1f} | "
            f"{row['per_second']:.1f} | {row['peak_investigating']} | "
            f"{row['peak_collections']} | {row['peak_model_calls']} | {row['llm_requests']} | "
            f"{'yes' if within_limit(row) else '**NO**'} | {row['load']} |"
        )
    return lines


def _cached_cell(row: dict[str, Any]) -> str:
    if "cached" not in row:
        return "-"
    if row["cached"] and row["llm_requests"]:
        return "true (**stale**, see below)"
    return "true" if row["cached"] else "unset"


def report(results: dict[str, Any]) -> str:
    lat = results["latency"]
    bursts = results["burst"]
    product = [r for r in bursts if r["kopf_idle_timeout"] is None]
    experiment = [r for r in bursts if r["kopf_idle_timeout"] is not None]
    lines = [
        "# Diagnosis benchmark",
        "",
        f"Run {results['date']} on {results['machine']}. Command: `{results['command']}`.",
        "Load average (1/5/15 min) is given per scenario: other engineers share this machine.",
        "",
        "## Time to diagnosis",
        "",
        "Incidents created through the API (the example cases that have a real-cluster half "
        "in tests/e2e/manifests, round-robin, each in its own namespace) one every "
        f"{lat[0]['interval_ms']:.0f} ms; latency = create request returned -> a watch sees "
        "phase Diagnosed. Operator in-process (Kopf + pipeline, concurrency "
        f"{lat[0]['concurrency']}). API servers: the emulator in the same process, loaded "
        "with the cases' objects and logs; and the local control plane "
        "(tests/support/cluster.py: etcd, kube-apiserver, controllers, scheduler, kwok), where "
        "the cases' real-cluster halves are applied and broken by kwok Stages, with the "
        "cases' container logs. The LLM is a scripted server answering at once, so the LLM "
        "rows are our overhead without model latency. The pace is chosen below the "
        "operator's capacity on a quiet machine (see throughput), so a row is latency, not "
        "queueing, while peak Investigating stays under the limit; a row where it reached "
        "the limit is marked queued: under that run's load the Incidents waited for a slot "
        "and its times include the wait.",
        "",
        "| API server | LLM | incidents | diagnosed | p50 ms | p95 ms | max ms | "
        "peak Investigating | LLM requests | load |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in lat:
        lines.append(
            f"| {row.get('api', 'emulator')} | {row['mode']} | {row['count']} | "
            f"{row['diagnosed']} | {row['p50_ms']:.0f} | "
            f"{row['p95_ms']:.0f} | {row['max_ms']:.0f} | {_peak_cell(row)} | "
            f"{row.get('llm_requests', 0)} | {row['load']} |"
        )
    lines += _failures(lat)
    lines += [
        "",
        "## Throughput and concurrency",
        "",
        "Incidents stored at once with the instant LLM (one emulator call; one `kubectl "
        "create` of a YAML stream on the real apiserver, whose time is included); time until "
        "the watch has seen every one Diagnosed. In flight: Incidents in phase "
        "Investigating as the API serialised the writes (the whole handler), concurrent "
        "evidence collections and concurrent model calls (counting adapters around the real "
        "collector and LLM stage).",
        "",
        "`settings.concurrency` bounds the diagnoses (a semaphore around the diagnose "
        "handler); Kopf's worker limit is 4 x `concurrency`. Kopf keeps each worker for "
        "`queueing.idle_timeout` after the object's last event; the column shows the value "
        "the operator ran with (read back from Kopf's settings).",
        "",
        "As shipped:",
        "",
        *_burst_rows(product),
        *_failures(product),
    ]
    if experiment:
        lines += [
            "",
            "For comparison, the same operator with `queueing.idle_timeout` forced to the "
            "given value by the benchmark (Kopf's own default is 5 s; when `concurrency` was "
            "Kopf's worker limit, a slot then served about one Incident per 5 s):",
            "",
            *_burst_rows(experiment),
            *_failures(experiment),
        ]
    mem = results["memory"]
    lines += [
        "",
        "## Memory (RSS)",
        "",
        "Separate process: `kubetriage run --all-namespaces --standalone --no-webhook "
        f"--concurrency {mem['concurrency']}` (as shipped; incident memory off, instant LLM) "
        "against the emulator in the benchmark process.",
        "",
        "| operator process | RSS |",
        "| --- | ---: |",
        f"| idle, after one diagnosis | {_mib(mem['idle_rss_kib'])} |",
        f"| peak (VmHWM) while diagnosing {mem['count']} Incidents of a burst "
        f"({mem['seconds']:.1f} s, {mem['diagnosed']} diagnosed, peak Investigating "
        f"{mem['peak_investigating']}) | {_mib(mem['load_peak_kib'])} |",
        f"| after the burst | {_mib(mem['after_rss_kib'])} |",
        "",
        *(
            [
                f"Ended Failed in that burst: {len(mem['failures'])} distinct reason(s): "
                + "; ".join(f"`{f}`" for f in mem["failures"][:3]),
                "",
            ]
            if mem.get("failures")
            else []
        ),
        "In-process (benchmark process = operator + API emulator + watcher + scripted LLM "
        f"server; {_mib(results['rss_start_kib'])} after imports), so an upper bound that "
        "grows with the objects the emulator holds:",
        "",
        "| burst | RSS before | peak during | after |",
        "| --- | ---: | ---: | ---: |",
        *[
            f"| {row['count']} Incidents, concurrency {row['concurrency']}, "
            f"{row.get('api', 'emulator')} | "
            f"{_mib(row['rss_before_kib'])} | {_mib(row['rss_peak_kib'])} | "
            f"{_mib(row['rss_after_kib'])} |"
            for row in bursts
        ],
    ]
    prompt = results["prompt"]
    llm_row = next(row for row in lat if row["mode"] != "none")
    lines += [
        "",
        "## Prompt size",
        "",
        f"The real prompt (`render_messages`, system + user, `llm_prompt_max_chars` = "
        f"{prompt['max_chars_setting']}) for each of the {prompt['cases']} cases in "
        f"`{prompt['case_dir']}`, on snapshot evidence (the case's objects and logs, redacted, "
        "analyzer findings; no similar incidents; the case's Prometheus series are not "
        f"replayed here). Characters: median {prompt['chars_median']:.0f}, max "
        f"{prompt['chars_max']}. The JSON schema sent as `response_format` is counted apart.",
        "",
        "| tokenizer | median tokens | max tokens (case) | min | + response schema |",
        "| --- | ---: | ---: | ---: | ---: |",
        *[
            f"| {row['tokenizer']} | {row['median']:.0f} | {row['max']} ({row['max_case']}) | "
            f"{row['min']} | {row['schema']} |"
            for row in prompt["rows"]
        ],
        "",
        "## LLM calls per incident",
        "",
        f"Latency run with the LLM ({llm_row.get('api', 'emulator')}): {llm_row['count']} "
        f"Incidents, {llm_row.get('llm_requests', 0)} chat completion requests at the "
        "scripted server. "
        "Burst runs: "
        + ", ".join(f"{r['llm_requests']} requests for {r['count']} Incidents" for r in bursts)
        + ". Re-diagnoses of one Incident:",
        "",
        "| step | LLM requests | status `diagnosis.llm.cached` |",
        "| --- | ---: | --- |",
        *[
            f"| {row['step']} | {row['llm_requests']} | {_cached_cell(row)} |"
            for row in llm_row.get("repeats", [])
        ],
        "",
    ]
    if any(row.get("cached") and row["llm_requests"] for row in llm_row.get("repeats", [])):
        lines += [
            "**Stale flag:** a step that paid for a new model call still shows "
            "`llm.cached: true`: the earlier cached re-diagnosis set it, and the status merge "
            "patch of the fresh diagnosis omits the unset field instead of clearing it.",
            "",
        ]
    return "\n".join(lines)
