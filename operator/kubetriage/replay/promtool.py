"""Turn a case's ``metrics`` section into a real, queryable Prometheus.

Called by the replay commands (``diagnose``, ``eval``, ``demo``) and the integration tests:
``start_with_case_metrics`` expands promtool's series notation, writes OpenMetrics text,
backfills it into TSDB blocks with ``promtool tsdb create-blocks-from openmetrics`` and
starts ``prometheus`` on 127.0.0.1 over that data, so the operator's Prometheus evidence
collector runs unchanged against replayed cases.

Quirks this module relies on (checked against Debian's Prometheus 2.42):

* ``promtool`` cuts blocks on 2h-aligned boundaries (by default), so one hour of samples can
  become two blocks. Recent timestamps are accepted: blocks reaching up to "now" load fine
  next to an empty head block, because nothing is scraped into the head.
* Retention is counted from the newest block, so a long ``--storage.tsdb.retention.time``
  keeps backfilled data of any age.
* The default lookback delta is 5m: an instant query at ``end`` sees the last sample, and
  gaps (``_``) shorter than 5m are bridged by the previous sample, as in a real Prometheus.
"""

from __future__ import annotations

import asyncio
import math
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import Final, Literal, Self

from kubetriage.lifecycle import StartStop
from kubetriage.models.case import CaseMetrics, CaseSeries, parse_go_duration
from kubetriage.replay.children import die_with_parent, owned_tempdir
from kubetriage.replay.ports import free_port

PROMETHEUS_BINARY: Final = "/usr/bin/prometheus"
PROMTOOL_BINARY: Final = "/usr/bin/promtool"


class Stale(Enum):
    """A staleness marker in the series notation (``stale``)."""

    MARKER = "stale"


STALE: Final = Stale.MARKER

SeriesValue = float | Stale | None
"""One expanded sample: a value, ``STALE``, or ``None`` for a missing sample (``_``)."""


class NotationError(ValueError):
    """The series values are not valid promtool expanding notation."""


class PromtoolError(RuntimeError):
    """``promtool`` or ``prometheus`` failed; the message carries their output."""


# --- expanding notation -------------------------------------------------------------------

# A plain number as the PromQL lexer reads it in series descriptions: decimal (no hex, since
# "0x" is ambiguous with the repeat operator), optional exponent, or Inf/NaN.
_NUMBER = r"(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[iI][nN][fF]|[nN][aA][nN])"
_ITEM = re.compile(
    rf"""^(?:
        (?P<blank>_)(?:x(?P<blank_times>\d+))?
      | (?P<stale>stale)
      | (?P<value>[+-]?{_NUMBER})
        (?:(?P<step>[+-]{_NUMBER})?x(?P<times>\d+))?
    )$""",
    re.VERBOSE,
)


def expand_series_values(values: str) -> list[SeriesValue]:
    """Expand promtool's series notation into one entry per interval.

    Follows ``promql/parser``'s ``series_item`` rules exactly: ``axN`` is N+1 copies of a,
    ``a+bxN``/``a-bxN`` are N+1 samples stepping by b, ``_`` is one missing sample but
    ``_xN`` is N missing samples (not N+1), ``stale`` is one staleness marker (``stalexN``
    is a syntax error in promtool, and here).
    """
    result: list[SeriesValue] = []
    for item in values.split():
        match = _ITEM.match(item)
        if match is None:
            raise NotationError(f"invalid series value {item!r} in {values!r}")
        if match["blank"]:
            count = int(match["blank_times"]) if match["blank_times"] else 1
            result.extend([None] * count)
        elif match["stale"]:
            result.append(STALE)
        else:
            start = float(match["value"])
            if match["times"] is None:
                result.append(start)
                continue
            step = float(match["step"]) if match["step"] else 0.0
            # Accumulate like promtool does ($1 += $2), so float rounding matches it.
            current = start
            result.append(current)
            for _ in range(int(match["times"])):
                current += step
                result.append(current)
    return result


# --- series selectors -------------------------------------------------------------------

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t", "r": "\r"}


@dataclass(frozen=True)
class SeriesSelector:
    """A parsed ``name{label="value",...}``; labels sorted by name."""

    name: str
    labels: tuple[tuple[str, str], ...]


