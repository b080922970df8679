"""The product's vocabulary: diagnosis categories, remediation actions and risk levels.

Fixed by the shared incident case format (tests/cases/FORMAT.md); the CRD enums, the LLM
output schema, the analyzers and the eval scorer all import from here so they cannot drift.
"""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    OOM_KILLED = "oom-killed"
    CRASH_LOOP = "crash-loop"
    CONFIG_MISSING = "config-missing"
    IMAGE_PULL = "image-pull"
    PROBE_FAILURE = "probe-failure"
    UNSCHEDULABLE = "unschedulable"
    NODE_FAILURE = "node-failure"
    STORAGE = "storage"
    CPU_THROTTLING = "cpu-throttling"
    BAD_ROLLOUT = "bad-rollout"
    DEPENDENCY_FAILURE = "dependency-failure"
    RESOURCE_SATURATION = "resource-saturation"
    NETWORK = "network"
    CERTIFICATE_EXPIRY = "certificate-expiry"
    UNKNOWN = "unknown"


class Action(StrEnum):
    INCREASE_MEMORY = "increase-memory"
    INCREASE_CPU = "increase-cpu"
    ROLLBACK = "rollback"
    RESTART = "restart"
    SCALE_OUT = "scale-out"
    FIX_CONFIG = "fix-config"
    FIX_IMAGE = "fix-image"
    FIX_PROBE = "fix-probe"
    FREE_CAPACITY = "free-capacity"
    DRAIN_NODE = "drain-node"
    EXPAND_STORAGE = "expand-storage"
    FIX_NETWORK = "fix-network"
    RENEW_CERTIFICATE = "renew-certificate"
    ESCALATE = "escalate"


class Risk(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


# One line per category, as the shared case format defines them; used in the prompt and in
# the text incidents are remembered by.
CATEGORY_MEANINGS: dict[Category, str] = {
    Category.OOM_KILLED: "a container is killed for exceeding its memory limit (leak or limit "
    "too low)",
    Category.CRASH_LOOP: "the process exits on its own (panic, bad flag, failed migration, "
    "unhandled error)",
    Category.CONFIG_MISSING: "a referenced ConfigMap, Secret, key or env value is missing or wrong",
    Category.IMAGE_PULL: "the image cannot be pulled (bad tag, missing pull secret, registry down)",
    Category.PROBE_FAILURE: "liveness or readiness probes fail while the process itself runs",
    Category.UNSCHEDULABLE: "pods stay Pending: not enough CPU or memory, taints, affinity, "
    "selectors, quota",
    Category.NODE_FAILURE: "a node is NotReady or under disk, memory or PID pressure; evictions",
    Category.STORAGE: "a volume cannot bind or mount, or a volume is full",
    Category.CPU_THROTTLING: "CPU limits throttle the container and latency rises",
    Category.BAD_ROLLOUT: "a new revision broke a workload that worked on the previous one",
    Category.DEPENDENCY_FAILURE: "a downstream service, database or DNS the workload calls is "
    "failing",
    Category.RESOURCE_SATURATION: "demand exceeds capacity: traffic spike, too few replicas, HPA "
    "at max",
    Category.NETWORK: "traffic is blocked or misrouted: NetworkPolicy, Service selector with no "
    "endpoints",
    Category.CERTIFICATE_EXPIRY: "a TLS certificate has expired or is about to",
    Category.UNKNOWN: "the evidence does not support any of the above",
}


WORKLOAD_KINDS: frozenset[str] = frozenset(
    {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}
)

# Which object kinds each action may act on (tests/cases/FORMAT.md, "Remediation actions").
# The combiner drops any suggestion whose target kind is not listed, whoever proposed it.
ACTION_TARGET_KINDS: dict[Action, frozenset[str]] = {
    Action.INCREASE_MEMORY: WORKLOAD_KINDS,
    Action.INCREASE_CPU: WORKLOAD_KINDS,
    Action.ROLLBACK: frozenset({"Deployment", "StatefulSet", "DaemonSet"}),
    Action.RESTART: frozenset({"Deployment", "StatefulSet", "DaemonSet"}),
    Action.SCALE_OUT: frozenset({"Deployment", "StatefulSet", "ReplicaSet"}),
    Action.FIX_CONFIG: frozenset({"ConfigMap", "Secret"}) | WORKLOAD_KINDS,
    Action.FIX_IMAGE: WORKLOAD_KINDS,
    Action.FIX_PROBE: WORKLOAD_KINDS,
    Action.FREE_CAPACITY: WORKLOAD_KINDS | frozenset({"Node", "ResourceQuota"}),
    Action.DRAIN_NODE: frozenset({"Node"}),
    Action.EXPAND_STORAGE: frozenset({"PersistentVolumeClaim"}),
    Action.FIX_NETWORK: frozenset({"NetworkPolicy", "Service"}),
    Action.RENEW_CERTIFICATE: frozenset({"Certificate", "Secret"}),
    Action.ESCALATE: frozenset({"Service"}) | WORKLOAD_KINDS,
}

# Inherent risk of each action when applied as suggested; shown next to every remediation.
ACTION_RISK: dict[Action, Risk] = {
    Action.INCREASE_MEMORY: Risk.LOW,
    Action.INCREASE_CPU: Risk.LOW,
    Action.ROLLBACK: Risk.MEDIUM,
    Action.RESTART: Risk.LOW,
    Action.SCALE_OUT: Risk.LOW,
    Action.FIX_CONFIG: Risk.MEDIUM,
    Action.FIX_IMAGE: Risk.MEDIUM,
    Action.FIX_PROBE: Risk.MEDIUM,
    Action.FREE_CAPACITY: Risk.MEDIUM,
    Action.DRAIN_NODE: Risk.HIGH,
    Action.EXPAND_STORAGE: Risk.MEDIUM,
    Action.FIX_NETWORK: Risk.HIGH,
    Action.RENEW_CERTIFICATE: Risk.MEDIUM,
    Action.ESCALATE: Risk.LOW,
}
