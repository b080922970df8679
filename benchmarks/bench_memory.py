"""Benchmark of incident memory: embedding throughput of the offline MiniLM model and search
latency (p50/p95) of ``IncidentMemory.search`` at 10k and 100k stored incidents, in the
embedded on-disk Qdrant mode. Run by hand: ``.venv/bin/python benchmarks/bench_memory.py``;
writes ``benchmarks/results/memory.md``.

Synthetic data: realistic canonical texts are generated from templates per category; a few
thousand of them are embedded for real, and the stored vectors are those real embeddings
perturbed with small Gaussian noise (then re-normalised), so 100k points do not need 100k
model runs on a 2-core machine. Queries are real embeddings of fresh texts.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "operator"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.measure import percentile
from qdrant_client import QdrantClient
from qdrant_client.http import models as qm

from kubetriage.memory.embeddings import OnnxMiniLMEmbedder
from kubetriage.memory.records import MemoryRecord
from kubetriage.memory.store import DEFAULT_COLLECTION, IncidentMemory, point_id
from kubetriage.models.vocabulary import Category

TEMPLATES: dict[Category, list[str]] = {
    Category.OOM_KILLED: [
        "container {c} last terminated: OOMKilled exit code 137",
        "memory working set of {c} rising to the {mem} limit",
        "event BackOff: Back-off restarting failed container {c} in pod {w}-<hash>",
    ],
    Category.CRASH_LOOP: [
        "container {c} last terminated: Error exit code 1",
        "log: panic: runtime error: invalid memory address or nil pointer dereference",
        "log: fatal: could not parse flag --{flag}",
    ],
    Category.IMAGE_PULL: [
        "container {c} is waiting: ImagePullBackOff",
        "event Failed: Failed to pull image registry.example.com/{w}:<num>: manifest unknown",
        "event Failed: pull access denied, repository does not exist or may require auth",
    ],
    Category.CONFIG_MISSING: [
        "container {c} is waiting: CreateContainerConfigError",
        'event Failed: Error: configmap "{w}-config" not found',
        'event Failed: secret "{w}-db" not found',
    ],
    Category.PROBE_FAILURE: [
        "event Unhealthy: Liveness probe failed: HTTP probe failed with statuscode: 503",
        "event Unhealthy: Readiness probe failed: connection refused on port <num>",
    ],
    Category.UNSCHEDULABLE: [
        "pod PodScheduled Unschedulable: 0/6 nodes are available: insufficient memory",
        "pod PodScheduled Unschedulable: node(s) had untolerated taint",
    ],
    Category.DEPENDENCY_FAILURE: [
        "log: upstream {dep} answered 503 Service Unavailable",
        "log: dial tcp <ip>: connect: connection refused to {dep}",
        "log: timeout after 30s calling {dep}",
    ],
    Category.CERTIFICATE_EXPIRY: [
        "log: x509: certificate has expired or is not yet valid",
        "certificate {w}-tls not ready: renewal failed",
    ],
    Category.STORAGE: [
        "event FailedMount: MountVolume.SetUp failed for volume data",
        "log: no space left on device",
    ],
    Category.NODE_FAILURE: [
        "node Ready=False: kubelet stopped posting node status",
        "pod Evicted: The node was low on resource: ephemeral-storage",
    ],
}
ALERTS = ["KubePodCrashLooping", "KubeDeploymentRolloutStuck", "TargetDown", "HighErrorRate"]
WORDS = ["checkout", "payments", "search", "mailer", "gateway", "ledger", "exporter", "auth"]
CLUSTERS = ["prod-eu", "prod-us", "staging", "dev"]
NAMESPACES = ["shop", "billing", "platform", "data", "web", "ops"]


def synthetic_text(rng: random.Random, category: Category) -> str:
    w = rng.choice(WORDS)
    values = {
        "c": rng.choice(["app", "server", "worker", w]),
        "w": w,
        "mem": rng.choice(["128Mi", "256Mi", "512Mi", "1Gi"]),
        "flag": rng.choice(["port", "config", "db-url"]),
        "dep": rng.choice(["postgres", "redis", "email-api", "kafka", "s3"]),
    }
    lines = [t.format(**values) for t in TEMPLATES[category]]
    rng.shuffle(lines)
    head = [f"alert: {rng.choice(ALERTS)}", f"title: {w} {category.value.replace('-', ' ')}"]
    return "\n".join(head + [f"- {line}" for line in lines[: rng.randint(1, len(lines))]])


def bench_embedding(rng: random.Random, n: int) -> list[tuple[str, float]]:
    texts = [synthetic_text(rng, rng.choice(list(TEMPLATES))) for _ in range(n)]
    rows: list[tuple[str, float]] = []
    for threads in (1, 2):
        for batch in (1, 32):
            embedder = OnnxMiniLMEmbedder(batch_size=batch, intra_op_threads=threads)
            embedder.embed(texts[:8])  # warm-up
            started = time.perf_counter()
            embedder.embed(texts)
            rows.append((f"threads={threads} batch={batch}", n / (time.perf_counter() - started)))
    return rows


def fill(
    path: Path, embedder: OnnxMiniLMEmbedder, rng: random.Random, size: int, bases: np.ndarray
) -> float:
    """Create the collection through IncidentMemory (metadata, layout), then bulk-insert
    perturbed vectors with the raw client. Returns seconds spent inserting."""
    IncidentMemory(embedder, redact=lambda s: s, path=path).close()
    client = QdrantClient(path=str(path))
    categories = list(TEMPLATES)
    now = datetime.now(UTC)
    started = time.perf_counter()
    batch: list[qm.PointStruct] = []
    np_rng = np.random.default_rng(rng.randint(0, 2**32))
    for i in range(size):
        base_index = i % len(bases)
        vector = bases[base_index] + np_rng.normal(0.0, 0.02, bases.shape[1])
        vector /= np.linalg.norm(vector)
        record = MemoryRecord(
            name=f"inc-{i}",
            cluster=rng.choice(CLUSTERS),
            namespace=rng.choice(NAMESPACES),
            workload=f"Deployment/{rng.choice(WORDS)}",
            category=categories[base_index % len(categories)],
            resolution="synthetic",
            created_at=now,
            resolved_at=now if rng.random() < 0.9 else None,
        )
        payload = record.model_dump(mode="json") | {"text": "", "resolved": record.resolved}
        batch.append(
            qm.PointStruct(
                id=point_id(record.name, record.cluster, record.namespace),
                vector=vector.tolist(),
                payload=payload,
            )
        )
        if len(batch) == 1000:
            client.upsert(DEFAULT_COLLECTION, points=batch)
            batch = []
    if batch:
        client.upsert(DEFAULT_COLLECTION, points=batch)
    elapsed = time.perf_counter() - started
    client.close()
    return elapsed


def bench_search(
    path: Path, embedder: OnnxMiniLMEmbedder, rng: random.Random, queries: int
) -> dict[str, float]:
    started = time.perf_counter()
    memory = IncidentMemory(embedder, redact=lambda s: s, path=path)
    open_seconds = time.perf_counter() - started
    texts = [synthetic_text(rng, rng.choice(list(TEMPLATES))) for _ in range(queries)]
    plain: list[float] = []
    preferred: list[float] = []
    try:
        memory.search(texts[0], k=3)  # warm-up
        for text in texts:
            t0 = time.perf_counter()
            memory.search(text, k=3, score_threshold=0.5)
            plain.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            memory.search(
                text, k=3, score_threshold=0.5, prefer_cluster="prod-eu", prefer_namespace="shop"
            )
            preferred.append((time.perf_counter() - t0) * 1000)
        count = memory.stats().count
    finally:
        memory.close()
    return {
        "count": count,
        "open_s": open_seconds,
        "plain_p50": statistics.median(plain),
        "plain_p95": percentile(plain, 0.95),
        "pref_p50": statistics.median(preferred),
        "pref_p95": percentile(preferred, 0.95),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--base-texts", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--embed-texts", type=int, default=256)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "memory.md")
    args = parser.parse_args()
    # Local mode warns above 20k points; that is the point of measuring it.
    warnings.filterwarnings("ignore", message="Local mode is not recommended")
    rng = random.Random(20261120)

    print("embedding throughput ...", flush=True)
    throughput = bench_embedding(rng, args.embed_texts)
    embedder = OnnxMiniLMEmbedder(batch_size=32, intra_op_threads=2)
    print(f"embedding {args.base_texts} base texts ...", flush=True)
    t0 = time.perf_counter()
    bases = np.array(
        embedder.embed(
            [
                synthetic_text(rng, cat)
                for i in range(args.base_texts)
                for cat in [list(TEMPLATES)[i % len(TEMPLATES)]]
            ]
        )
    )
    base_seconds = time.perf_counter() - t0

    results: list[tuple[int, float, dict[str, float]]] = []
    workdir = Path(tempfile.mkdtemp(prefix="kt-bench-memory-"))
    try:
        for size in args.sizes:
            path = workdir / f"q{size}"
            print(f"filling {size} ...", flush=True)
            insert_seconds = fill(path, embedder, rng, size, bases)
            print(f"searching {size} ...", flush=True)
            results.append((size, insert_seconds, bench_search(path, embedder, rng, args.queries)))
            shutil.rmtree(path)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    lines = [
        "# Incident memory benchmark",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"model `{embedder.model_id}`; Qdrant embedded on-disk (local) mode.",
        "",
        "## Embedding throughput",
        "",
        f"{args.embed_texts} synthetic canonical incident texts (3-6 lines each).",
        "",
        "| setting | texts/s |",
        "| --- | ---: |",
        *[f"| {name} | {rate:.1f} |" for name, rate in throughput],
        "",
        "## Search latency",
        "",
        f"Stored vectors: {args.base_texts} real embeddings ({base_seconds:.1f}s to compute) "
        "perturbed with N(0, 0.02) noise per dimension and re-normalised; 90% resolved. "
        f"{args.queries} queries of fresh texts; latency includes embedding the query "
        "(one text, ~5-10 ms) and, with preference, the second filtered query.",
        "",
        "| stored | insert (s) | open (s) | p50 ms | p95 ms | p50 ms preferred | "
        "p95 ms preferred |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *[
            f"| {int(r['count'])} | {ins:.1f} | {r['open_s']:.1f} | {r['plain_p50']:.1f} | "
            f"{r['plain_p95']:.1f} | {r['pref_p50']:.1f} | {r['pref_p95']:.1f} |"
            for _, ins, r in results
        ],
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