def _read_quoted(text: str, pos: int) -> tuple[str, int]:
    quote = text[pos]
    if quote not in "\"'":
        raise NotationError(f"expected a quoted label value at {pos} in {text!r}")
    pos += 1
    chars: list[str] = []
    while pos < len(text):
        char = text[pos]
        if char == "\\":
            if pos + 1 >= len(text) or text[pos + 1] not in _ESCAPES:
                raise NotationError(f"bad escape at {pos} in {text!r}")
            chars.append(_ESCAPES[text[pos + 1]])
            pos += 2
            continue
        if char == quote:
            return "".join(chars), pos + 1
        chars.append(char)
        pos += 1
    raise NotationError(f"unterminated label value in {text!r}")


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def parse_series_selector(text: str) -> SeriesSelector:
    """Parse a series as written in a case: ``name``, ``name{a="b"}`` or ``{__name__="n"}``.

    Only equality matchers make sense for input series; values may hold escaped quotes,
    backslashes, commas and braces.
    """
    text = text.strip()
    pos = 0
    name = ""
    match = _METRIC_NAME.match(text)
    if match:
        name = match.group(0)
        pos = match.end()
    labels: dict[str, str] = {}
    pos = _skip_space(text, pos)
    if pos < len(text):
        if text[pos] != "{":
            raise NotationError(f"unexpected {text[pos]!r} at {pos} in series {text!r}")
        pos = _skip_space(text, pos + 1)
        while pos < len(text) and text[pos] != "}":
            label_match = _LABEL_NAME.match(text, pos)
            if label_match is None:
                raise NotationError(f"expected a label name at {pos} in {text!r}")
            pos = _skip_space(text, label_match.end())
            if not text.startswith("=", pos) or text.startswith("=~", pos):
                raise NotationError(f"only '=' matchers are allowed in input series {text!r}")
            value, pos = _read_quoted(text, _skip_space(text, pos + 1))
            labels[label_match.group(0)] = value
            pos = _skip_space(text, pos)
            if text.startswith(",", pos):
                pos = _skip_space(text, pos + 1)
            elif not text.startswith("}", pos):
                raise NotationError(f"expected ',' or '}}' at {pos} in {text!r}")
        if not text.startswith("}", pos):
            raise NotationError(f"unterminated '{{' in series {text!r}")
        if _skip_space(text, pos + 1) != len(text):
            raise NotationError(f"trailing text after '}}' in series {text!r}")
    name = labels.pop("__name__", name)
    if not _METRIC_NAME.fullmatch(name):
        raise NotationError(f"series {text!r} has no valid metric name")
    return SeriesSelector(name=name, labels=tuple(sorted(labels.items())))


# --- OpenMetrics --------------------------------------------------------------------------


