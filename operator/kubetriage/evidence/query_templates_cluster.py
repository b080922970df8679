"""The PromQL templates of what the cluster reports around a workload: its volumes' use,
its replicas, its nodes' conditions, blackbox probes and certificate expiry (cert-manager,
probed hosts, the service mesh's CA). Pure data, the second part of the catalogue whose first
part (the workload's own series, and ``QueryTemplate``) is ``kubetriage.evidence.query_templates``;
``kubetriage.evidence.queries`` runs both, in that order.
"""

from __future__ import annotations

from kubetriage.evidence.query_labels import DEPLOYMENT_LABELS
from kubetriage.evidence.query_template import QueryTemplate
from kubetriage.models.vocabulary import Category

_STATEFULSET = 'namespace="$namespace",statefulset="$statefulset"'
_PVC = 'namespace="$namespace",persistentvolumeclaim="$persistentvolumeclaim"'
# The claims the workload's pods and its callees' pods mount.
_CLAIMS = 'namespace=~"$claim_namespaces",persistentvolumeclaim=~"$claim_names"'


def _claims_ratio(used: str, total: str) -> str:
    """``used / total`` of each mounted claim's kubelet volume stats."""
    by = "max by (namespace, persistentvolumeclaim)"
    return f"{by} ({used}{{{_CLAIMS}}}) / {by} ({total}{{{_CLAIMS}}})"


def _pvc_ratio(used: str, total: str) -> str:
    """``used / total`` of one PersistentVolumeClaim's kubelet volume stats."""
    return (
        f"max by (persistentvolumeclaim) ({used}{{{_PVC}}})"
        f" / max by (persistentvolumeclaim) ({total}{{{_PVC}}})"
    )


# The pods of the workloads on the incident's Node (a node-level alert).
_TENANTS = 'namespace=~"$tenant_namespaces",pod=~"$tenant_pods"'
# The accepted-connection counters of well-known servers' exporters (redis_exporter,
# mysqld_exporter, nginx-prometheus-exporter, memcached_exporter).
_ACCEPTED_CONNECTIONS = (
    "redis_connections_received_total|mysql_global_status_connections"
    "|nginx_connections_accepted|memcached_connections_total"
)
# A cloud volume's tags as YACE exports them (``aws_ebs_info``): the claim it was created for.
_VOLUME_CLAIM = (
    'tag_kubernetes_io_created_for_pvc_namespace=~"$claim_namespaces",'
    'tag_kubernetes_io_created_for_pvc_name=~"$claim_names"'
)


def _claim_volume(metric: str) -> str:
    """``metric`` of each mounted claim's cloud volume (joined by the volume's ARN, ``name``,
    to its info series' claim tags), labelled with the claim's namespace and name."""
    tags = "tag_kubernetes_io_created_for_pvc_namespace, tag_kubernetes_io_created_for_pvc_name"
    joined = f"{metric} * on (name) group_left ({tags}) aws_ebs_info{{{_VOLUME_CLAIM}}}"
    relabelled = (
        f'label_replace(label_replace({joined}, "namespace", "$$1", '
        f'"tag_kubernetes_io_created_for_pvc_namespace", "(.+)"), "persistentvolumeclaim", "$$1", '
        f'"tag_kubernetes_io_created_for_pvc_name", "(.+)")'
    )
    return f"min by (namespace, persistentvolumeclaim) ({relabelled})"


# Node filesystems that hold data (not the kernel's and the runtime's virtual ones).
_NODE_FS = 'fstype!~"tmpfs|ramfs|squashfs|nsfs|overlay|fuse.lxcfs|autofs|proc|sysfs"'

# A node's virtual interfaces (pod veths, bridges, overlay tunnels, kube-proxy's dummy),
# left out of what its own network interfaces say; and the overlay tunnels among them.
_VIRTUAL_DEVICES = (
    "lo|veth.*|cali.*|cilium.*|lxc.*|flannel.*|cni.*|docker.*|vxlan.*|tunl.*|gke.*|eni.*|"
    "azv.*|kube-ipvs.*|nodelocaldns|genev.*|wireguard.*"
)
_TUNNEL_DEVICES = "vxlan.*|flannel.*|tunl.*|cilium_vxlan|cilium_geneve|genev.*|wireguard.*"
_C = Category

