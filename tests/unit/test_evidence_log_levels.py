"""Checks the level field read in the common log formats (``log_levels.warns``): warnings
and worse in zap/VictoriaMetrics tab columns, logfmt, JSON, brackets, klog, Python and Log4j
columns; info and debug lines, and the words "warn" or "error" in a message, are not."""

from __future__ import annotations

import pytest

from kubetriage.evidence.log_levels import warns


@pytest.mark.parametrize(
    "line",
    [
        "2026-11-20T09:21:05.002Z\twarn\tapp/netstorage.go:262\tvmstorage is read-only",
        'time=2026-11-20T09:58:07Z level=WARN msg="sync cycle incomplete"',
        '{"level":"warning","msg":"slow peer"}',
        "2026/11/20 09:58:07 [error] 31#31: upstream timed out",
        "W1120 09:58:11.123456       1 reflector.go:539] watch closed",
        "WARNING: Remote Cache: Exception when uploading",
        "2026-11-20 09:58:07.123  WARN 1 --- [main] c.e.App : pool exhausted",
    ],
)
def test_a_line_at_warning_level_or_worse_warns(line: str) -> None:
    assert warns(line)


@pytest.mark.parametrize(
    "line",
    [
        "2026-11-20T09:21:05.002Z\tinfo\tapp/netstorage.go:262\tadded vmstorage",
        'time=2026-11-20T09:58:07Z level=INFO msg="no errors to warn about"',
        '{"level":"debug","msg":"error budget at 99%"}',
        "I1120 09:58:11.123456       1 reflector.go:539] warnings: 0",
        "GET /warnings 200 in 3ms",
    ],
)
def test_a_line_below_warning_level_does_not_warn(line: str) -> None:
    assert not warns(line)