def _escape_openmetrics(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def write_openmetrics(
    series: list[CaseSeries],
    interval: timedelta,
    end: datetime,
    metric_type: Literal["unknown", "gauge"] = "unknown",
) -> str:
    """Render case series as OpenMetrics text for ``promtool tsdb create-blocks-from``.

    The last sample of every series is at ``end``, earlier ones ``interval`` apart before
    it. Missing samples (``_``) are omitted. Staleness markers are omitted too: OpenMetrics
    has no way to express them, so a replayed series simply ends (and stays visible for the
    5m lookback) where the case says ``stale``. Series of one metric name are grouped under
    one ``# TYPE`` line, as OpenMetrics requires; ``unknown`` keeps ``_total`` names valid.
    """
    if interval.total_seconds() <= 0:
        raise ValueError("interval must be positive")
    end_ms = round(end.timestamp() * 1000)
    step_ms = round(interval.total_seconds() * 1000)
    families: dict[str, dict[tuple[tuple[str, str], ...], dict[int, float]]] = {}
    for case_series in series:
        selector = parse_series_selector(case_series.series)
        values = expand_series_values(case_series.values)
        samples = families.setdefault(selector.name, {}).setdefault(selector.labels, {})
        for index, value in enumerate(values):
            if value is None or isinstance(value, Stale):
                continue
            samples[end_ms - (len(values) - 1 - index) * step_ms] = value
    lines: list[str] = []
    for name in sorted(families):
        lines.append(f"# TYPE {name} {metric_type}")
        for labels, samples in sorted(families[name].items()):
            rendered = ",".join(f'{key}="{_escape_openmetrics(val)}"' for key, val in labels)
            head = f"{name}{{{rendered}}}" if rendered else name
            lines.extend(
                f"{head} {_format_value(samples[ts])} {ts / 1000:.3f}" for ts in sorted(samples)
            )
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def backfill(openmetrics_text: str, data_dir: Path, timeout_seconds: float = 120.0) -> None:
    """Create TSDB blocks in ``data_dir`` from OpenMetrics text, via ``promtool``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kubetriage-om-") as scratch:
        source = Path(scratch) / "series.om"
        source.write_text(openmetrics_text, encoding="utf-8")
        try:
            completed = subprocess.run(
                [
                    PROMTOOL_BINARY,
                    "tsdb",
                    "create-blocks-from",
                    "openmetrics",
                    str(source),
                    str(data_dir),
                ],
                capture_output=True,
                text=True,
                timeout=timeout_seconds,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PromtoolError(f"promtool backfill could not run: {exc}") from exc
    if completed.returncode != 0:
        output = (completed.stderr or completed.stdout).strip()
        raise PromtoolError(f"promtool backfill failed ({completed.returncode}): {output}")


# --- a local Prometheus -------------------------------------------------------------------

_CONFIG = """\
# Written by kubetriage: serve backfilled blocks only; nothing is scraped.
global:
  scrape_interval: 1h
  evaluation_interval: 1h
scrape_configs: []
"""


PROMETHEUS_WORKDIR_PREFIX = "kubetriage-prometheus-"


class LocalPrometheus(StartStop):
    """A ``prometheus`` process on 127.0.0.1 serving one data directory.

    Use as a (sync or async) context manager, or call ``start``/``stop``. The temporary
    directory holding config, logs and (unless ``data_dir`` is given) the TSDB is removed
    on ``stop``.
    """

    def __init__(
        self,
        data_dir: Path | None = None,
        binary: str = PROMETHEUS_BINARY,
        ready_timeout_seconds: float = 30.0,
    ) -> None:
        self._binary = binary
        self._ready_timeout = ready_timeout_seconds
        self._workdir = owned_tempdir(PROMETHEUS_WORKDIR_PREFIX)
        self.data_dir = data_dir if data_dir is not None else self._workdir / "data"
        self._process: subprocess.Popen[bytes] | None = None
        self._port: int | None = None

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("LocalPrometheus is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def log_path(self) -> Path:
        return self._workdir / "prometheus.log"

    def start(self) -> Self:
        if self._process is not None:
            return self
        config = self._workdir / "prometheus.yml"
        config.write_text(_CONFIG, encoding="utf-8")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Another process may grab the free port between probing and binding; retry then.
        for _attempt in range(3):
            self._port = free_port()
            with self.log_path.open("ab") as log:
                self._process = subprocess.Popen(
                    [
                        self._binary,
                        f"--config.file={config}",
                        f"--storage.tsdb.path={self.data_dir}",
                        f"--web.listen-address=127.0.0.1:{self._port}",
                        # Retention counts back from the newest block; keep any backfill.
                        "--storage.tsdb.retention.time=36500d",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    # Dies with us, also on kill -9 (kubetriage.replay.children).
                    preexec_fn=die_with_parent(),
                )
            if self._wait_ready():
                return self
            self._terminate()
        log_tail = self.log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
        self._cleanup()
        raise PromtoolError(f"prometheus did not become ready:\n{log_tail}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self._ready_timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1.0) as response:
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        return False

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def _cleanup(self) -> None:
        shutil.rmtree(self._workdir, ignore_errors=True)

    def stop(self) -> None:
        self._terminate()
        self._port = None
        self._cleanup()

    async def __aenter__(self) -> LocalPrometheus:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)


def start_with_case_metrics(metrics: CaseMetrics, end: datetime) -> LocalPrometheus:
    """Expand, write, backfill and start: a running Prometheus holding the case's series.

    The caller owns the returned instance and must ``stop`` it (or use it as a context
    manager, which is a no-op start since it is already running).
    """
    text = write_openmetrics(metrics.series, parse_go_duration(metrics.interval), end)
    prometheus = LocalPrometheus()
    try:
        if metrics.series:
            backfill(text, prometheus.data_dir)
        return prometheus.start()
    except BaseException:
        prometheus.stop()
        raise


__all__ = [
    "STALE",
    "LocalPrometheus",
    "NotationError",
    "PromtoolError",
    "SeriesSelector",
    "SeriesValue",
    "Stale",
    "backfill",
    "expand_series_values",
    "parse_series_selector",
    "start_with_case_metrics",
    "write_openmetrics",
]
