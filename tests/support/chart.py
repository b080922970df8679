"""Renders the Helm chart offline through helm-python-sdk (Helm's Go engine, no helm binary)
into parsed manifests; used by the chart unit tests and the e2e tests that install it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "kubetriage"
RELEASE = "kubetriage"
NAMESPACE = "kubetriage"

Manifest = dict[str, Any]


def render_chart(values: dict[str, Any] | None = None) -> dict[str, list[Manifest]]:
    """Template path -> the objects it rendered (NOTES.txt and empty documents left out)."""
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True)
    return {
        path: [doc for doc in yaml.safe_load_all(text) if doc]
        for path, text in rendered.items()
        if path.endswith((".yaml", ".yml"))
    }


def render_notes(values: dict[str, Any] | None = None) -> str:
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True)
    return rendered[f"{CHART.name}/templates/NOTES.txt"]


def manifests(values: dict[str, Any] | None = None) -> list[Manifest]:
    return [doc for docs in render_chart(values).values() for doc in docs]


def chart_crds() -> list[Manifest]:
    """The CRDs Helm installs from the chart's crds/ directory before the templates."""
    with helm.Chart.load(CHART) as chart:
        files = chart.crds
    return [doc for f in files for doc in yaml.safe_load_all(f["data"]) if doc]


def of_kind(docs: list[Manifest], kind: str) -> list[Manifest]:
    return [d for d in docs if d.get("kind") == kind]
