{{/* Chart name, truncated to 63 characters (a DNS label). */}}
{{- define "costlynx.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-chart unless the release name already holds the chart name. */}}
{{- define "costlynx.fullname" -}}
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

{{- define "costlynx.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "costlynx.selectorLabels" -}}
app.kubernetes.io/name: {{ include "costlynx.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "costlynx.labels" -}}
helm.sh/chart: {{ include "costlynx.chart" . }}
{{ include "costlynx.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: costlynx
{{- end }}

{{- define "costlynx.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "costlynx.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret that holds the admin token: an existing one, or the chart's. */}}
{{- define "costlynx.adminSecretName" -}}
{{- if .Values.adminToken.existingSecret }}
{{- .Values.adminToken.existingSecret }}
{{- else }}
{{- printf "%s-admin" (include "costlynx.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* The ConfigMap that holds the catalog CSV: an existing one, or the chart's. */}}
{{- define "costlynx.catalogConfigMapName" -}}
{{- if .Values.catalog.existingConfigMap }}
{{- .Values.catalog.existingConfigMap }}
{{- else }}
{{- printf "%s-catalog" (include "costlynx.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "costlynx.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* Checks that need more than one value; each failure names the values to change. */}}
{{- define "costlynx.validate" -}}
{{- $graceMs := mul (int .Values.terminationGracePeriodSeconds) 1000 }}
{{- $needMs := add (int .Values.config.shutdownGraceMs) (mul (int .Values.preStopSleepSeconds) 1000) }}
{{- if le $graceMs $needMs }}
{{- fail (printf "terminationGracePeriodSeconds (%d s) must exceed preStopSleepSeconds (%d s) + config.shutdownGraceMs (%d ms): costlynxd would be killed before it has written everything queued" (int .Values.terminationGracePeriodSeconds) (int .Values.preStopSleepSeconds) (int .Values.config.shutdownGraceMs)) }}
{{- end }}
{{- if and .Values.adminToken.value .Values.adminToken.existingSecret }}
{{- fail "set adminToken.value or adminToken.existingSecret, not both" }}
{{- end }}
{{- if and .Values.catalog.enabled (not .Values.catalog.csv) (not .Values.catalog.existingConfigMap) }}
{{- fail "catalog.enabled needs catalog.csv (the CSV text) or catalog.existingConfigMap" }}
{{- end }}
{{- if and .Values.catalog.csv .Values.catalog.existingConfigMap }}
{{- fail "set catalog.csv or catalog.existingConfigMap, not both" }}
{{- end }}
{{- if eq (int .Values.config.httpPort) (int .Values.config.grpcPort) }}
{{- fail "config.httpPort and config.grpcPort must differ" }}
{{- end }}
{{- $data := trimSuffix "/" .Values.config.dataDir }}
{{- if and .Values.backup.enabled (or (eq (trimSuffix "/" .Values.backup.dir) $data) (hasPrefix (printf "%s/" $data) .Values.backup.dir)) }}
{{- fail "backup.dir must be outside config.dataDir (the data volume is RocksDB's folder alone)" }}
{{- end }}
{{- end }}

{{/* Base URLs of every replica through the headless Service, space-separated (backup CronJob). */}}
{{- define "costlynx.backupTargets" -}}
{{- $full := include "costlynx.fullname" . }}
{{- $urls := list }}
{{- range $i := until (int .Values.replicaCount) }}
{{- $urls = append $urls (printf "http://%s-%d.%s-headless.%s.svc:%d" $full $i $full $.Release.Namespace (int $.Values.config.httpPort)) }}
{{- end }}
{{- join " " $urls }}
{{- end }}
