"""Alertmanager alerts to Incident specs: titles, severities, deterministic names.

Pure; used by the webhook receiver and by the replay tooling (``kubetriage diagnose``), so a
replayed case becomes exactly the Incident a real alert would have created.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping

from kubetriage.models.incident import Alert, IncidentSpec
from kubetriage.models.vocabulary import Severity

_SLUG = re.compile(r"[^a-z0-9-]+")
_SEVERITY_ALIASES = {
    "critical": Severity.CRITICAL,
    "page": Severity.CRITICAL,
    "error": Severity.CRITICAL,
    "high": Severity.CRITICAL,
    "warning": Severity.WARNING,
    "warn": Severity.WARNING,
    "medium": Severity.WARNING,
    "info": Severity.INFO,
    "informational": Severity.INFO,
    "low": Severity.INFO,
    "none": Severity.INFO,
}


def label_fingerprint(labels: Mapping[str, str]) -> str:
    """A stable identity for a label set when Alertmanager's fingerprint is not at hand."""
    canonical = "\x00".join(f"{k}\x01{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def incident_name(alertname: str, key: str) -> str:
    """``<alertname>-<hash of key>``: a valid, deterministic object name (<= 63 chars)."""
    slug = _SLUG.sub("-", alertname.lower()).strip("-")[:40].strip("-") or "alert"
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return f"{slug}-{digest}"


def severity_of(labels: Mapping[str, str]) -> Severity:
    return _SEVERITY_ALIASES.get(labels.get("severity", "").strip().lower(), Severity.WARNING)


def title_of(alerts: Iterable[Alert]) -> str:
    alerts = list(alerts)
    first = alerts[0] if alerts else Alert()
    # An empty alertname would make an empty title, which the CRD refuses.
    alertname = first.labels.get("alertname", "").strip() or "Alert"
    summary = first.annotations.get("summary") or first.annotations.get("message")
    title = f"{alertname}: {summary}" if summary else alertname
    return title[:256]


def spec_from_alerts(alerts: list[Alert], *, max_alerts: int = 100) -> IncidentSpec:
    """The Incident spec for one alert group; the most severe alert comes first."""
    ordered = sorted(
        alerts,
        key=lambda a: (
            [Severity.CRITICAL, Severity.WARNING, Severity.INFO].index(severity_of(a.labels)),
            a.starts_at.isoformat() if a.starts_at else "",
        ),
    )
    first = ordered[0] if ordered else Alert()
    description = first.annotations.get("description")
    return IncidentSpec(
        title=title_of(ordered),
        description=description[:8192] if description else None,
        severity=severity_of(first.labels),
        source="alertmanager",
        target=None,
        alerts=ordered[:max_alerts],
    )
