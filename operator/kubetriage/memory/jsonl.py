"""The memory's portable file format: one JSON object a line, a ``MemoryRecord`` with the
canonical ``text`` it was embedded from. Export writes it, import reads it back (re-embedding
with whatever model the importing process runs: the way to move memory to a new model).

Pure file I/O; no Qdrant.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kubetriage.memory.canonical import canonical_text
from kubetriage.memory.migrations import record_of
from kubetriage.memory.records import MemoryRecord


def write_records(path: Path, payloads: Iterable[dict[str, Any]]) -> int:
    """Write each stored payload as a record with its embedded text; returns the count."""
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for payload in payloads:
            line = record_of(payload).model_dump(mode="json")
            line["text"] = payload.get("text", "")
            out.write(json.dumps(line, sort_keys=True) + "\n")
            count += 1
    return count


def read_records(path: Path) -> list[tuple[MemoryRecord, str]]:
    """Each line's record and the text to embed (rebuilt from the record when absent).
    A malformed line raises ``ValueError`` naming the file and line, before anything is
    stored."""
    items: list[tuple[MemoryRecord, str]] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
                text = data.pop("text", None)
                record = MemoryRecord.model_validate(data)
            except (ValueError, ValidationError) as exc:
                raise ValueError(f"{path}:{number}: invalid memory record: {exc}") from exc
            items.append((record, text or canonical_text(record.incident_text())))
    return items
