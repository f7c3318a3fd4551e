{{/* Name of the chart, overridable. */}}
{{- define "augur.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: release-chart unless the release already names the chart. */}}
{{- define "augur.fullname" -}}
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

{{- define "augur.selectorLabels" -}}
app.kubernetes.io/name: {{ include "augur.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: expander
{{- end -}}

{{- define "augur.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "augur.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: augur
{{- end -}}

{{- define "augur.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "augur.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "augur.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "augur.fullname" .)) .Values.tls.secretName -}}
{{- end -}}

{{- define "augur.caBundleSecretName" -}}
{{- default (printf "%s-ca-bundle" (include "augur.fullname" .)) .Values.tls.caBundle.secretName -}}
{{- end -}}

{{- define "augur.caBundleNamespace" -}}
{{- default .Release.Namespace .Values.tls.caBundle.namespace -}}
{{- end -}}

{{/*
The names the serving certificate carries. The Cluster Autoscaler checks
the host of --grpc-expander-url against them, so every form of the
Service's DNS name is listed.
*/}}
{{- define "augur.dnsNames" -}}
{{- $svc := include "augur.fullname" . -}}
{{- $ns := .Release.Namespace -}}
{{- $names := list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.%s" $svc $ns .Values.clusterDomain) -}}
{{- concat $names .Values.tls.extraDnsNames | uniq | toJson -}}
{{- end -}}

{{/* Whether to create a ServiceMonitor: "auto" asks the cluster. */}}
{{- define "augur.serviceMonitorEnabled" -}}
{{- $v := toString .Values.metrics.serviceMonitor.enabled -}}
{{- if eq $v "true" -}}
true
{{- else if and (eq $v "auto") (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor") -}}
true
{{- end -}}
{{- end -}}

{{/* prometheus.io scrape annotations, used when no ServiceMonitor is made. */}}
{{- define "augur.scrapeAnnotations" -}}
{{- if and .Values.metrics.scrapeAnnotations (not (include "augur.serviceMonitorEnabled" .)) -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .Values.expander.metricsPort | quote }}
prometheus.io/path: /metrics
prometheus.io/scheme: http
{{- end -}}
{{- end -}}
