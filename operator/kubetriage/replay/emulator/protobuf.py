"""Decoding of the Kubernetes protobuf request bodies that kubectl's typed clients send.

``kubectl create namespace|configmap|secret|serviceaccount|deployment`` (the imperative
generators) POST ``application/vnd.kubernetes.protobuf`` and never fall back to JSON, so
``server.py`` turns such bodies into JSON objects with this module. Only the fields those
generators fill in are described; unknown fields are skipped. Responses stay JSON, which
those clients accept.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from .errors import ApiError

JsonObj = dict[str, Any]
# field number -> (json name, type, repeated); a type is a scalar name, "map:<value>"
# or the name of another message in _MESSAGES.
Fields = dict[int, tuple[str, str, bool]]

_MAGIC = b"k8s\x00"

_MESSAGES: Final[Mapping[str, Fields]] = {
    "Unknown": {1: ("typeMeta", "TypeMeta", False), 2: ("raw", "bytes", False)},
    "TypeMeta": {1: ("apiVersion", "string", False), 2: ("kind", "string", False)},
    "ObjectMeta": {
        1: ("name", "string", False),
        2: ("generateName", "string", False),
        3: ("namespace", "string", False),
        5: ("uid", "string", False),
        6: ("resourceVersion", "string", False),
        7: ("generation", "int", False),
        8: ("creationTimestamp", "Time", False),
        11: ("labels", "map:string", False),
        12: ("annotations", "map:string", False),
        13: ("ownerReferences", "OwnerReference", True),
        14: ("finalizers", "string", True),
    },
    "Time": {1: ("seconds", "int", False), 2: ("nanos", "int", False)},
    "OwnerReference": {
        1: ("kind", "string", False),
        3: ("name", "string", False),
        4: ("uid", "string", False),
        5: ("apiVersion", "string", False),
        6: ("controller", "bool", False),
        7: ("blockOwnerDeletion", "bool", False),
    },
    "Namespace": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "NamespaceSpec", False)},
    "NamespaceSpec": {1: ("finalizers", "string", True)},
    "ConfigMap": {
        1: ("metadata", "ObjectMeta", False),
        2: ("data", "map:string", False),
        3: ("binaryData", "map:bytes", False),
        4: ("immutable", "bool", False),
    },
    "Secret": {
        1: ("metadata", "ObjectMeta", False),
        2: ("data", "map:bytes", False),
        3: ("type", "string", False),
        4: ("stringData", "map:string", False),
        5: ("immutable", "bool", False),
    },
    "ServiceAccount": {
        1: ("metadata", "ObjectMeta", False),
        3: ("imagePullSecrets", "LocalObjectReference", True),
        4: ("automountServiceAccountToken", "bool", False),
    },
    "LocalObjectReference": {1: ("name", "string", False)},
    "Deployment": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "DeploymentSpec", False)},
    "DeploymentSpec": {
        1: ("replicas", "int", False),
        2: ("selector", "LabelSelector", False),
        3: ("template", "PodTemplateSpec", False),
        4: ("strategy", "DeploymentStrategy", False),
        5: ("minReadySeconds", "int", False),
        6: ("revisionHistoryLimit", "int", False),
        7: ("paused", "bool", False),
        9: ("progressDeadlineSeconds", "int", False),
    },
    "DeploymentStrategy": {1: ("type", "string", False)},
    "LabelSelector": {
        1: ("matchLabels", "map:string", False),
        2: ("matchExpressions", "LabelSelectorRequirement", True),
    },
    "LabelSelectorRequirement": {
        1: ("key", "string", False),
        2: ("operator", "string", False),
        3: ("values", "string", True),
    },
    "PodTemplateSpec": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "PodSpec", False)},
    "PodSpec": {
        2: ("containers", "Container", True),
        3: ("restartPolicy", "string", False),
        8: ("serviceAccountName", "string", False),
        20: ("initContainers", "Container", True),
    },
    "Container": {
        1: ("name", "string", False),
        2: ("image", "string", False),
        3: ("command", "string", True),
        4: ("args", "string", True),
        5: ("workingDir", "string", False),
        6: ("ports", "ContainerPort", True),
        7: ("env", "EnvVar", True),
        8: ("resources", "Empty", False),
        14: ("imagePullPolicy", "string", False),
    },
    "ContainerPort": {
        1: ("name", "string", False),
        2: ("hostPort", "int", False),
        3: ("containerPort", "int", False),
        4: ("protocol", "string", False),
    },
    "EnvVar": {1: ("name", "string", False), 2: ("value", "string", False)},
    "Empty": {},
}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ApiError(400, "truncated protobuf body")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    out: list[tuple[int, int, Any]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ApiError(400, f"unsupported protobuf wire type {wire}")
        out.append((number, wire, value))
    return out


def _scalar(kind: str, value: Any) -> Any:
    if kind == "string":
        return bytes(value).decode()
    if kind == "bytes":
        return base64.b64encode(bytes(value)).decode()
    if kind == "bool":
        return bool(value)
    # int: two's complement for negative int32/int64 varints
    return value - (1 << 64) if value >= 1 << 63 else value


def decode_message(data: bytes, message: str) -> JsonObj:
    spec = _MESSAGES[message]
    out: JsonObj = {}
    for number, _, value in _fields(data):
        if number not in spec:
            continue  # a field the generators do not set: skipped, not guessed
        name, kind, repeated = spec[number]
        decoded: Any
        if kind.startswith("map:"):
            entry = {n: v for n, _, v in _fields(value)}
            out.setdefault(name, {})[_scalar("string", entry.get(1, b""))] = _scalar(
                kind[4:], entry.get(2, b"")
            )
            continue
        if kind == "Time":
            seconds = decode_message(value, "Time").get("seconds", 0)
            if not seconds:
                continue  # the zero Time is JSON null, i.e. absent
            decoded = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        elif kind in _MESSAGES:
            decoded = decode_message(value, kind)
        else:
            decoded = _scalar(kind, value)
        if repeated:
            out.setdefault(name, []).append(decoded)
        else:
            out[name] = decoded
    return out


def decode_object(body: bytes) -> JsonObj:
    """Decode a ``k8s\\0``-prefixed protobuf ``Unknown`` envelope into a JSON object."""
    if not body.startswith(_MAGIC):
        raise ApiError(400, "protobuf body without the k8s magic prefix")
    envelope = decode_message(body[len(_MAGIC) :], "Unknown")
    type_meta = envelope.get("typeMeta") or {}
    kind = str(type_meta.get("kind", ""))
    if kind not in _MESSAGES:
        raise ApiError(
            415,
            f"the emulator cannot decode protobuf {kind or 'objects'}; send application/json",
        )
    raw = base64.b64decode(envelope.get("raw", ""))
    obj = decode_message(raw, kind)
    return {"apiVersion": type_meta.get("apiVersion", ""), "kind": kind, **obj}
