"""The incident memory's point layout and its migrations: deterministic point ids, the
payload of a record, and rewriting older layouts in place (v0: metadata in a sentinel point,
``incident``/``action`` fields; v1: ids without the namespace). Used by
``kubetriage.memory.store``; each migration validates every point before writing anything,
so an interrupted one runs again to the same result.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from qdrant_client import QdrantClient
from qdrant_client.http import models as qm

from kubetriage.memory.errors import SchemaVersionError
from kubetriage.memory.records import SCHEMA_VERSION, MemoryRecord

# Namespace of the deterministic point ids; fixed forever, or re-stores would duplicate.
POINT_ID_NAMESPACE = uuid.UUID("6f1c3f4e-2b7a-5d0e-9c84-1a2b3c4d5e6f")
# Layout v0's sentinel point holding the metadata (see the store's module docstring).
V0_META_POINT_ID = "00000000-0000-0000-0000-000000000000"
_UPSERT_BATCH = 256


def point_id(name: str, cluster: str, namespace: str | None = None) -> str:
    """Deterministic id: one point per (cluster, namespace, incident name). Without a
    namespace it is layout v1's id, so records that never had one keep theirs."""
    key = f"{cluster}\x1f{name}" if not namespace else f"{cluster}\x1f{namespace}\x1f{name}"
    return str(uuid.uuid5(POINT_ID_NAMESPACE, key))


def migrate_v0(client: QdrantClient, collection: str, points: Iterable[qm.Record]) -> None:
    """v0 -> v1: ``incident`` -> ``name``, ``action`` -> ``actions``, new fields with
    their defaults, metadata from the sentinel point into the collection's metadata.

    Every payload is converted and validated before anything is written, and the
    metadata is written last (by the caller, after ``migrate_v1``), so an interrupted
    migration simply runs again (the conversion is idempotent)."""
    converted: list[tuple[qm.ExtendedPointId, dict[str, Any]]] = []
    for point in points:
        if str(point.id) == V0_META_POINT_ID:
            continue
        payload = payload_v0_to_v1(point.payload or {})
        try:
            MemoryRecord.model_validate(record_fields(payload))
        except ValidationError as exc:
            raise SchemaVersionError(
                f"cannot migrate point {point.id} of {collection!r} from schema v0: "
                f"{exc.errors()[0]['loc']} {exc.errors()[0]['msg']}"
            ) from exc
        converted.append((point.id, payload))
    for point_key, payload in converted:
        client.overwrite_payload(collection, payload=payload, points=[point_key], wait=True)
    client.delete(collection, points_selector=qm.PointIdsList(points=[V0_META_POINT_ID]))


def migrate_v1(client: QdrantClient, collection: str, points: Iterable[qm.Record]) -> None:
    """v1 -> v2: points move to ids that include the namespace (``point_id``). Every
    point is validated first; new points are written before old ones are deleted, so an
    interrupted migration runs again to the same result."""
    moves: list[tuple[str, qm.PointStruct]] = []
    for point in points:
        payload = {**(point.payload or {}), "schema_version": SCHEMA_VERSION}
        try:
            record = record_of(payload)
        except ValidationError as exc:
            raise SchemaVersionError(
                f"cannot migrate point {point.id} of {collection!r} from schema v1: "
                f"{exc.errors()[0]['loc']} {exc.errors()[0]['msg']}"
            ) from exc
        new_id = point_id(record.name, record.cluster, record.namespace)
        vector = point.vector
        if not isinstance(vector, list):
            raise SchemaVersionError(f"point {point.id} has no single vector to migrate")
        moves.append((str(point.id), qm.PointStruct(id=new_id, vector=vector, payload=payload)))
    for start in range(0, len(moves), _UPSERT_BATCH):
        batch = [p for _, p in moves[start : start + _UPSERT_BATCH]]
        client.upsert(collection, points=batch, wait=True)
    stale = [old for old, new in moves if old != str(new.id)]
    if stale:
        client.delete(collection, points_selector=qm.PointIdsList(points=stale), wait=True)


def payload_of(record: MemoryRecord, text: str) -> dict[str, Any]:
    payload = record.model_dump(mode="json")
    payload["text"] = text
    # Derived, stored so searches can filter on it (Qdrant cannot filter on "is not null").
    payload["resolved"] = record.resolved
    return payload


def record_fields(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k in MemoryRecord.model_fields}


def record_of(payload: dict[str, Any]) -> MemoryRecord:
    return MemoryRecord.model_validate(record_fields(payload))


def payload_v0_to_v1(old: dict[str, Any]) -> dict[str, Any]:
    new = dict(old)
    if "incident" in new:
        new["name"] = new.pop("incident")
    if "action" in new:
        action = new.pop("action")
        new["actions"] = [action] if action else []
    new.setdefault("actions", [])
    new.setdefault("corrected", False)
    new.setdefault("source", "feedback")
    new.setdefault("created_at", new.get("resolved_at") or datetime.now(UTC).isoformat())
    new["schema_version"] = SCHEMA_VERSION
    new["resolved"] = new.get("resolved_at") is not None
    return new
