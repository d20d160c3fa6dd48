{{/*
Name of the chart, or nameOverride.
*/}}
{{- define "vpnjob-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified name, used for every object (and the ServiceAccount): the release
name when it already contains the chart name, so `helm install vpnjob-operator`
gives `vpnjob-operator`, else "<release>-<chart>".
*/}}
{{- define "vpnjob-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "vpnjob-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "vpnjob-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vpnjob-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "vpnjob-operator.labels" -}}
helm.sh/chart: {{ include "vpnjob-operator.chart" . }}
{{ include "vpnjob-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Where the operator watches. Fails rendering unless exactly one of
watchNamespaces / watchAllNamespaces is chosen: cluster-wide must be an explicit opt-in.
*/}}
{{- define "vpnjob-operator.validate" -}}
{{- if and .Values.watchAllNamespaces .Values.watchNamespaces }}
{{- fail "vpnjob-operator: set either watchNamespaces or watchAllNamespaces=true, not both" }}
{{- end }}
{{- if not (or .Values.watchAllNamespaces .Values.watchNamespaces) }}
{{- fail "vpnjob-operator: choose the namespaces to watch: set watchNamespaces (e.g. --set 'watchNamespaces={team-a,team-b}'), or opt in to cluster-wide watching (and cluster-wide Secret get) with watchAllNamespaces=true" }}
{{- end }}
{{- end }}

{{/*
The rules the operator needs on watches, their status and Events (conventions §9).
*/}}
{{- define "vpnjob-operator.watchRules" -}}
- apiGroups: ["vpnjob.io"]
  resources: ["vpngatewayjobwatches"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["vpnjob.io"]
  resources: ["vpngatewayjobwatches/status"]
  verbs: ["patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{/*
Secrets: a single `get` at reconcile time; never list or watch.
*/}}
{{- define "vpnjob-operator.secretRules" -}}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
{{- end }}
