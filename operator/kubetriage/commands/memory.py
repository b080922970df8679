"""``kubetriage memory import PATH | export PATH | search TEXT [--json] | stats``: the
incident memory (Qdrant: ``KUBETRIAGE_QDRANT_URL``, else the on-disk store at
``KUBETRIAGE_QDRANT_PATH`` or the default path). ``export`` then ``import`` into another
store (or collection) re-embeds and re-keys every record, e.g. after a model change."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kubetriage.settings import Settings

NAME = "memory"
HELP = "import past incidents into memory, search it, show its stats"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="memory_command", required=True)
    imp = sub.add_parser("import", help="import JSONL records/postmortems or a directory of cases")
    imp.add_argument("path", type=Path)
    imp.add_argument("--cluster", default=None, help="cluster name stored with the records")
    exp = sub.add_parser("export", help="every record as JSONL (the format import reads)")
    exp.add_argument("path", type=Path)
    search = sub.add_parser("search", help="the most similar resolved incidents")
    search.add_argument("text")
    search.add_argument("--json", action="store_true")
    search.add_argument("-k", type=int, default=5)
    search.add_argument("--threshold", type=float, default=0.3)
    stats = sub.add_parser("stats", help="how many incidents, by category, which model")
    stats.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from kubetriage.app import default_memory_path
    from kubetriage.memory.embeddings import OnnxMiniLMEmbedder
    from kubetriage.memory.store import IncidentMemory, IncidentMemoryError
    from kubetriage.redaction import redact_text
    from kubetriage.replay.cases import CaseError, load_case_set
    from kubetriage.replay.seeding import seed_from_cases

    if settings.qdrant_url is None and settings.qdrant_path is None:
        settings = settings.model_copy(update={"qdrant_path": default_memory_path()})
    try:
        memory = IncidentMemory.from_settings(
            settings, embedder=OnnxMiniLMEmbedder(), redact=redact_text
        )
    except IncidentMemoryError as error:
        print(f"kubetriage: {error}", file=sys.stderr)
        return 2
    with memory:
        if args.memory_command == "import":
            cluster = args.cluster or settings.cluster_name
            try:
                if args.path.is_dir():
                    ids = seed_from_cases(memory, load_case_set(args.path), cluster=cluster)
                else:
                    ids = memory.import_jsonl(args.path)
            except (CaseError, ValueError, OSError) as error:
                print(f"kubetriage: {error}", file=sys.stderr)
                return 2
            print(f"imported {len(ids)} incidents into {memory.stats().location}")
            return 0
        if args.memory_command == "export":
            try:
                count = memory.export_jsonl(args.path)
            except OSError as error:
                print(f"kubetriage: {error}", file=sys.stderr)
                return 2
            print(f"exported {count} incidents to {args.path}")
            return 0
        if args.memory_command == "search":
            matches = memory.search(args.text, k=args.k, score_threshold=args.threshold)
            if args.json:
                print(json.dumps([m.to_similar_incident().dump_k8s() for m in matches], indent=2))
                return 0
            if not matches:
                print("no similar resolved incident")
            for m in matches:
                r = m.record
                actions = ", ".join(a.value for a in r.actions) or "-"
                print(f"{m.score:.3f}  {r.name}  [{r.category.value}]  fixed by: {actions}")
                if r.resolution:
                    print(f"       {r.resolution[:160]}")
            return 0
        stats = memory.stats()
        if args.json:
            print(stats.model_dump_json(indent=2))
        else:
            print(f"location:   {stats.location} (collection {stats.collection})")
            print(f"incidents:  {stats.count}")
            print(f"model:      {stats.model_id} ({stats.dimension} dimensions)")
            print(f"schema:     v{stats.schema_version}")
            for category, count in sorted(stats.by_category.items()):
                print(f"  {category:<20} {count}")
        return 0
