{{/*
RBAC rule sets, shared by the cluster-scoped and the namespace-scoped modes. Evidence is
read-only. ConfigMaps are listed for their keys only (values are dropped before anything is
stored or sent), but RBAC cannot grant keys without values. Secrets are never granted.
*/}}

{{/* Rules for namespaced resources: evidence reads, Incidents, Events. */}}
{{- define "kubetriage.rules.namespaced" -}}
- apiGroups: [""]
  resources:
    - pods
    - pods/log
    - events
    - persistentvolumeclaims
    - services
    - endpoints
    - configmaps
    - resourcequotas
  verbs: [get, list, watch]
- apiGroups: [apps]
  resources: [deployments, replicasets, statefulsets, daemonsets, controllerrevisions]
  verbs: [get, list, watch]
- apiGroups: [batch]
  resources: [jobs, cronjobs]
  verbs: [get, list, watch]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies, ingresses]
  verbs: [get, list, watch]
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [get, list, watch]
# EndpointSlices: a Service's endpoints when no Endpoints object mirrors them.
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [get, list, watch]
# PodDisruptionBudgets: which budget holds a cordoned node's drain, and why it has no room.
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch]
# Gateway API routes: which Service a gateway sends a probed host to (harmless when the
# Gateway API is not installed).
- apiGroups: [gateway.networking.k8s.io]
  resources: [httproutes, grpcroutes]
  verbs: [get, list, watch]
# Istio Gateways: which TLS credential (Secret, so Certificate) serves a probed host;
# VirtualServices: which Service (an egress gateway) the sidecars send a called host to.
- apiGroups: [networking.istio.io]
  resources: [gateways, virtualservices]
  verbs: [get, list, watch]
# Traefik IngressRoutes: which Service a public host reaches (the callers that use that host;
# harmless when Traefik's CRDs are not installed).
- apiGroups: [traefik.io]
  resources: [ingressroutes]
  verbs: [get, list, watch]
# KEDA ScaledObjects and ScaledJobs: which source a workload's scaler reads, and whether it
# can; TriggerAuthentications: which Secret keys it takes credentials from (names only;
# harmless when KEDA is not installed).
- apiGroups: [keda.sh]
  resources: [scaledobjects, scaledjobs, triggerauthentications]
  verbs: [get, list, watch]
# Workflow and pipeline runs (Argo Workflows, Tekton): their status says why a step has no
# pod, e.g. a quota refusal (harmless when neither is installed).
- apiGroups: [argoproj.io]
  resources: [workflows]
  verbs: [get, list, watch]
# Argo CD Applications: where an application alert's objects run when its labels do not say
# (its destination and the resources it reports unhealthy; harmless when not installed).
- apiGroups: [argoproj.io]
  resources: [applications]
  verbs: [get]
- apiGroups: [tekton.dev]
  resources: [pipelineruns, taskruns]
  verbs: [get, list, watch]
# Kueue LocalQueues: the namespaces whose Jobs a ClusterQueue an alert names admits (listed
# in every namespace only under a cluster-wide install); Workloads: why the queue holds a Job
# of the incident's namespace (harmless when Kueue is not installed).
- apiGroups: [kueue.x-k8s.io]
  resources: [localqueues, workloads]
  verbs: [get, list]
# Dapr Components: what a Dapr sidecar of the incident's pods loads at its start, and which
# Secret keys it reads its credentials from (names only; listed only when a pod runs Dapr,
# harmless when Dapr is not installed).
- apiGroups: [dapr.io]
  resources: [components]
  verbs: [get, list, watch]
# The operator resource running the incident's pods (a CloudNativePG Cluster): the addresses
# its spec configures them with, such as the WAL archive's object store (read only when it
# controls a pod of the incident; harmless when the operator is not installed).
- apiGroups: [postgresql.cnpg.io]
  resources: [clusters]
  verbs: [get]
# The storage system of the cluster storing the incident's claims: a Rook CephCluster's
# health checks (listed in the Ceph cluster's namespace), a Longhorn Volume's robustness
# (read by name) (only when a pod of the incident mounts a claim they store; harmless when
# they are not installed).
- apiGroups: [ceph.rook.io]
  resources: [cephclusters]
  verbs: [get, list]
