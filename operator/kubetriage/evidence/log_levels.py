"""The severity a log line declares in the level field of the common log formats: what a
person skimming a tail reads first. Pure.

A line at warning level or above reports trouble even when its words carry none of the error
vocabulary ("vmstorage X is in read-only mode; re-routing rows"): Go's zap and
VictoriaMetrics (tab-separated ``<time>\\twarn\\t<caller>``), logfmt (``level=warn``), JSON
(``"level":"warning"``), bracketed (``[WARN]``), klog (``W1120 09:58:11.123456``), Python's
logging (``WARNING:``) and Log4j-style upper-case columns (`` WARN ``).
"""

from __future__ import annotations

import re

# The level names at or above a warning, as the formats spell them.
_LEVEL = r"(?:warn|warning|error|err|fatal|crit|critical|panic|alert|emerg)"
WARNING_LEVEL = re.compile(
    rf"(?i:\t{_LEVEL}\t"
    rf"|\b(?:level|lvl|severity)\s*[=:]\s*[\"']?{_LEVEL}\b"
    rf"|[\"'](?:level|lvl|severity)[\"']\s*:\s*[\"']{_LEVEL}[\"']"
    rf"|\[{_LEVEL}\])"
    r"|^[WEF]\d{4} \d{2}:\d{2}:\d{2}"
    r"|(?:^|\s)(?:WARN|WARNING|ERROR|FATAL|CRITICAL)(?::|\s)"
)


def warns(line: str) -> bool:
    """Whether the line declares a warning (or worse) in its level field."""
    return WARNING_LEVEL.search(line) is not None
