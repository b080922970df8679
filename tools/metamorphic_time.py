"""The ``time-shift`` transform (see ``tools/metamorphic.py``): the same incident on another
day. Every time the case carries moves by one offset, written back in the form it was
written in, so what is before, after, or how long ago stays exactly as it was.

What moves:

- date-times in any string (object fields, event and managedFields times, annotations, log
  lines, alert annotations, metric labels): ``2026-11-20T09:58:01.123Z``, with a space, with
  ``/`` for ``-``, with ``,`` before the fraction, with or without seconds and zone;
- the log forms without an ISO date: klog headers (``I1120 09:58:01.123456``), common log
  format (``20/Nov/2026:09:58:01 +0000``), RFC 1123 (``Fri, 20 Nov 2026 09:58:01 GMT``, and
  Redis' ``20 Nov 2026 09:58:01.118``), Spark's ``26/11/20 09:30:14``, vLLM's
  ``INFO 11-20 09:57:26``, MinIO's ``09:58:41 UTC 11/20/2026``,
  ctime (``Fri Nov 20 09:58:01 UTC 2026``), Tomcat (``20-Nov-2026 09:58:01``), Boost.Log
  (``2026-Nov-20 09:58:01``) and syslog
  (``Nov 20 09:58:01``); week days are recomputed;
- epoch seconds and milliseconds: as JSON or logfmt values of a time-named key (``"time":``,
  ``ts=``, ``"iat":``, ``...Ms:``), any 13-digit millisecond time near the case's own, any
  seconds with a fraction (Squid's ``1795168731.201``), the
  seconds a CronWorkflow appends to its runs' names and the minutes a CronJob appends to its
  Jobs' (``-1795161600``, ``-29919480``: every occurrence alike, so the names still agree);
- metric samples: the series are relative to the replay's "now" (the latest time in the
  objects and logs), which moves with them; the values of timestamp-valued series
  (``*_timestamp_seconds``, ``*_expiry``, ``kube_*_time``...) move by the offset.

What stays: durations and ages written as such (``startsAgo``, ``5m``), dates without a time
of day (data partitions, model versions, ``--date=`` arguments: identifiers, not moments),
compact dates inside names and tags, and numbers that are not times (a byte threshold that
happens to look like an epoch second is not read as one: only time-named keys, 13-digit
milliseconds and name suffixes are).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from tools.metamorphic_case import Case, map_strings

# 37 days 5 h 13 min: whole minutes (the replay rounds "now" up to the minute, fractions of
# a second stay as written), crossing a month, not a year (klog and syslog omit the year).
OFFSET = timedelta(days=37, hours=5, minutes=13)
# How far from the case's own time an epoch number may lie and still be read as a time.
NEAR = timedelta(days=400)

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MON = "(?P<mon>" + "|".join(MONTHS) + ")"
_DOW = "(?P<dow>" + "|".join(DAYS) + ")"
_HMS = r"(?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2})"

_ISO = re.compile(
    r"(?<![\d.])(?P<y>\d{4})(?P<sep>[-/.])(?P<mo>\d{2})(?P=sep)(?P<d>\d{2})(?P<t>[T ]|\\t)"
    r"(?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?(?!\d)"
)
_KLOG = re.compile(r"(?:(?<=^)|(?<=[\s\]\"']))(?P<lvl>[IWEF])(?P<mo>\d{2})(?P<d>\d{2}) " + _HMS)
_CLF = re.compile(r"(?<!\d)(?P<d>\d{2})/" + _MON + r"/(?P<y>\d{4}):" + _HMS)
_RFC1123 = re.compile(
    r"(?<![\w:])(?:" + _DOW + r", )?(?P<d>\d{1,2}) " + _MON + r" (?P<y>\d{4}) " + _HMS
)
_CTIME = re.compile(
    _DOW + r" " + _MON + r" (?P<sp> ?)(?P<d>\d{1,2}) " + _HMS + r"(?P<z> [A-Z]{3,4})? (?P<y>\d{4})"
)
_TOMCAT = re.compile(r"(?<!\d)(?P<d>\d{2})-" + _MON + r"-(?P<y>\d{4}) " + _HMS)
_BOOST = re.compile(r"(?<!\d)(?P<y>\d{4})-" + _MON + r"-(?P<d>\d{2}) " + _HMS)
# Numeric forms without an ISO date: Spark/log4j ``26/11/20 09:30:14``, vLLM's
# ``INFO 11-20 09:57:26``, MinIO's ``09:58:41 UTC 11/20/2026``.
_YY_SLASH = re.compile(r"(?<![\d/])(?P<yy>\d{2})/(?P<mo>\d{2})/(?P<d>\d{2}) " + _HMS)
_LEVEL_MD = re.compile(
    r"(?P<lvl>\b(?:INFO|WARNING|WARN|ERROR|DEBUG|CRITICAL) )(?P<mo>\d{2})-(?P<d>\d{2}) " + _HMS
)
_TIME_US = re.compile(_HMS + r"(?P<z> [A-Z]{3,4} )(?P<mo>\d{2})/(?P<d>\d{2})/(?P<y>\d{4})")
_SYSLOG = re.compile(r"(?<![\w,] )(?<!\w)" + _MON + r" (?P<sp> ?)(?P<d>\d{1,2}) " + _HMS)
_TIME_KEY = (
    r"(?:[\w.-]*(?:time|stamp|[Tt]s|_at|At|[Dd]ate|since|until|[Ee]xpir\w*|[Mm]s)"
    r"|ts|t|iat|exp|nbf|now)"
)
# A time-named key's epoch value, or else a bare 13-digit millisecond time (one pass, so
# nothing moves twice).
_EPOCH = re.compile(
    r"(?P<key>(?<![\w.-])[\"']?"
    + _TIME_KEY
    + r"[\"']?\s*[:=]\s*[\"']?)(?P<n>\d{10}(?:\d{3})?)(?!\d)"
    r"|(?<![\d.])(?P<ms>1\d{12})(?!\d)"
    r"|(?<![\d.-])(?P<fs>1\d{9})(?=\.\d{3,9}(?!\d))"
)
_NAMED_EPOCH = re.compile(r"(?<=[a-z0-9]-)(?P<n>\d{10}|\d{8})(?=-[a-z0-9]|\.[0-9a-f]|\b)(?!:)")
TIMESTAMP_SERIES = re.compile(
    r"^[a-zA-Z_:]*(timestamp|_expiry|_expire_time|_expiration|_start_time|_created"
    r"|_last_successful_time|_last_schedule_time|_next_schedule_time|_completion_time"
    r"|electionDate|_ready_time_seconds|_seen)[a-zA-Z_:]*(\{|$)"
)


class Shift:
    """Moves the times of one case by ``offset``; ``now`` (the case's own time) tells epoch
    numbers near it from other numbers and gives yearless forms their year."""

    def __init__(self, offset: timedelta, now: datetime) -> None:
        self.offset = offset
        self.now = now

    def _near(self, when: datetime) -> bool:
        return abs(when.replace(tzinfo=None) - self.now) <= NEAR

    def epoch(self, digits: str, unit: int) -> str:
        """``digits`` (epoch time in ``unit`` seconds) shifted, or as it was if it is not
        a time near the case's."""
        try:
            when = datetime.fromtimestamp(int(digits) * unit / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            return digits
        if not self._near(when):
            return digits
        return str(int(digits) + int(self.offset.total_seconds() * 1000) // unit)

    def _iso(self, m: re.Match[str]) -> str:
        seconds = m["s"] or "00"
        try:
            when = datetime(
                int(m["y"]), int(m["mo"]), int(m["d"]), int(m["h"]), int(m["mi"]), int(seconds)
            )
        except ValueError:
            return m[0]
        new = when + self.offset
        sep = m["sep"]
        text = f"{new:%Y}{sep}{new:%m}{sep}{new:%d}{m['t']}{new:%H}:{new:%M}"
        return text + (f":{new:%S}" if m["s"] is not None else "")

    def _klog(self, m: re.Match[str]) -> str:
        try:
            when = datetime(self.now.year, int(m["mo"]), int(m["d"]), *_hms(m))
        except ValueError:
            return m[0]
        new = when + self.offset
        return f"{m['lvl']}{new:%m%d} {new:%H:%M:%S}"

    def _numeric(self, m: re.Match[str], form: str) -> str:
        groups = m.groupdict()
        year = (
            int(groups["y"])
            if groups.get("y")
            else 2000 + int(groups["yy"])
            if groups.get("yy")
            else self.now.year
        )
        try:
            when = datetime(year, int(m["mo"]), int(m["d"]), *_hms(m))
        except ValueError:
            return m[0]
        new = when + self.offset
        if form == "yy":
            return f"{new:%y/%m/%d %H:%M:%S}"
        if form == "level":
            return f"{m['lvl']}{new:%m-%d %H:%M:%S}"
        return f"{new:%H:%M:%S}{m['z']}{new:%m/%d/%Y}"

    def _named(self, m: re.Match[str], form: str) -> str:
        try:
            year = int(m["y"]) if "y" in m.groupdict() and m["y"] else self.now.year
            when = datetime(year, MONTHS.index(m["mon"]) + 1, int(m["d"]), *_hms(m))
        except ValueError:
            return m[0]
        new = when + self.offset
        mon, dow, hms = MONTHS[new.month - 1], DAYS[new.weekday()], f"{new:%H:%M:%S}"
        if form == "clf":
            return f"{new:%d}/{mon}/{new:%Y}:{hms}"
        if form == "rfc1123":
            head = f"{dow}, " if m["dow"] else ""
            return f"{head}{new.day:0{len(m['d'])}d} {mon} {new:%Y} {hms}"
        if form == "boost":
            return f"{new:%Y}-{mon}-{new:%d} {hms}"
        if form == "tomcat":
            return f"{new:%d}-{mon}-{new:%Y} {hms}"
        day = f"{new.day:2d}" if m["sp"] else str(new.day)
        if len(m["d"]) == 2 and not m["sp"]:
            day = f"{new.day:02d}"
        if form == "ctime":
            return f"{dow} {mon} {day} {hms}{m['z'] or ''} {new:%Y}"
        return f"{mon} {day} {hms}"

    def _epoch(self, m: re.Match[str]) -> str:
        if m["ms"] is not None:
            return self.epoch(m["ms"], 1)
        if m["fs"] is not None:
            return self.epoch(m["fs"], 1000)
        return m["key"] + self.epoch(m["n"], 1 if len(m["n"]) == 13 else 1000)

    def text(self, text: str) -> str:
        text = _ISO.sub(self._iso, text)
        text = _CLF.sub(lambda m: self._named(m, "clf"), text)
        text = _RFC1123.sub(lambda m: self._named(m, "rfc1123"), text)
        text = _CTIME.sub(lambda m: self._named(m, "ctime"), text)
        text = _TOMCAT.sub(lambda m: self._named(m, "tomcat"), text)
        text = _BOOST.sub(lambda m: self._named(m, "boost"), text)
        text = _YY_SLASH.sub(lambda m: self._numeric(m, "yy"), text)
        text = _LEVEL_MD.sub(lambda m: self._numeric(m, "level"), text)
        text = _TIME_US.sub(lambda m: self._numeric(m, "us"), text)
        text = _SYSLOG.sub(lambda m: self._named(m, "syslog"), text)
        text = _KLOG.sub(self._klog, text)
        text = _EPOCH.sub(self._epoch, text)
        return _NAMED_EPOCH.sub(
            lambda m: self.epoch(m["n"], 1000 if len(m["n"]) == 10 else 60_000), text
        )

    def values(self, values: str) -> str:
        """A timestamp series' expanding notation with each start value shifted (the
        increments stay)."""

        def start(m: re.Match[str]) -> str:
            number = float(m[1])
            when = datetime.fromtimestamp(number, UTC) if 0 < number < 1e11 else None
            if when is None or not self._near(when):
                return m[0]
            moved = number + self.offset.total_seconds()
            return str(int(moved)) if m[1].isdigit() else repr(moved)

        return re.sub(r"(?:(?<=^)|(?<=\s))(\d+(?:\.\d+)?(?:e\+?\d+)?)(?=[+\-x\s]|$)", start, values)


def _hms(m: re.Match[str]) -> tuple[int, int, int]:
    return int(m["h"]), int(m["mi"]), int(m["s"])


def case_now(case: Mapping[str, Any]) -> datetime:
    """The latest ISO date-time anywhere in the case's objects (naive, as written), or the
    cases' convention when none is."""
    latest: datetime | None = None
    for m in _ISO.finditer(str(case.get("cluster") or "")):
        try:
            when = datetime(int(m["y"]), int(m["mo"]), int(m["d"]), int(m["h"]), int(m["mi"]))
        except ValueError:
            continue
        latest = when if latest is None or when > latest else latest
    return latest or datetime(2026, 11, 20, 10, 0)


def time_shift(case: Case, offset: timedelta = OFFSET) -> Case:
    """Every time in the case moved by ``offset``; everything else as it was."""
    out = copy.deepcopy(case)
    shift = Shift(offset, case_now(case))
    for key in ("alert", "cluster"):
        if key in out:
            out[key] = map_strings(out[key], lambda t, _p: shift.text(t))
    logs = out.get("logs")
    if isinstance(logs, dict):
        out["logs"] = {shift.text(k): shift.text(str(v)) for k, v in logs.items()}
    metrics = out.get("metrics")
    if isinstance(metrics, dict):
        for series in metrics.get("series") or []:
            if not isinstance(series, dict) or not isinstance(series.get("series"), str):
                continue
            name = series["series"]
            series["series"] = shift.text(name)
            if TIMESTAMP_SERIES.match(name) and isinstance(series.get("values"), str):
                series["values"] = shift.values(series["values"])
    expect = out.get("expect")
    if isinstance(expect, dict) and isinstance(expect.get("target"), dict):
        expect["target"] = map_strings(expect["target"], lambda t, _p: shift.text(t))
    return out
