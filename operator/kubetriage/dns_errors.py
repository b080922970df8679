"""Failed name lookups, from the words resolvers and their callers print. Pure.

One table for every reader: the analyzers that blame a dependency or the cluster DNS for a
workload's failing calls, and the dependency walk, which follows the cluster DNS Service when
the workload's own lookups fail at the resolver. The phrases are what the libraries print:
Go's net package (``lookup h on 10.96.0.10:53: ... i/o timeout``, "no such host", "server
misbehaving"), glibc's getaddrinfo as Python, Ruby, curl and .NET pass it on ("Name or
service not known", "Temporary failure in name resolution"), Node.js (``getaddrinfo
EAI_AGAIN``, ENOTFOUND), Java (``java.net.UnknownHostException``), .NET's stack frame of a
failed lookup (``at System.Net.Dns.GetHostEntryOrAddressesCore``, under a SocketException
that words EAI_AGAIN as "Resource temporarily unavailable") and DNS rcodes.
"""

from __future__ import annotations

import re
from typing import Final

DNS_LOG: Final = re.compile(
    r"(?i)(no such host|NXDOMAIN|name or service not known|temporary failure in name "
    r"resolution|could not resolve host|server misbehaving|ENOTFOUND|lookup \S+ on \S+:53"
    r"|EAI_AGAIN|SERVFAIL|getaddrinfo \w+|UnknownHostException|at System\.Net\.Dns\.\w+)"
)
# The resolver itself failed to answer (as opposed to answering "no such name"): the DNS
# server or its upstream is at fault, not the name the workload asked for.
DNS_RESOLVER_FAILURE: Final = re.compile(
    r"(?i)(EAI_AGAIN|temporary failure in name resolution|SERVFAIL|server misbehaving|"
    r"lookup \S+ on \S+:53: ((read|dial) udp \S+ )?((read|write|connect): )?"
    r"(i/o timeout|no answer|connection refused)|"
    r"dns (query|lookup|resolution) (timed out|timeout|failed))"
)
# The resolver answered that the name does not exist (NXDOMAIN, as each library words it),
# as opposed to failing to answer: for a cluster Service name, the Service is not there, so
# the name the caller was configured with is wrong, not a server behind it down.
DNS_NO_SUCH_NAME: Final = re.compile(
    r"(?i)(no such host|NXDOMAIN|name or service not known|ENOTFOUND|name does not resolve)"
)

# The resolver a failed lookup was sent to, as Go prints it (``lookup h on 10.96.0.10:53``,
# ``read udp 10.1.2.3:4567->169.254.20.10:53``) and as resolver libraries that name their
# server do: the address, without brackets.
_RESOLVER: Final = re.compile(
    r"(?i)(?:\bon |->)\[?(?P<address>\d{1,3}(?:\.\d{1,3}){3}|[0-9a-f]*:[0-9a-f:]+?)\]?:53\b"
)


def resolver_addresses(line: str) -> list[str]:
    """The DNS server addresses a failed lookup line names, in order, each once."""
    found: list[str] = []
    for match in _RESOLVER.finditer(line):
        if match["address"] not in found:
            found.append(match["address"])
    return found
