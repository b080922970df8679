"""Neighbours on a cloud API quota: the other workloads configured with resources of the same
cloud service in the same account and region as the incident's workload, when the incident's
own calls to that service are throttled.

A cloud provider meters many API request quotas per account and region, whatever the caller:
every workload holding an AWS KMS key of one account and Region draws on the same
cryptographic-operations rate, so one workload's release that calls far more (a data-key
cache dropped, a retry storm) throttles all the others. When an unchanged workload's calls
are throttled by a provider, an SRE asks "who else in this account calls this service, and
which of them changed right before?". The resource names (AWS ARNs,
``arn:<partition>:<service>:<region>:<account>:...``) in a workload's env values and args say
which service, region and account it calls; the incident's own throttling lines must name
that service.

Pure; used by the collector (``kubetriage.evidence.caller_walk``, to decide whose rollout
history to read) and by ``build_evidence`` (to summarise what was read).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from kubetriage.evidence.callers import owned_history
from kubetriage.evidence.changes import recent_rollouts
from kubetriage.evidence.dependencies import pod_texts
from kubetriage.evidence.host_peers import find_named_peers
from kubetriage.evidence.index import ObjectIndex
from kubetriage.models.base import ObjectRef
from kubetriage.models.naming import NamingSource
from kubetriage.models.neighbours import QuotaPeerEvidence
from kubetriage.models.object_evidence import LogTail
from kubetriage.models.objects import JsonDict
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

# Rollouts kept of each neighbour (newest first).
_MAX_CHANGES = 3

# The cloud providers' own throttling errors (AWS SDKs' error codes): the provider refused
# the call for its rate. Shared with ``kubetriage.analyzers.rate_limits``.
PROVIDER_THROTTLING = (
    r"ThrottlingException|Throttling: Rate exceeded|RequestLimitExceeded|TooManyRequestsException"
)
_THROTTLED = re.compile(PROVIDER_THROTTLING)
# An AWS resource name with a region and an account: the quota's scope. Global resources
# (S3 buckets, IAM) have neither and are metered otherwise.
_ARN = re.compile(
    r"\barn:(?P<partition>aws[a-z-]*):(?P<service>[a-z0-9-]+):"
    r"(?P<region>[a-z]{2}(?:-[a-z]+)+-\d):(?P<account>\d{12}):"
)


class QuotaScope(NamedTuple):
    """What a provider meters a request quota by: the service, its region and the account."""

    service: str
    region: str
    account: str


def arn_scope(text: str) -> QuotaScope | None:
    """The quota scope of the first AWS resource name in ``text`` that has a region and an
    account; None without one."""
    match = _ARN.search(text)
    if match is None:
        return None
    return QuotaScope(match["service"], match["region"], match["account"])


def configured_scopes(
    texts: Iterable[tuple[NamingSource, str]],
) -> dict[QuotaScope, list[NamingSource]]:
    """Quota scope -> where the env values and args of ``texts`` (``pod_texts``) name it."""
    found: dict[QuotaScope, list[NamingSource]] = {}
    for source, text in texts:
        if (scope := arn_scope(text)) is not None:
            found.setdefault(scope, []).append(source)
    return found


def _names_service(service: str, line: str) -> bool:
    return re.search(rf"(?i)(?<![a-z0-9]){re.escape(service)}(?![a-z0-9])", line) is not None


def throttled_scopes(
    pods: Sequence[JsonDict], workload: JsonDict | None, logs: Iterable[LogTail]
) -> list[QuotaScope]:
    """The quota scopes the incident's workload is configured with whose service its own
    (``scope`` tails) provider-throttling lines name."""
    lines = [
        line
        for tail in logs
        if tail.source == "scope"
        for line in tail.lines
        if _THROTTLED.search(line)
    ]
    scopes = configured_scopes(pod_texts(pods, workload))
    return [s for s in scopes if any(_names_service(s.service, line) for line in lines)]


def find_quota_peers(
    workloads: Iterable[JsonDict], scopes: Sequence[QuotaScope], exclude: Iterable[JsonDict]
) -> list[tuple[JsonDict, QuotaScope, list[NamingSource]]]:
    """(workload, scope, sources) of each workload, besides ``exclude`` (the incident's own),
    whose pod template names a resource in one of ``scopes``; at most ``MAX_PEERS``
    (``host_peers.find_named_peers``), by namespace and name."""
    return find_named_peers(workloads, scopes, exclude, configured_scopes)


def quota_peer_summaries(
    index: ObjectIndex, pods: Sequence[JsonDict], own: JsonDict | None, logs: Iterable[LogTail]
) -> list[QuotaPeerEvidence]:
    """The neighbours of the incident's workload on the cloud quotas its throttled calls
    name (``throttled_scopes``), among the Deployments of ``index``, each with its rollouts
    read from its ReplicaSets there."""
    scopes = throttled_scopes(pods, own, logs)
    if not scopes:
        return []
    replica_sets = index.kind("ReplicaSet")
    exclude = [own] if own is not None else []
    found: list[QuotaPeerEvidence] = []
    for workload, scope, sources in find_quota_peers(index.kind("Deployment"), scopes, exclude):
        found.append(
            QuotaPeerEvidence(
                ref=ObjectRef(
                    kind=str(workload.get("kind")), namespace=_ns(workload), name=_name(workload)
                ),
                service=scope.service,
                region=scope.region,
                account=scope.account,
                named_by=sources[:5],
                changes=recent_rollouts(
                    workload, owned_history(workload, replica_sets), _MAX_CHANGES
                ),
            )
        )
    return found
