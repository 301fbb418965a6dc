{{- define "gw.name" -}}paddock-gateway{{- end -}}

{{- define "gw.selectorLabels" -}}
app.kubernetes.io/name: paddock-gateway
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "gw.labels" -}}
{{ include "gw.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: paddock
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}
