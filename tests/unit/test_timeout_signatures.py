"""The one timeout vocabulary (``analyzers.log_signatures``): "could not connect in time",
"no answer in time", and timeouts that do not say which, as the analyzers read them
(NetworkPolicy and routing analyzers want the first, a loaded shared dependency the second,
a failing call either).

Pure: compiled patterns over log lines written in real clients' words (Go net, Java, axios,
Python requests, libpq); nothing else is real.
"""

from __future__ import annotations

import pytest

from kubetriage.analyzers.log_signatures import (
    ANSWER_TIMEOUT_LOG,
    CONNECT_TIMEOUT_LOG,
    DEPENDENCY_LOG,
)

CONNECT = [
    "dial tcp 10.0.3.4:5432: connect: connection timed out",
    "java.net.SocketTimeoutException: connect timed out",
    "psycopg2.OperationalError: timeout expired while connecting to server",
    "Error: connect ETIMEDOUT 10.2.0.7:443",
    # .NET's SocketsHttpHandler giving up on its ConnectTimeout.
    "System.TimeoutException: A connection could not be established within the configured "
    "ConnectTimeout.",
]
ANSWER = [
    "requests.exceptions.ReadTimeout: HTTPSConnectionPool(host='ledger'): Read timed out.",
    "AxiosError: timeout of 5000ms exceeded",
    "java.net.SocketTimeoutException: Read timed out",
    "Error: ECONNABORTED",
    # CQL (Cassandra, ScyllaDB): gocql's request timeout and the coordinator's read timeout.
    "gocql: no response received from cassandra within timeout period",
    "Operation timed out for ks.tbl - received only 0 responses from 1 CL=LOCAL_ONE.",
    "ReadTimeout: Operation timed out - received only 1 responses.",
]
EITHER = [
    'Get "http://ledger.payments:8080/v1": context deadline exceeded',
    "read tcp 10.1.2.3:41234->10.1.9.9:6379: i/o timeout",
    "timed out waiting for a response from the broker",
    # A client's own call budget, as clients word it.
    "pricing call timed out after 300 ms, serving cached price",
    "request timed out after 5s",
    'Get "http://ledger:8080/v1": net/http: request canceled (Client.Timeout exceeded while '
    "awaiting headers)",
    "io.grpc.StatusRuntimeException: DEADLINE_EXCEEDED: deadline exceeded after 0.299s",
]


@pytest.mark.parametrize("line", CONNECT + EITHER)
def test_connect_timeouts_and_undecided_ones_read_as_could_not_connect(line: str) -> None:
    assert CONNECT_TIMEOUT_LOG.search(line)


@pytest.mark.parametrize("line", ANSWER + EITHER)
def test_read_timeouts_and_undecided_ones_read_as_no_answer(line: str) -> None:
    assert ANSWER_TIMEOUT_LOG.search(line)


@pytest.mark.parametrize("line", [s for s in ANSWER if "connect" not in s and "ETIMEDOUT" not in s])
def test_a_read_timeout_is_not_a_connect_timeout(line: str) -> None:
    assert not CONNECT_TIMEOUT_LOG.search(line)


@pytest.mark.parametrize(
    "line", ["psycopg2.OperationalError: timeout expired while connecting to server"]
)
def test_a_connect_timeout_is_not_a_wait_for_an_answer(line: str) -> None:
    assert not ANSWER_TIMEOUT_LOG.search(line)


@pytest.mark.parametrize("line", CONNECT + ANSWER + EITHER)
def test_every_timeout_is_a_failing_call(line: str) -> None:
    assert DEPENDENCY_LOG.search(line)


@pytest.mark.parametrize(
    "line", ["request served in 12ms", "connection pool warmed: 10 connections", "timeout=30s"]
)
def test_lines_without_a_timeout_match_no_family(line: str) -> None:
    assert not CONNECT_TIMEOUT_LOG.search(line)
    assert not ANSWER_TIMEOUT_LOG.search(line)


def test_a_dotnet_request_budget_is_not_its_connect_timeout() -> None:
    """HttpClient.Timeout bounds the whole request; only ConnectTimeout says it never connected."""
    budget = (
        "System.Threading.Tasks.TaskCanceledException: The request was canceled due to the "
        "configured HttpClient.Timeout of 100 seconds elapsing."
    )
    assert not CONNECT_TIMEOUT_LOG.search(budget)
