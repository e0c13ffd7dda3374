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
{{- range $cell := include "costlynx.cellList" . | fromJsonArray }}
{{- $sts := include "costlynx.cellName" (list $ $cell) }}
{{- range $i := until (int $.Values.replicaCount) }}
{{- $urls = append $urls (printf "http://%s-%d.%s-headless.%s.svc:%d" $sts $i $full $.Release.Namespace (int $.Values.config.httpPort)) }}
{{- end }}
{{- end }}
{{- join " " $urls }}
{{- end }}

{{/* ---- ClickHouse export and cells (docs/clickhouse.md, docs/scale-out.md) ---- */}}

{{/* The Secret that holds the ClickHouse password: an existing one, or the chart's. */}}
{{- define "costlynx.clickhouseSecretName" -}}
{{- if .Values.clickhouse.password.existingSecret }}
{{- .Values.clickhouse.password.existingSecret }}
{{- else }}
{{- printf "%s-clickhouse" (include "costlynx.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* The cells as a JSON list: the ids with cells.enabled, else one unnamed cell ("") = no cells. */}}
{{- define "costlynx.cellList" -}}
{{- if .Values.cells.enabled }}{{ toJson .Values.cells.ids }}{{ else }}[""]{{ end }}
{{- end }}

{{/* The name of a cell's StatefulSet and Service: <fullname>-<cell> (<fullname> without cells). */}}
{{- define "costlynx.cellName" -}}
{{- $root := index . 0 }}{{ $cell := index . 1 }}
{{- if $cell }}{{ printf "%s-%s" (include "costlynx.fullname" $root) $cell | trunc 63 | trimSuffix "-" }}{{ else }}{{ include "costlynx.fullname" $root }}{{ end }}
{{- end }}

{{- define "costlynx.routerName" -}}
{{- printf "%s-router" (include "costlynx.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "costlynx.routerSelectorLabels" -}}
app.kubernetes.io/name: {{ include "costlynx.name" . }}-router
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Checks of the export and cell values; each failure names the values to change. */}}
{{- define "costlynx.validateScaleOut" -}}
{{- if and .Values.clickhouse.password.value .Values.clickhouse.password.existingSecret }}
{{- fail "set clickhouse.password.value or clickhouse.password.existingSecret, not both" }}
{{- end }}
{{- if .Values.cells.enabled }}
{{- if ne (int .Values.replicaCount) 1 }}
{{- fail (printf "cells.enabled runs one costlynxd per cell: set replicaCount to 1 (it is %d) and add cells to cells.ids" (int .Values.replicaCount)) }}
{{- end }}
{{- if not .Values.cells.ids }}
{{- fail "cells.enabled needs at least one id in cells.ids" }}
{{- end }}
{{- if ne (len .Values.cells.ids) (len (uniq .Values.cells.ids)) }}
{{- fail "cells.ids has an id twice" }}
{{- end }}
{{- range $ws, $cell := .Values.cells.workspaces }}
{{- if not (has $cell $.Values.cells.ids) }}
{{- fail (printf "cells.workspaces puts workspace %s on cell %s, which is not in cells.ids" $ws $cell) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
