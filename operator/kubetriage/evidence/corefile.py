"""The zones a DNS server's Corefile forwards, and where to (CoreDNS: the ``coredns``
ConfigMap's ``Corefile`` and the ``*.server`` / ``*.override`` files of a ``coredns-custom``
ConfigMap, imported by it).

A Corefile is a list of server blocks, ``ZONE[:PORT] [ZONE...] { plugin args... }``; the
``forward FROM TO...`` plugin sends the queries of ``FROM`` (a zone of the block) to the
upstream resolvers ``TO`` (addresses, or ``/etc/resolv.conf``). An ``*.override`` file holds
plugin lines only, inside the root block that imports it. The collector drops a ConfigMap's
values as soon as it reads one (``reader.strip_config_map``) and keeps these forwards, as
``dnsForwards``; a case file or a test hands over the values themselves, read the same way.

Pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

from kubetriage.evidence.raw import as_dict
from kubetriage.models.base import ObjectRef
from kubetriage.models.relations import DnsForward

JsonDict = dict[str, Any]

# An upstream address of a forward: IPv4 with an optional port (``10.0.0.4``,
# ``10.0.0.4:53``, ``dns://10.0.0.4:53``); a path (``/etc/resolv.conf``) or a name is none.
_UPSTREAM: Final = re.compile(r"(?:dns://)?(?P<ip>\d{1,3}(?:\.\d{1,3}){3})(?::(?P<port>\d+))?")
# A server block's zone key (``consul:53``, ``.:53``, ``dns://example.org``).
_ZONE: Final = re.compile(r"(?:[a-z]+://)?(?P<zone>[A-Za-z0-9_.-]+)(?::\d+)?")
_MAX_FORWARDS: Final = 10


def _zone(key: str) -> str:
    """A zone as CoreDNS writes it: lower case, fully qualified (``consul.``, ``.``)."""
    match = _ZONE.fullmatch(key)
    name = (match["zone"] if match else key).lower()
    return name if name.endswith(".") else f"{name}."


def corefile_forwards(text: str) -> list[JsonDict]:
    """``{"zone": ..., "upstreams": [...]}`` for each ``forward`` of ``text`` that sends its
    zone to addresses (``upstreams``: ``ip:port``), in order. A forward whose upstream is a
    file (``/etc/resolv.conf``) or a name names no address and is left out. Lines outside
    any block (an ``*.override`` file) belong to the root zone."""
    found: list[JsonDict] = []
    zones: list[str] = []
    depth = 0
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.replace("{", " { ").replace("}", " } ").split()
        if depth == 0 and words[-1] == "{":
            zones = [_zone(w) for w in words[:-1]] or ["."]
        elif words[0] == "forward" and len(words) >= 3 and depth <= 1:
            # ``forward FROM TO...``: FROM is the zone the block serves (or one below it).
            zone = _zone(words[1])
            upstreams = []
            for word in words[2:]:
                if word == "{":
                    break
                match = _UPSTREAM.fullmatch(word)
                if match is not None:
                    upstreams.append(f"{match['ip']}:{match['port'] or 53}")
            if upstreams:
                zone = zones[0] if zone == "." and zones and depth == 1 else zone
                found.append({"zone": zone, "upstreams": upstreams})
        depth += words.count("{") - words.count("}")
        depth = max(depth, 0)
        if depth == 0 and "}" in words:
            zones = []
    return found[:_MAX_FORWARDS]


def config_map_forwards(config_map: JsonDict) -> list[JsonDict]:
    """The forwards of every value of a ConfigMap read as a Corefile, each with its ``key``:
    what the collector keeps of its values (``dnsForwards``), or the same of a ConfigMap as
    written."""
    kept = config_map.get("dnsForwards")
    if isinstance(kept, list):
        return [f for f in kept if isinstance(f, dict)]
    found: list[JsonDict] = []
    for key, value in as_dict(config_map.get("data")).items():
        if isinstance(value, str):
            found += [{"key": str(key), **f} for f in corefile_forwards(value)]
    return found[:_MAX_FORWARDS]


def dns_forwards(config_maps: Iterable[JsonDict]) -> list[DnsForward]:
    """The forwards of ``config_maps`` (a dependency's own), each with the ConfigMap that
    holds it."""
    found: list[DnsForward] = []
    for cm in config_maps:
        meta = as_dict(cm.get("metadata"))
        ref = ObjectRef(
            kind="ConfigMap", namespace=meta.get("namespace"), name=str(meta.get("name"))
        )
        for forward in config_map_forwards(cm):
            upstreams = forward.get("upstreams")
            found.append(
                DnsForward(
                    config_map=ref,
                    key=str(forward.get("key")),
                    zone=str(forward.get("zone")),
                    upstreams=[str(u) for u in upstreams] if isinstance(upstreams, list) else [],
                )
            )
    return found[:_MAX_FORWARDS]
