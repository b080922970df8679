"""The PromQL templates of the volumes of the incident's namespace that no other query asks
about: every PersistentVolumeClaim there that is near full, of its bytes or of its inodes.
A volume that ran out fails whoever writes to it, and that writer is often a service the
alerted workload reaches in ways no object names (the build cache its CI job pods call, a
store it uploads to), so the walk never mounts it; the kubelet's volume stats still place it
in the namespace. Only claims at or past ``FILLING`` answer (``volume_fills.FILLING``, which
the storage rule starts at), so a namespace with many healthy volumes adds nothing. The part
of the catalogue ``kubetriage.evidence.queries`` runs after the others.

Also the health checks a Ceph cluster's manager exports (``ceph_health_detail``, 1 while a
check is raised) in the namespaces of the followed workloads: the storage system a claim is
stored by is followed into its own namespace (``kubetriage.evidence.storage_backends``), and
what it raised there (``OSD_FULL``, ``POOL_FULL``) is read beside its resource's status.
"""

from __future__ import annotations

from kubetriage.evidence.query_template import QueryTemplate
from kubetriage.models.vocabulary import Category

# The namespace's claims the other queries do not already ask about (those the workload's
# and its callees' pods mount, and the claim the incident is about): no series twice.
_OTHER_CLAIMS = (
    'namespace="$namespace",persistentvolumeclaim!~"$claim_names",'
    'persistentvolumeclaim!="$persistentvolumeclaim"'
)
# The share at which a volume counts as filling (``kubetriage.analyzers.volume_fills``).
_FILLING = "0.9"


def _namespace_ratio(used: str, total: str, *, complement: bool = False) -> str:
    """``used / total`` (or ``1 - used / total``) of each other claim of the namespace, kept
    only where it is at or past the filling share."""
    by = "max by (namespace, persistentvolumeclaim)"
    ratio = f"{by} ({used}{{{_OTHER_CLAIMS}}}) / {by} ({total}{{{_OTHER_CLAIMS}}})"
    return f"(1 - {ratio}) >= {_FILLING}" if complement else f"{ratio} >= {_FILLING}"


# The name of the Ceph health checks query (``kubetriage.analyzers.storage_backends``).
CEPH_HEALTH_CHECKS = "callee_ceph_health_checks"

VOLUME_TEMPLATES: tuple[QueryTemplate, ...] = (
    QueryTemplate(
        "namespace_claims_unavailable_ratio",
        (Category.STORAGE, Category.DEPENDENCY_FAILURE),
        frozenset({"namespace"}),
        _namespace_ratio(
            "kubelet_volume_stats_available_bytes",
            "kubelet_volume_stats_capacity_bytes",
            complement=True,
        ),
        "share of each other claim of the namespace writers can no longer use, when near full",
    ),
    QueryTemplate(
        "namespace_claims_inodes_used_ratio",
        (Category.STORAGE, Category.DEPENDENCY_FAILURE),
        frozenset({"namespace"}),
        _namespace_ratio("kubelet_volume_stats_inodes_used", "kubelet_volume_stats_inodes"),
        "share of each other claim of the namespace's inodes in use, when near full",
    ),
    QueryTemplate(
        CEPH_HEALTH_CHECKS,
        (Category.STORAGE, Category.DEPENDENCY_FAILURE),
        frozenset({"callees"}),
        'max by (namespace, name, severity) (ceph_health_detail{namespace=~"$callee_namespaces"})',
        "each Ceph health check the manager exports in a followed workload's namespace, 1 while "
        "raised",
    ),
)