CLUSTER_TEMPLATES: tuple[QueryTemplate, ...] = (
    # --- storage ----------------------------------------------------------------------
    QueryTemplate(
        "volume_used_ratio",
        (_C.STORAGE,),
        frozenset({"namespace", "persistentvolumeclaim"}),
        _pvc_ratio("kubelet_volume_stats_used_bytes", "kubelet_volume_stats_capacity_bytes"),
    ),
    # What a writer that is not root sees: ext4 keeps blocks reserved for root, so a volume
    # whose available bytes are gone reads ~95% used; 1 - available / capacity is its share.
    QueryTemplate(
        "volume_unavailable_ratio",
        (_C.STORAGE,),
        frozenset({"namespace", "persistentvolumeclaim"}),
        "1 - "
        + _pvc_ratio("kubelet_volume_stats_available_bytes", "kubelet_volume_stats_capacity_bytes"),
    ),
    QueryTemplate(
        "volume_inodes_used_ratio",
        (_C.STORAGE,),
        frozenset({"namespace", "persistentvolumeclaim"}),
        _pvc_ratio("kubelet_volume_stats_inodes_used", "kubelet_volume_stats_inodes"),
    ),
    QueryTemplate(
        "claims_used_ratio",
        (_C.STORAGE, _C.DEPENDENCY_FAILURE),
        frozenset({"claims"}),
        _claims_ratio("kubelet_volume_stats_used_bytes", "kubelet_volume_stats_capacity_bytes"),
        "share of each mounted claim in use (the workload's and its callees' volumes)",
    ),
    QueryTemplate(
        "claims_unavailable_ratio",
        (_C.STORAGE, _C.DEPENDENCY_FAILURE),
        frozenset({"claims"}),
        "1 - "
        + _claims_ratio(
            "kubelet_volume_stats_available_bytes", "kubelet_volume_stats_capacity_bytes"
        ),
        "share of each mounted claim that writers can no longer use (reserved blocks count)",
    ),
    QueryTemplate(
        "claims_inodes_used_ratio",
        (_C.STORAGE, _C.DEPENDENCY_FAILURE),
        frozenset({"claims"}),
        _claims_ratio("kubelet_volume_stats_inodes_used", "kubelet_volume_stats_inodes"),
        "share of each mounted claim's inodes in use",
    ),
    # The I/O credits left of each mounted claim's cloud volume (EBS gp2, st1, sc1 burst
    # balance, in percent, as YACE exports it): at 0 the volume runs at its baseline IOPS,
    # which its size sets, and every read and write waits. YACE's info series carries the
    # EBS CSI driver's tags naming the claim a volume was created for.
    QueryTemplate(
        "claims_burst_balance",
        (_C.STORAGE, _C.DEPENDENCY_FAILURE),
        frozenset({"claims"}),
        _claim_volume("aws_ebs_burst_balance_average"),
        "I/O burst credits left (percent) of each mounted claim's cloud volume",
    ),
    # Azure managed disks with credit-based bursting (Premium SSD P20 and smaller, Standard
    # SSD) report the share of their burst credits used on the VM they are attached to, by
    # LUN (azure-metrics-exporter's ``azurerm_resource_metric`` of the VM, or its scale set
    # instance): at 100 the disk runs at its baseline IOPS. The analyzer places the VM on the
    # node and the disk on the claim mounted there (``kubetriage.analyzers.burst_credits``).
    QueryTemplate(
        "vm_disk_burst_used",
        (_C.STORAGE, _C.DEPENDENCY_FAILURE),
        frozenset({"claims"}),
        "max by (resourceID, lun) "
        '(azurerm_resource_metric{metric="DataDiskUsedBurstIOCreditsPercentage"})',
        "I/O burst credits used (percent) of each VM data disk (Azure), by VM and LUN",
    ),
    # --- replicas ---------------------------------------------------------------------
    QueryTemplate(
        "deployment_replicas_available",
        (_C.BAD_ROLLOUT, _C.RESOURCE_SATURATION, _C.UNSCHEDULABLE, _C.IMAGE_PULL),
        frozenset({"namespace", "deployment"}),
        f"max(kube_deployment_status_replicas_available{{{DEPLOYMENT_LABELS}}})",
    ),
    QueryTemplate(
        "deployment_replicas_desired",
        (_C.BAD_ROLLOUT, _C.RESOURCE_SATURATION, _C.UNSCHEDULABLE, _C.IMAGE_PULL),
        frozenset({"namespace", "deployment"}),
        f"max(kube_deployment_spec_replicas{{{DEPLOYMENT_LABELS}}})",
    ),
    QueryTemplate(
        "deployment_replicas_updated",
        (_C.BAD_ROLLOUT, _C.IMAGE_PULL),
        frozenset({"namespace", "deployment"}),
        f"max(kube_deployment_status_replicas_updated{{{DEPLOYMENT_LABELS}}})",
    ),
    QueryTemplate(
        "statefulset_replicas_ready",
        (_C.BAD_ROLLOUT, _C.STORAGE, _C.UNSCHEDULABLE),
        frozenset({"namespace", "statefulset"}),
        f"max(kube_statefulset_status_replicas_ready{{{_STATEFULSET}}})",
    ),
    QueryTemplate(
        "statefulset_replicas_desired",
        (_C.BAD_ROLLOUT, _C.STORAGE, _C.UNSCHEDULABLE),
        frozenset({"namespace", "statefulset"}),
        f"max(kube_statefulset_replicas{{{_STATEFULSET}}})",
    ),
    # --- nodes ------------------------------------------------------------------------
    QueryTemplate(
        "node_condition_true",
        (_C.NODE_FAILURE,),
        frozenset({"node"}),
        'max by (condition) (kube_node_status_condition{node="$node",status="true"})',
        "1 while the condition (Ready, MemoryPressure, DiskPressure...) holds",
    ),
    QueryTemplate(
        "node_unschedulable",
        (_C.NODE_FAILURE, _C.UNSCHEDULABLE),
        frozenset({"node"}),
        'max(kube_node_spec_unschedulable{node="$node"})',
    ),
    QueryTemplate(
        "node_interface_faults_per_second",
        (_C.NODE_FAILURE,),
        frozenset(),
        # Frames a node's physical interfaces fail to receive or send (CRC, framing, FIFO:
        # a failing cable, optic or NIC), per node; virtual interfaces left out. Only nodes
        # that count any, so a large cluster answers with the few that matter. Named "faults",
        # not "errors": the node's trouble, never read as the workload's own error series.
        "sum by (instance) (rate({__name__=~"
        '"node_network_receive_errs_total|node_network_transmit_errs_total",'
        f'device!~"{_VIRTUAL_DEVICES}"}}[5m])) > 0',
        "interface faults (receive or send errors) per second, per node with any",
        frozenset({"latency", "errors"}),
    ),
    # An overlay's tunnel device (VXLAN, IP-in-IP, Geneve, WireGuard) whose MTU leaves less
    # than 20 bytes (IP-in-IP's header, the smallest encapsulation) under the node's own
    # interfaces' largest: full-size pod packets between nodes no longer fit once wrapped
    # and are dropped, so small answers pass and large ones stall. Only such devices answer
    # (the tunnel's MTU minus the interface's), so a healthy cluster answers nothing.
    QueryTemplate(
        "node_overlay_mtu_excess_bytes",
        (_C.NETWORK,),
        frozenset(),
        f'max by (instance, device) (node_network_mtu_bytes{{device=~"{_TUNNEL_DEVICES}"}})'
        " - on (instance) group_left max by (instance) "
        f'(node_network_mtu_bytes{{device!~"{_VIRTUAL_DEVICES}"}}) > -20',
        "overlay tunnel MTU minus the node interface MTU, for tunnels with under 20 bytes of "
        "headroom",
    ),
    # A node's own resources near exhaustion (node_exporter), cluster-wide: only the nodes
    # past the threshold answer (the kubelet's default eviction thresholds for memory,
    # nodefs space and inodes; 90% of the kernel's conntrack, PID and file limits), so a
    # large cluster answers with the few that matter. Every incident asks: a node that ran
    # out of something breaks whatever runs there, whatever the alert says.
    QueryTemplate(
        "node_memory_available_ratio",
        (_C.NODE_FAILURE,),
        frozenset(),
        "min by (instance) (node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes) < 0.05",
        "share of the node's memory available, for nodes under 5%",
    ),
    # The kernel's own unreclaimable memory (slab) growing on a node: no pod's limit or
    # eviction ranking covers it, and the page cache its tenants read from shrinks as it
    # grows (major page faults): a kernel or driver leak, the node's fault. Only nodes past
    # 2 GiB of growth in the hour answer.
    QueryTemplate(
        "node_kernel_unreclaimable_growth_bytes",
        (_C.NODE_FAILURE,),
        frozenset(),
        "max by (instance) (delta(node_memory_SUnreclaim_bytes[1h])) > 2147483648",
        "growth of the node kernel's unreclaimable slab memory over the last hour, past 2 GiB",
    ),
    QueryTemplate(
        "node_filesystem_available_ratio",
        (_C.NODE_FAILURE, _C.STORAGE),
        frozenset(),
        f"min by (instance, mountpoint) (node_filesystem_avail_bytes{{{_NODE_FS}}}"
        f" / node_filesystem_size_bytes{{{_NODE_FS}}}) < 0.1",
        "share of a node filesystem's space available, for filesystems under 10%",
    ),
    QueryTemplate(
        "node_filesystem_inodes_free_ratio",
        (_C.NODE_FAILURE, _C.STORAGE),
        frozenset(),
        f"min by (instance, mountpoint) (node_filesystem_files_free{{{_NODE_FS}}}"
        f" / node_filesystem_files{{{_NODE_FS}}}) < 0.05",
        "share of a node filesystem's inodes free, for filesystems under 5%",
    ),
    # A node-level alert names the node only: each of its tenants' own series of the
    # resources node alerts are about (file descriptors, disk bytes, disk writes), per pod,
    # say which tenant's use grew with the alert. cAdvisor's inode series are the
    # filesystem's, alike for every container on it, so they are not asked per tenant.
    QueryTemplate(
        "tenant_open_fds",
        (_C.NODE_FAILURE, _C.BAD_ROLLOUT),
        frozenset({"tenants"}),
        f"max by (namespace, pod) (process_open_fds{{{_TENANTS}}})",
        "file descriptors each of the node's tenant pods holds open (its process metrics)",
    ),
    QueryTemplate(
        "tenant_container_fds",
        (_C.NODE_FAILURE, _C.BAD_ROLLOUT),
        frozenset({"tenants"}),
        f'sum by (namespace, pod) (container_file_descriptors{{{_TENANTS},container!=""}})',
        "file descriptors each of the node's tenant pods holds open (cAdvisor)",
    ),
    QueryTemplate(
        "tenant_fs_usage_bytes",
        (_C.NODE_FAILURE, _C.STORAGE),
        frozenset({"tenants"}),
        f'sum by (namespace, pod) (container_fs_usage_bytes{{{_TENANTS},container!=""}})',
        "bytes each of the node's tenant pods uses on the node's disk (cAdvisor)",
    ),
    QueryTemplate(
        "tenant_fs_writes_bytes_per_second",
        (_C.NODE_FAILURE, _C.STORAGE),
        frozenset({"tenants"}),
        "sum by (namespace, pod) "
        f'(rate(container_fs_writes_bytes_total{{{_TENANTS},container!=""}}[5m]))',
        "bytes/s each of the node's tenant pods writes to the node's disks (cAdvisor)",
    ),
    # ... and the connections each tenant server accepts per second (the accepted-connection
    # counters of the Redis, MySQL, NGINX and memcached exporters): every new connection is a
    # conntrack entry on the server's node, kept minutes after it closes, so the tenant
    # whose rate grew with a conntrack alert is the one its clients connect to anew.
    QueryTemplate(
        "tenant_connections_accepted_per_second",
        (_C.NODE_FAILURE, _C.NETWORK),
        frozenset({"tenants"}),
        f'sum by (namespace, pod) (rate({{__name__=~"{_ACCEPTED_CONNECTIONS}",{_TENANTS}}}[5m]))',
        "connections each of the node's tenant servers accepts per second (their exporters)",
    ),
    QueryTemplate(
        "node_conntrack_used_ratio",
        (_C.NODE_FAILURE, _C.NETWORK),
        frozenset(),
        "max by (instance) (node_nf_conntrack_entries / node_nf_conntrack_entries_limit) > 0.9",
        "share of the node's conntrack table in use, for nodes over 90%",
    ),
    # Cloud NAT per VM, as stackdriver_exporter names Cloud Monitoring's
    # compute.googleapis.com/nat metrics (a GKE node is the VM of the same name, its
    # ``instance_name``): the gateway could not allocate the node more source ports, and the
    # packets it dropped for want of them. The node's pods share its ports, so new
    # connections out of the VPC time out from that node only.
    QueryTemplate(
        "node_nat_allocation_failed",
        (_C.NODE_FAILURE, _C.NETWORK),
        frozenset(),
        "max by (instance_name) "
        "(stackdriver_gce_instance_compute_googleapis_com_nat_nat_allocation_failed) > 0",
        "whether Cloud NAT failed to allocate source ports to the node, for nodes where it did",
    ),
    QueryTemplate(
        "node_nat_dropped_packets_per_second",
        (_C.NODE_FAILURE, _C.NETWORK),
        frozenset(),
        "sum by (instance_name) (rate(stackdriver_gce_instance_compute_googleapis_com_nat_"
        'dropped_sent_packets_count{reason="OUT_OF_RESOURCES"}[5m])) > 0',
        "packets from the node Cloud NAT dropped for lack of source ports, where it dropped any",
    ),
    QueryTemplate(
        "node_pids_used_ratio",
        (_C.NODE_FAILURE,),
        frozenset(),
        "max by (instance) (node_processes_pids / node_processes_max_processes) > 0.9",
        "share of the node's process IDs in use, for nodes over 90%",
    ),
    QueryTemplate(
        "node_filefd_used_ratio",
        (_C.NODE_FAILURE,),
        frozenset(),
        "max by (instance) (node_filefd_allocated / node_filefd_maximum) > 0.9",
        "share of the node's file descriptors in use, for nodes over 90%",
    ),
    # The share of each node's CPU time its hypervisor ran other guests instead (node_exporter's
    # steal mode), cluster-wide, for the nodes over 10%: a noisy neighbour on an overcommitted
    # host, or a burstable instance out of CPU credits. Every pod there runs slower while its
    # containers are neither busy nor throttled; the node is the fault, not their limits.
    QueryTemplate(
        "node_cpu_steal_ratio",
        (_C.NODE_FAILURE,),
        frozenset(),
        'sum by (instance) (rate(node_cpu_seconds_total{mode="steal"}[5m]))'
        " / sum by (instance) (rate(node_cpu_seconds_total[5m])) > 0.1",
        "share of the node's CPU time stolen by its hypervisor, for nodes over 10%",
    ),
    # How far each node's clock is off, cluster-wide, for the nodes off by more than a
    # second: node_exporter's kernel offset (adjtimex) or the node's own time against the
    # scrape's. Credentials judged by time (tokens, signed requests, certificates just
    # issued) break on a node whose clock is off, wherever the refusal is logged.
    QueryTemplate(
        "node_clock_offset_seconds",
        (_C.NODE_FAILURE,),
        frozenset(),
        "max by (instance, node, nodename) (abs(node_timex_offset_seconds)) > 1"
        " or max by (instance, node, nodename)"
        " (abs(node_time_seconds - timestamp(node_time_seconds))) > 1",
        "seconds the node's clock is off, for nodes off by more than a second",
    ),
    # --- probes and certificates ------------------------------------------------------
    QueryTemplate(
        "probe_success",
        (_C.DEPENDENCY_FAILURE, _C.NETWORK, _C.PROBE_FAILURE),
        frozenset({"namespace"}),
        'min by (job, instance) (probe_success{namespace="$namespace"})',
    ),
    QueryTemplate(
        "dependency_probe_success",
        (_C.DEPENDENCY_FAILURE, _C.NETWORK),
        frozenset({"dependency_hosts"}),
        # Blackbox "instance" is a URL or host[:port] of the probed dependency.
        'min by (job, instance) (probe_success{instance=~"(https?://)?($hosts)([:/].*)?"})',
    ),
    QueryTemplate(
        "failing_probes",
        (_C.DEPENDENCY_FAILURE, _C.NETWORK),
        # Unscoped, so only for namespace-wide incidents where nothing narrower is known:
        # blackbox probes of external dependencies carry no namespace label.
        frozenset({"namespace_wide"}),
        "min by (job, instance) (probe_success) and on (job, instance)"
        " (min by (job, instance) (min_over_time(probe_success[$window] @ end())) < 1)",
        "probes that failed at least once in the window, over the whole window",
    ),
    QueryTemplate(
        "probe_ssl_expiry_seconds",
        (_C.CERTIFICATE_EXPIRY,),
        frozenset({"dependency_hosts"}),
        # The last expiry seen in the window: blackbox drops the series when the handshake
        # fails, which is what an expired certificate does; its expiry has not moved since.
        "min by (instance) (last_over_time(probe_ssl_earliest_cert_expiry"
        '{instance=~"(https?://)?($hosts)([:/].*)?"}[$window])) - time()',
    ),
    QueryTemplate(
        "expiring_probe_certificates_seconds",
        (_C.CERTIFICATE_EXPIRY,),
        frozenset({"namespace_wide"}),
        "(min by (instance) (last_over_time(probe_ssl_earliest_cert_expiry[$window])) - time())"
        " < 14 * 86400",
        "certificates seen by blackbox probes that expire within 14 days",
    ),
    QueryTemplate(
        "namespace_probe_certificates_seconds",
        (_C.CERTIFICATE_EXPIRY,),
        # Probes of the namespace's own endpoints (its Ingress hosts), scraped with its label
        # as probe_success above: an expired certificate is not seen by the workload's pods.
        frozenset({"namespace"}),
        "(min by (instance) (last_over_time(probe_ssl_earliest_cert_expiry"
        '{namespace="$namespace"}[$window])) - time()) < 14 * 86400',
        "certificates the namespace's blackbox probes see that expire within 14 days",
    ),
    # The service mesh's CA (Istio's istiod): its signing chain and its root expire for every
    # workload at once, wherever the incident is.
    QueryTemplate(
        "mesh_ca_chain_expiry_seconds",
        (_C.CERTIFICATE_EXPIRY,),
        frozenset(),
        "min by (namespace) (citadel_server_cert_chain_expiry_timestamp) - time()",
        "seconds until the mesh CA's signing chain expires (Istio)",
    ),
    QueryTemplate(
        "mesh_ca_root_expiry_seconds",
        (_C.CERTIFICATE_EXPIRY,),
        frozenset(),
        "min by (namespace) (citadel_server_root_cert_expiry_timestamp) - time()",
        "seconds until the mesh CA's root expires (Istio)",
    ),
    QueryTemplate(
        "certmanager_expiry_seconds",
        (_C.CERTIFICATE_EXPIRY,),
        frozenset({"namespace"}),
        "min by (name) (certmanager_certificate_expiration_timestamp_seconds"
        '{namespace="$namespace"}) - time()',
    ),
    # --- what a metrics server ingests --------------------------------------------------
    # A scraping server's memory grows with the series it holds: the samples each scrape job's
    # targets return (the server's own synthetic series), the jobs that peaked highest kept.
    QueryTemplate(
        "scrape_samples_by_job",
        (_C.OOM_KILLED, _C.BAD_ROLLOUT),
        frozenset({"scrapes"}),
        "sum by (namespace, job) (scrape_samples_scraped)",
        "samples the targets of each scrape job return per scrape (what the server ingests)",
    ),
)
