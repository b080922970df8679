"""The zones a DNS server's Corefile forwards (``kubetriage.evidence.corefile``), and the
stub zone whose upstreams no longer answer (``kubetriage.analyzers.dns_forwards``)."""

from __future__ import annotations

from kubetriage.analyzers.dns_forwards import CONFIDENCE, check_dns_forwards
from kubetriage.dns_errors import DNS_LOG
from kubetriage.evidence.corefile import config_map_forwards, corefile_forwards, dns_forwards
from kubetriage.evidence.reader import strip_config_map
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import app_evidence, log, naming

STUB = """
# a stub zone
consul:53 {
    errors
    cache 30
    forward . 10.43.112.7
}
"""
ROOT = """
.:53 {
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
      fallthrough in-addr.arpa ip6.arpa
    }
    forward . /etc/resolv.conf
    import /etc/coredns/custom/*.override
}
import /etc/coredns/custom/*.server
"""
CUSTOM = ObjectRef(kind="ConfigMap", namespace="kube-system", name="coredns-custom")
TIMEOUT = (
    "[ERROR] plugin/errors: 2 routing.service.consul. A: "
    "read udp 10.42.0.5:43211->10.43.112.7:53: i/o timeout"
)
CALLER_LOG = "getaddrinfo EAI_AGAIN routing.service.consul"


def _config_map(**data: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "coredns-custom", "namespace": "kube-system"},
        "data": data,
    }


def test_a_stub_zone_forwards_its_queries_to_addresses() -> None:
    assert corefile_forwards(STUB) == [{"zone": "consul.", "upstreams": ["10.43.112.7:53"]}]
    block = "privatelink.example.net:53 {\n forward . 10.100.0.4 dns://10.100.0.5:5353 {\n"
    block += "  max_fails 2\n }\n}\n"
    assert corefile_forwards(block) == [
        {"zone": "privatelink.example.net.", "upstreams": ["10.100.0.4:53", "10.100.0.5:5353"]}
    ]


def test_the_root_forward_to_the_nodes_resolver_names_no_address() -> None:
    assert corefile_forwards(ROOT) == []
    assert corefile_forwards("just some text {\n with braces\n}\n") == []


def test_the_collector_keeps_the_forwards_and_drops_the_values() -> None:
    stripped = strip_config_map(_config_map(**{"consul.server": STUB, "other": "secret-ish"}))
    assert stripped["data"] == {"consul.server": "", "other": ""}
    kept = [{"key": "consul.server", "zone": "consul.", "upstreams": ["10.43.112.7:53"]}]
    assert config_map_forwards(stripped) == kept
    assert config_map_forwards(_config_map(**{"consul.server": STUB})) == kept
    (forward,) = dns_forwards([stripped])
    assert (forward.config_map, forward.zone) == (CUSTOM, "consul.")


def _evidence(dns_log: str = TIMEOUT, corefile: str = STUB, named: str = "log") -> Evidence:
    dns = DependencyEvidence(
        ref=ObjectRef(kind="Service", namespace="kube-system", name="kube-dns"),
        named_by=naming(
            "log dispatch/dispatch-api-7c-a1/app" if named == "log" else "pod x env DNS_HOST"
        ),
        logs=[
            log("coredns-5d-x", "coredns", dns_log, namespace="kube-system", source="dependency")
        ],
        dns_forwards=dns_forwards([_config_map(**{"consul.server": corefile})]),
    )
    return app_evidence(
        "dispatch-api-7c-a1", namespace="dispatch", logs=CALLER_LOG, dependencies=[dns]
    )


def test_a_stub_zone_whose_upstream_times_out_is_the_configmap_to_fix() -> None:
    (finding,) = check_dns_forwards(_evidence())
    assert (finding.category, finding.action, finding.target) == (
        Category.CONFIG_MISSING,
        Action.FIX_CONFIG,
        CUSTOM,
    )
    assert finding.confidence == CONFIDENCE.stale_forward


def test_an_upstream_the_zone_does_not_forward_to_is_not_this() -> None:
    other = TIMEOUT.replace("10.43.112.7", "10.43.0.99")
    assert check_dns_forwards(_evidence(dns_log=other)) == []


def test_failing_names_outside_the_forwarded_zone_are_not_this() -> None:
    outside = TIMEOUT.replace("routing.service.consul.", "api.example.com.")
    assert check_dns_forwards(_evidence(dns_log=outside)) == []


def test_an_upstream_that_answers_is_not_this() -> None:
    answered = '[INFO] 10.42.1.6:4411 - 2187 "A IN routing.service.consul. udp 78" NOERROR'
    assert check_dns_forwards(_evidence(dns_log=answered)) == []


def test_the_root_zone_forward_is_not_a_stub_zone() -> None:
    root = ".:53 {\n forward . 10.43.112.7\n}\n"
    line = TIMEOUT.replace("routing.service.consul.", "api.example.com.")
    assert check_dns_forwards(_evidence(dns_log=line, corefile=root)) == []


def test_a_dns_server_the_caller_only_configures_is_not_this() -> None:
    assert check_dns_forwards(_evidence(named="env")) == []


def test_the_dotnet_frame_of_a_failed_lookup_is_a_dns_failure() -> None:
    frame = (
        "   at System.Net.Dns.GetHostEntryOrAddressesCore(String hostName, Boolean justAddresses)"
    )
    assert DNS_LOG.search(frame)
    # EAGAIN of any other socket call, and other .NET frames, are not lookups.
    assert not DNS_LOG.search("SocketException (0xFFFDFFFF): Resource temporarily unavailable")
    assert not DNS_LOG.search("   at System.Net.Sockets.Socket.Connect(EndPoint remoteEP)")
