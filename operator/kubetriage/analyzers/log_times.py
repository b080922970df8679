"""When a log line was written, from the timestamp it starts with: RFC 3339 and its
relatives (``2026-11-20T09:58:11Z``, ``2026-11-20 09:58:11.092 UTC``, ``[2026-11-20
09:58:11]``, after a level such as ``ERROR``), the slash-dated form of nginx's error log and
Go's standard logger (``2026/11/20 09:50:47``), Boost.Log's month names (``[2026-Nov-20
09:50:54.770]``), klog's year-less header (``E1120 09:50:47.123456``), and a structured
log's time field, in JSON (``{"ts":"2026-11-20T09:58:41Z",...}``) or logfmt (Go's slog and
logrus, go-kit: ``time=2026-11-20T09:58:41Z level=INFO``, ``level=info ts=...``). A time
with no zone is read as UTC, what containers in a cluster log by default. A date elsewhere
in a line (a certificate's expiry...) says nothing about when the line was written.

Pure; shared by the rules that order a caller's failing calls against what its callee did.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DATE_TIME = (
    r"(?P<year>\d{4})[-/](?P<month>\d{2}|[A-Za-z]{3})[-/](?P<day>\d{2})[T ]"
    r"(?P<time>\d{2}:\d{2}:\d{2})(?:[.,]\d+)?\s*(?P<zone>Z|[+-]\d{2}:?\d{2}|UTC)?"
)
_LEADING = re.compile(rf"^\W{{0,3}}(?:[A-Z]{{3,8}}\W{{1,3}})?{_DATE_TIME}")
_FIELD = re.compile(
    rf'(?:"(?:@?timestamp|time|ts|t)"\s*:\s*"|(?:^|\s)(?:timestamp|time|ts|t)="?){_DATE_TIME}'
)
_KLOG = re.compile(r"^[IWEF](?P<month>\d{2})(?P<day>\d{2}) (?P<time>\d{2}:\d{2}:\d{2})")


def line_time(line: str, now: datetime) -> datetime | None:
    """When ``line`` was written, or None when it does not start with a time (``now``
    supplies klog's missing year: the latest one not after ``now``)."""
    match = _LEADING.match(line) or _FIELD.search(line)
    if match is not None:
        month = match["month"]
        if not month.isdigit():
            if month.lower() not in _MONTHS:
                return None
            month = f"{_MONTHS.index(month.lower()) + 1:02d}"
        zone = match["zone"] or "Z"
        zone = "+00:00" if zone in ("Z", "UTC") else zone
        try:
            return datetime.fromisoformat(
                f"{match['year']}-{month}-{match['day']}T{match['time']}{zone}"
            )
        except ValueError:
            return None
    klog = _KLOG.match(line)
    if klog is None:
        return None
    for year in (now.year, now.year - 1):
        try:
            when = datetime.fromisoformat(
                f"{year}-{klog['month']}-{klog['day']}T{klog['time']}"
            ).replace(tzinfo=UTC)
        except ValueError:
            return None
        if when <= now + timedelta(days=1):
            return when
    return None
