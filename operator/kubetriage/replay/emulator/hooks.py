"""Test hooks: the Python API tests and replay use beside HTTP (load objects and
logs, read, delete, the audit log, fault injection, closing and expiring watches).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from pathlib import Path

import yaml

from .state import AuditRecord, Fault, JsonObj
from .watch import Watch


class Hooks(Watch):
    """Synchronous helpers, safe to call from any thread."""

    # ------------------------------------------------------------------ python API

    def write_kubeconfig(self, path: str | Path, namespace: str = "default") -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "kubetriage-emulator", "cluster": {"server": self._url}}],
            "users": [{"name": "kubetriage-emulator", "user": {"token": self.token}}],
            "contexts": [
                {
                    "name": "kubetriage-emulator",
                    "context": {
                        "cluster": "kubetriage-emulator",
                        "user": "kubetriage-emulator",
                        "namespace": namespace,
                    },
                }
            ],
            "current-context": "kubetriage-emulator",
            "preferences": {},
        }
        target.write_text(yaml.safe_dump(config, sort_keys=False))
        return target

    def load(self, objects: Iterable[JsonObj], *, auto_register: bool = True) -> list[JsonObj]:
        """Store objects as given (status included), keeping their uids, assigning fresh
        resourceVersions, creating missing namespaces and registering CRDs they contain.
        Unknown kinds are registered as extra resources when ``auto_register``."""
        items = list(objects)
        return self._on_loop(lambda: self._load(items, auto_register))

    def set_logs(
        self, namespace: str, pod: str, container: str, text: str, previous: bool = False
    ) -> None:
        self._on_loop(lambda: self._logs.__setitem__((namespace, pod, container, previous), text))

    def objects(self, kind_or_plural: str, namespace: str | None = None) -> list[JsonObj]:
        """Deep copies of the stored objects of a resource (for assertions)."""

        def collect() -> list[JsonObj]:
            rt = self.registry.lookup(kind_or_plural)
            return [
                copy.deepcopy(self._out(rt, o)) for o in self._store.list_objects(rt.key, namespace)
            ]

        return self._on_loop(collect)

    def get(self, kind_or_plural: str, name: str, namespace: str = "") -> JsonObj | None:
        def fetch() -> JsonObj | None:
            rt = self.registry.lookup(kind_or_plural)
            obj = self._store.get(rt.key, namespace if rt.namespaced else "", name)
            return copy.deepcopy(self._out(rt, obj)) if obj is not None else None

        return self._on_loop(fetch)

    def delete(self, kind_or_plural: str, name: str, namespace: str = "") -> bool:
        """Delete like ``kubectl delete`` would (finalizers honoured, dependents cascade);
        returns False when there was no such object."""

        def remove() -> bool:
            rt = self.registry.lookup(kind_or_plural)
            obj = self._store.get(rt.key, namespace if rt.namespaced else "", name)
            if obj is None:
                return False
            self._delete(rt, obj, {}, dry_run=False)
            return True

        return self._on_loop(remove)

    @property
    def audit(self) -> list[AuditRecord]:
        return self._on_loop(lambda: list(self._audit))

    def clear_audit(self) -> None:
        self._on_loop(self._audit.clear)

    @property
    def resource_version(self) -> int:
        return self._on_loop(lambda: self._store.revision)

    # fault injection -------------------------------------------------------

    def close_watches(self) -> int:
        """End every open watch stream now (clients see a clean EOF); returns how many."""
        return self._on_loop(self._store.close_subscriptions)

    def expire_watches(self, count: int = 1) -> None:
        """The next ``count`` watch requests get a 410 Gone ERROR event."""

        def arm() -> None:
            self._expire_next_watches += count

        self._on_loop(arm)

    def compact(self) -> None:
        """Drop watch history: watches from any older resourceVersion get 410 Gone."""
        self._on_loop(self._store.compact)

    def fail_requests(
        self,
        count: int,
        code: int = 503,
        predicate: Callable[[AuditRecord], bool] | None = None,
        message: str = "injected fault",
    ) -> None:
        """Fail the next ``count`` API requests matching ``predicate`` with ``code``."""
        fault = Fault(predicate or (lambda _: True), count, code, message)
        self._on_loop(lambda: self._faults.append(fault))
