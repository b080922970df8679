{{/* Names, labels and the derived settings every template shares. */}}

{{- define "kubetriage.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kubetriage.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "kubetriage.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kubetriage.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kubetriage.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "kubetriage.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "kubetriage.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kubetriage.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "kubetriage.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "kubetriage.incidentNamespace" -}}
{{- default .Release.Namespace .Values.incidentNamespace -}}
{{- end -}}

{{/*
The namespaces the operator watches, as a JSON list; empty = all. A restricted operator also
watches the incident namespace, or Incidents the receiver creates there would never be handled.
*/}}
{{- define "kubetriage.watchedNamespaces" -}}
{{- if .Values.watchNamespaces -}}
{{- append .Values.watchNamespaces (include "kubetriage.incidentNamespace" .) | uniq | toJson -}}
{{- else -}}
[]
{{- end -}}
{{- end -}}

{{/* The chart-managed Secret, created when any secret value is given inline. */}}
{{- define "kubetriage.secretName" -}}
{{- printf "%s-secrets" (include "kubetriage.fullname" .) -}}
{{- end -}}

{{/* True when the chart must generate the receiver's token: nobody supplied one. */}}
{{- define "kubetriage.generateWebhookToken" -}}
{{- if and .Values.webhook.enabled (not .Values.webhook.token) (not .Values.webhook.existingSecret) (not .Values.webhook.allowUnauthenticated) -}}true{{- end -}}
{{- end -}}

{{- define "kubetriage.embeddedQdrant" -}}
{{- if and .Values.memory.enabled (not .Values.memory.qdrant.url) -}}true{{- end -}}
{{- end -}}

{{/* Rendering fails early on combinations that cannot work. */}}
{{- define "kubetriage.validate" -}}
{{- if and (gt (int .Values.replicas) 1) (include "kubetriage.embeddedQdrant" .) -}}
{{- fail "replicas > 1 needs an external Qdrant: set memory.qdrant.url (the embedded Qdrant on a PVC cannot be shared by several replicas), or set memory.enabled=false" -}}
{{- end -}}
{{- if and (gt (int .Values.replicas) 1) (not .Values.peering.enabled) -}}
{{- fail "replicas > 1 needs peering.enabled=true (Kopf peering keeps all but one replica idle)" -}}
{{- end -}}
{{- if and (eq .Values.rbac.scope "namespace") (not .Values.watchNamespaces) -}}
{{- fail "rbac.scope=namespace needs watchNamespaces: the namespaces to grant access in and watch" -}}
{{- end -}}
{{- if and .Values.remediation.allowDrain (not .Values.remediation.enabled) -}}
{{- fail "remediation.allowDrain needs remediation.enabled=true" -}}
{{- end -}}
{{- if and .Values.remediation.allowDrain (eq .Values.rbac.scope "namespace") -}}
{{- fail "remediation.allowDrain needs rbac.scope=cluster: draining a node evicts pods of every namespace" -}}
{{- end -}}
{{- $drainPolicy := dig "drainNode" "enabled" false (.Values.remediation.policy | default dict) -}}
{{- if and .Values.remediation.enabled $drainPolicy (not .Values.remediation.allowDrain) -}}
{{- fail "remediation.policy enables drainNode but remediation.allowDrain is false: the operator could not evict or cordon" -}}
{{- end -}}
{{- if and .Values.llm.apiKey .Values.llm.existingSecret -}}
{{- fail "set either llm.apiKey or llm.existingSecret, not both" -}}
{{- end -}}
{{- if and .Values.webhook.token .Values.webhook.existingSecret -}}
{{- fail "set either webhook.token or webhook.existingSecret, not both" -}}
{{- end -}}
{{- if and .Values.memory.qdrant.apiKey .Values.memory.qdrant.existingSecret -}}
{{- fail "set either memory.qdrant.apiKey or memory.qdrant.existingSecret, not both" -}}
{{- end -}}
{{- if and .Values.prometheus.authHeader .Values.prometheus.existingSecret -}}
{{- fail "set either prometheus.authHeader or prometheus.existingSecret, not both" -}}
{{- end -}}
{{- with .Values.notifications -}}
{{- if and .slack.enabled (not (or .slack.botToken .slack.existingSecret)) -}}
{{- fail "notifications.slack.enabled needs notifications.slack.botToken or .existingSecret" -}}
{{- end -}}
{{- if and (or .slack.botToken .slack.signingSecret) .slack.existingSecret -}}
{{- fail "set either notifications.slack.botToken/signingSecret or notifications.slack.existingSecret, not both" -}}
{{- end -}}
{{- $routedChannel := false -}}
{{- range .routes -}}{{- if .slackChannel -}}{{- $routedChannel = true -}}{{- end -}}{{- end -}}
{{- if and .slack.enabled (not .slack.channel) (not $routedChannel) -}}
{{- fail "notifications.slack.enabled needs notifications.slack.channel (or a route with slackChannel)" -}}
{{- end -}}
{{- if and .teams.enabled (not (or .teams.webhookUrl .teams.existingSecret)) -}}
{{- fail "notifications.teams.enabled needs notifications.teams.webhookUrl or .existingSecret" -}}
{{- end -}}
{{- if and .teams.webhookUrl .teams.existingSecret -}}
{{- fail "set either notifications.teams.webhookUrl or notifications.teams.existingSecret, not both" -}}
{{- end -}}
{{- if and .cloudEvents.enabled (not .cloudEvents.url) -}}
{{- fail "notifications.cloudEvents.enabled needs notifications.cloudEvents.url" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A secretKeyRef env entry (indented for the container's env list): the existing Secret if
named, else the chart's own; nothing when neither is set. */}}
{{- define "kubetriage.secretEnv" -}}
{{- $ := index . 0 -}}
{{- $env := index . 1 -}}
{{- $inline := index . 2 -}}
{{- $existing := index . 3 -}}
{{- $existingKey := index . 4 -}}
{{- $ownKey := index . 5 -}}
{{- if or $inline $existing }}
            - name: {{ $env }}
              valueFrom:
                secretKeyRef:
                  name: {{ $existing | default (include "kubetriage.secretName" $) }}
                  key: {{ ternary $existingKey $ownKey (not (empty $existing)) }}
{{- end -}}
{{- end -}}

{{/* OTEL_RESOURCE_ATTRIBUTES: the Kubernetes placement first, then the user's attributes. */}}
{{- define "kubetriage.otelResourceAttributes" -}}
{{- $attrs := list (printf "k8s.namespace.name=%s" .Release.Namespace) "k8s.pod.name=$(POD_NAME)" (printf "service.version=%s" .Chart.AppVersion) -}}
{{- range $key, $value := .Values.otel.resourceAttributes -}}
{{- $attrs = append $attrs (printf "%s=%v" $key $value) -}}
{{- end -}}
{{- join "," $attrs -}}
{{- end -}}
