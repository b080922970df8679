"""The ``labels-recommended`` and ``shuffle`` transforms (see ``tools/metamorphic.py``): the
same objects written another way, with the other ``app`` label key or in another order."""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Mapping
from typing import Any

from tools.metamorphic_case import Case, kept_namespace, map_strings, meta_of, objects_of

SEED = 20261120


# --- labels-recommended --------------------------------------------------------------------

APP_KEYS = {"app": "app.kubernetes.io/name", "app.kubernetes.io/name": "app"}
# Dicts holding label maps: objects' labels, selectors (matchLabels, a Service's selector).
LABEL_MAP_KEYS = frozenset({"labels", "matchLabels"})


def _swap_keys(labels: Mapping[str, Any], vendor: frozenset[str]) -> dict[str, Any]:
    return {(k if v in vendor else APP_KEYS.get(k, k)): v for k, v in labels.items()}


def _vendor_values(case: Mapping[str, Any]) -> frozenset[str]:
    """The ``app`` label values of the cluster's own components (objects in its kept
    namespaces): their charts set those labels, not the team whose convention is varied."""
    return frozenset(
        str(v)
        for o in objects_of(case)
        if kept_namespace(str(meta_of(o).get("namespace") or meta_of(o).get("name") or ""))
        for k, v in (meta_of(o).get("labels") or {}).items()
        if k in APP_KEYS
    )


def _swap_labels(
    value: Any, vendor: frozenset[str], parent: str = "", grandparent: str = ""
) -> Any:
    if isinstance(value, list):
        return [_swap_labels(v, vendor, parent, grandparent) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if (
            isinstance(item, dict)
            and all(isinstance(v, str) for v in item.values())
            and (
                key in LABEL_MAP_KEYS
                # A Service's spec.selector is a plain label map; others are LabelSelectors.
                or (key == "selector" and parent == "spec" and "matchLabels" not in item)
            )
        ):
            item = _swap_keys(item, vendor)
        values = value.get("values") or []
        if key == "key" and parent == "matchExpressions" and isinstance(item, str):
            item = item if vendor.intersection(map(str, values)) else APP_KEYS.get(item, item)
        out[key] = _swap_labels(item, vendor, key, parent)
    return out


def _swap_selector_text(text: str) -> str:
    """``app=x`` <-> ``app.kubernetes.io/name=x`` in a label selector string."""
    return re.sub(
        r"(?<![\w./-])(app\.kubernetes\.io/name|app)(?=\s*(?:=|!=|\s+in\s|\s+notin\s))",
        lambda m: APP_KEYS[m.group(1)],
        text,
    )


def labels_recommended(case: Case) -> Case:
    """The ``app`` and ``app.kubernetes.io/name`` label keys swapped everywhere."""
    out = copy.deepcopy(case)
    vendor = _vendor_values(case)
    cluster = []
    for obj in objects_of(out):
        namespace = str(meta_of(obj).get("namespace") or "")
        if kept_namespace(namespace) or (
            obj.get("kind") == "Namespace" and kept_namespace(str(meta_of(obj).get("name")))
        ):
            cluster.append(obj)
            continue
        swapped = _swap_labels(obj, vendor)
        # Label selectors written as text: an HPA's metric selector, a Job's logs hint...
        cluster.append(
            map_strings(
                swapped,
                lambda t, p: _swap_selector_text(t) if p and p[-1] == "selector" else t,
            )
        )
    out["cluster"] = cluster
    metrics = out.get("metrics")
    if isinstance(metrics, dict):
        for series in metrics.get("series") or []:
            if isinstance(series, dict) and isinstance(series.get("series"), str):
                series["series"] = re.sub(
                    r"\blabel_app(_kubernetes_io_name)?=",
                    lambda m: "label_app=" if m.group(1) else "label_app_kubernetes_io_name=",
                    series["series"],
                )
    return out


# --- shuffle -------------------------------------------------------------------------------


def _reverse_lists(value: Any, key: str = "") -> Any:
    if isinstance(value, list):
        items = [_reverse_lists(v) for v in value]
        if key in {"containers", "ports"}:
            items.reverse()
        if key == "env" and not any("$(" in str(v.get("value", "")) for v in items):
            items.reverse()
        return items
    if isinstance(value, dict):
        return {k: _reverse_lists(v, str(k)) for k, v in value.items()}
    return value


def shuffle(case: Case, seed: int = SEED) -> Case:
    """Objects in a seeded random order; containers, ports and env lists reversed."""
    out = copy.deepcopy(case)
    cluster = [_reverse_lists(o) for o in objects_of(out)]
    random.Random(f"{seed}:{case.get('id', '')}").shuffle(cluster)
    out["cluster"] = cluster
    return out