- apiGroups: [longhorn.io]
  resources: [volumes]
  verbs: [get]
{{- if .Values.rbac.secretWriters }}
# What writes a Secret a pod cannot get: Kyverno Policies that clone it, the Strimzi
# KafkaUser it is named after (read only when the kubelet says a Secret is missing).
- apiGroups: [kyverno.io]
  resources: [policies]
  verbs: [get, list]
- apiGroups: [kafka.strimzi.io]
  resources: [kafkausers]
  verbs: [get, list]
{{- end }}
{{- if .Values.rbac.certManager }}
- apiGroups: [cert-manager.io]
  resources: [certificates, certificaterequests, issuers]
  verbs: [get, list, watch]
{{- end }}
- apiGroups: [kubetriage.io]
  resources: [incidents]
  verbs: [get, list, watch, create, patch, update]
- apiGroups: [kubetriage.io]
  resources: [incidents/status]
  verbs: [get, patch, update]
# Kopf and the operator post Events about Incidents (core v1 Events only).
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
{{- end -}}

{{/* Cluster-scoped reads: Kopf resolves resources through CRDs and watches namespaces. */}}
{{- define "kubetriage.rules.clusterReads" -}}
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [namespaces]
  verbs: [get, list, watch]
# Read only for a claim the incident's pods mount: the volume bound to it names the NFS
# server (a Service of the cluster) their file access waits on.
- apiGroups: [""]
  resources: [persistentvolumes]
  verbs: [get]
# Read only when an event reports "failed calling webhook": the webhook's configuration names
# the Service (and failurePolicy) behind a blocked create.
- apiGroups: [admissionregistration.k8s.io]
  resources: [validatingwebhookconfigurations, mutatingwebhookconfigurations]
  verbs: [get, list]
# Read only when an HPA cannot get its metrics: the APIService serving them says why
# (Available=False) and names the Service behind it.
- apiGroups: [apiregistration.k8s.io]
  resources: [apiservices]
  verbs: [get, list]
{{- end -}}

{{/* Cluster scope only: what writes a Secret a pod cannot get, read only when the kubelet
says one is missing: the Kyverno ClusterPolicies that may clone it, the Crossplane XRDs
naming the claim kinds that may write it. */}}
{{- define "kubetriage.rules.secretWritersCluster" -}}
{{- if .Values.rbac.secretWriters }}
- apiGroups: [kyverno.io]
  resources: [clusterpolicies]
  verbs: [get, list]
- apiGroups: [apiextensions.crossplane.io]
  resources: [compositeresourcedefinitions]
  verbs: [get, list]
{{- end }}
{{- end -}}

{{- define "kubetriage.rules.nodes" -}}
- apiGroups: [""]
  resources: [nodes]
  verbs: [get, list, watch]
# Which controller serves an Ingress of the target (its pods often run in another namespace).
- apiGroups: [networking.k8s.io]
  resources: [ingressclasses]
  verbs: [get, list]
{{- end -}}

{{- define "kubetriage.rules.clusterPeering" -}}
- apiGroups: [kopf.dev]
  resources: [clusterkopfpeerings]
  verbs: [get, list, watch, patch, create]
{{- end -}}

{{- define "kubetriage.rules.namespacedPeering" -}}
- apiGroups: [kopf.dev]
  resources: [kopfpeerings]
  verbs: [get, list, watch, patch, create]
{{- end -}}

{{/* Opt-in writes for approved remediations (rollback, restart, scale). */}}
{{- define "kubetriage.rules.remediation" -}}
- apiGroups: [apps]
  resources: [deployments, statefulsets]
  verbs: [patch]
- apiGroups: [apps]
  resources: [deployments/scale, statefulsets/scale]
  verbs: [get, patch, update]
{{- end -}}

{{- define "kubetriage.rules.drain" -}}
- apiGroups: [""]
  resources: [pods/eviction]
  verbs: [create]
- apiGroups: [""]
  resources: [nodes]
  verbs: [patch]
{{- end -}}
