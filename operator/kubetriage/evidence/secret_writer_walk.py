"""The Secret-writer walk of evidence collection: when the kubelet says a pod in scope cannot
get a Secret (absent, or without a key), the objects whose controllers write that Secret and
what they write it from (``kubetriage.evidence.summaries.secret_writers``: the table of
writer kinds and the rules the builder shares): Kyverno policies cloning it, the Strimzi
KafkaUser it is named after with the pods of the operator writing it, the Crossplane claim
naming it as its connection Secret with the composite and managed resources under it and
the ProviderConfig those read their credentials through.

Called by ``KubeEvidenceCollector`` after the webhook walk. Nothing is read unless a pod
misses a Secret; cluster-scoped objects only under a scope that may read the cluster; a
kind the cluster does not serve (404) is skipped quietly, one the operator may not read
(403) is a collection error and the diagnosis stays on the Secret. Secrets are never read.
"""

from __future__ import annotations

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.raw import api_group, as_dict, as_str, dicts
from kubetriage.evidence.reader import KubeReader
from kubetriage.evidence.summaries.secret_writers import (
    CROSSPLANE_XRD,
    PROVIDER_CONFIG_KINDS,
    WRITER_KINDS,
    Api,
    composed_refs,
    not_synced,
    provider_config_name,
    provider_groups,
    wanted_secrets,
    writes_connection,
)
from kubetriage.models.objects import JsonDict, selector_query
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns
from kubetriage.tenancy import Scope


class SecretWriterWalk:
    """Follows the Secrets the incident's pods cannot get to whatever writes them."""

    def __init__(self, reader: KubeReader, limits: EvidenceLimits) -> None:
        self._reader = reader
        self._limits = limits

    async def follow(
        self, run: CollectionRun, namespace: str | None, pods: list[JsonDict], scope: Scope
    ) -> None:
        """Read the writers of the Secrets ``pods`` of ``namespace`` cannot get;
        ``build_evidence`` summarises them as ``Evidence.secret_writers``."""
        if namespace is None:
            return
        events = [o for (kind, _, _), o in run.objects.items() if kind == "Event"]
        wanted = [name for ns, name in wanted_secrets(pods, events) if ns == namespace][
            : self._limits.max_dependencies
        ]
        if not wanted:
            return
        cluster = scope.may_read(None)
        for writer_kind in WRITER_KINDS:
            if writer_kind.cluster and not cluster:
                continue
            where = None if writer_kind.cluster else namespace
            for obj in await self._reader.custom_list(run, where, writer_kind.api):
                labels = writer_kind.controller(obj) if writer_kind.controller else None
                writes = writer_kind.writes
                found = writes is not None and any(writes(obj, namespace, n) for n in wanted)
                if labels and found and cluster:
                    await self._controller(run, labels, scope)
        if cluster:
            await self._claims(run, namespace, wanted)

    async def _controller(self, run: CollectionRun, labels: dict[str, str], scope: Scope) -> None:
        """The workload labelled ``labels`` (in any namespace: only under a scope that may
        read the cluster) and its pods."""
        selector = selector_query({"matchLabels": labels})
        listed = await self._reader.list_of(
            run, "Deployment", None, what=f"list Deployments {selector}", label_selector=selector
        )
        for workload in listed[:1]:
            if not scope.may_read(_ns(workload)):
                continue
            run.add(workload)
            query = selector_query(as_dict(as_dict(workload.get("spec")).get("selector")))
            if query is None:
                continue
            await self._reader.add_listed(
                run,
                "Pod",
                _ns(workload),
                what=f"list pods of Deployment {_ns(workload)}/{_name(workload)}",
                label_selector=query,
            )

    async def _claims(self, run: CollectionRun, namespace: str, wanted: list[str]) -> None:
        """The Crossplane claims of ``namespace`` writing a wanted Secret (their kinds from
        the CompositeResourceDefinitions), and what each is composed of."""
        for xrd in (await self._reader.custom_list(run, None, CROSSPLANE_XRD))[
            : self._limits.max_list_items
        ]:
            spec = as_dict(xrd.get("spec"))
            claim_names = as_dict(spec.get("claimNames"))
            versions = [as_str(v.get("name")) for v in dicts(spec.get("versions"))]
            group, kind = as_str(spec.get("group")), as_str(claim_names.get("kind"))
            plural, version = as_str(claim_names.get("plural")), next(filter(None, versions), None)
            if not (group and kind and plural and version):
                continue
            api: Api = (group, version, kind, plural)
            for claim in await self._reader.custom_list(run, namespace, api):
                if any(writes_connection(claim, namespace, n) for n in wanted):
                    await self._composed(run, claim)

    async def _composed(self, run: CollectionRun, claim: JsonDict) -> None:
        """The composite and managed resources under ``claim`` (cluster-scoped, their
        resource names from discovery), and the ProviderConfig of one that cannot sync."""
        queue, seen = composed_refs(claim), 0
        while queue and seen < self._limits.max_list_items:
            ref = queue.pop(0)
            seen += 1
            api_version, kind = as_str(ref.get("apiVersion")), as_str(ref.get("kind"))
            name, group = as_str(ref.get("name")), api_group(as_str(ref.get("apiVersion")))
            if not (api_version and kind and name and group):
                continue
            version = api_version.rpartition("/")[2]
            plural = await self._reader.plural(run, group, version, kind)
            part = (
                await self._reader.custom_get(run, None, (group, version, kind, plural), name)
                if plural
                else None
            )
            if part is None:
                continue
            queue += composed_refs(part)
            if not_synced(part) is not None:
                await self._provider_config(run, part)
                return

    async def _provider_config(self, run: CollectionRun, managed: JsonDict) -> None:
        """The ProviderConfig a managed resource names, in its group or a parent group."""
        served = await self._reader.served(run)
        name = provider_config_name(managed)
        for group in provider_groups(api_group(as_str(managed.get("apiVersion")))):
            version = served.get(group)
            if not version:
                continue
            for kind in PROVIDER_CONFIG_KINDS:
                plural = await self._reader.plural(run, group, version, kind)
                if plural and await self._reader.custom_get(
                    run, None, (group, version, kind, plural), name
                ):
                    return
