{{/* Object name: the model alias (already a DNS-1035 label, validated by Paddock's stack config). */}}
{{- define "ms.name" -}}
{{- .Values.alias | trunc 52 | trimSuffix "-" -}}
{{- end -}}

{{- define "ms.selectorLabels" -}}
app.kubernetes.io/name: model-server
app.kubernetes.io/instance: {{ include "ms.name" . }}
{{- end -}}

{{- define "ms.labels" -}}
{{ include "ms.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: paddock
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
paddock.dev/engine: {{ .Values.engine }}
{{- end -}}

{{/* Inline checkov skips shared by every engine pod (each with its reason). */}}
{{- define "ms.checkovSkips" -}}
checkov.io/skip1: CKV_K8S_43=Images are pinned by tag in the stack config (paddock:versions); a digest may be used there and is passed through unchanged.
checkov.io/skip2: CKV_K8S_15=Pinned tags are pulled IfNotPresent (serving/images.py) because Always re-pulls on every pod start and hits the Docker Hub anonymous pull limit behind one NAT IP.
{{- end -}}

{{/* Where the engine reads weights from. */}}
{{- define "ms.modelPath" -}}
{{- if eq .Values.weights.source "s3" -}}
{{ .Values.cache.mountPath }}/weights
{{- else -}}
{{ .Values.weights.hfRepo }}
{{- end -}}
{{- end -}}

{{/* Engine arguments (list, YAML). */}}
{{- define "ms.engineArgs" -}}
{{- if eq .Values.engine "vllm" }}
- {{ include "ms.modelPath" . | quote }}
- "--served-model-name"
- {{ .Values.servedModelName | quote }}
- "--host"
- "0.0.0.0"
- "--port"
- {{ .Values.port | quote }}
{{- if gt (int .Values.nodesPerReplica) 1 }}
- "--distributed-executor-backend"
- "ray"
{{- end }}
{{- else }}
- "--model-id"
- {{ include "ms.modelPath" . | quote }}
- "--hostname"
- "0.0.0.0"
- "--port"
- {{ .Values.port | quote }}
{{- end }}
{{- range .Values.engineArgs }}
- {{ . | quote }}
{{- end }}
{{- end -}}

{{/* Readiness: engine health AND the served model is listed (vLLM /v1/models; TGI /info model_id). */}}
{{- define "ms.readinessScript" -}}
{{- if eq .Values.engine "vllm" -}}
import json,sys,urllib.request as u
b='http://127.0.0.1:{{ .Values.port }}'
u.urlopen(b+'/health',timeout=3)
d=json.load(u.urlopen(b+'/v1/models',timeout=3))
sys.exit(0 if any(m.get('id')=={{ .Values.servedModelName | quote }} for m in d.get('data',[])) else 1)
{{- else -}}
import json,sys,urllib.request as u
b='http://127.0.0.1:{{ .Values.port }}'
u.urlopen(b+'/health',timeout=3)
d=json.load(u.urlopen(b+'/info',timeout=3))
sys.exit(0 if d.get('model_id')=={{ include "ms.modelPath" . | quote }} else 1)
{{- end -}}
{{- end -}}

{{- define "ms.securityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
capabilities:
  drop: ["ALL"]
{{- end -}}

{{- define "ms.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "ms.env" -}}
- name: HOME
  value: /tmp
- name: XDG_CACHE_HOME
  value: /tmp/cache
- name: HF_HOME
  value: {{ printf "%s/hf" .Values.cache.mountPath | quote }}
{{- if eq .Values.weights.source "hf" }}
- name: HF_TOKEN_PATH
  value: /var/run/secrets/hf/token
{{- else }}
- name: HF_HUB_OFFLINE
  value: "1"
{{- end }}
{{- end -}}

{{- define "ms.volumeMounts" -}}
- name: shm
  mountPath: /dev/shm
- name: tmp
  mountPath: /tmp
- name: models
  mountPath: {{ .Values.cache.mountPath }}
{{- if eq .Values.weights.source "hf" }}
- name: hf-token
  mountPath: /var/run/secrets/hf
  readOnly: true
{{- end }}
{{- end -}}

{{- define "ms.volumes" -}}
- name: shm
  emptyDir:
    medium: Memory
    sizeLimit: {{ printf "%vGi" .Values.shmSizeGi }}
- name: tmp
  emptyDir:
    sizeLimit: 8Gi
- name: models
  emptyDir:
    sizeLimit: {{ printf "%vGi" .Values.cache.sizeGi }}
{{- if eq .Values.weights.source "hf" }}
- name: hf-token
  secret:
    secretName: {{ .Values.weights.hfTokenSecret }}
    defaultMode: 0440
{{- end }}
{{- end -}}

{{- define "ms.resources" -}}
requests:
  cpu: {{ .Values.resources.cpu | quote }}
  memory: {{ .Values.resources.memory | quote }}
  nvidia.com/gpu: {{ .Values.gpus | quote }}
limits:
  cpu: {{ .Values.resources.cpu | quote }}
  memory: {{ .Values.resources.memory | quote }}
  nvidia.com/gpu: {{ .Values.gpus | quote }}
{{- end -}}

{{/* S3 weights: sync the prefix into the cache with the pod's IAM role (EKS Pod Identity). */}}
{{- define "ms.initContainers" -}}
{{- if eq .Values.weights.source "s3" }}
initContainers:
  - name: fetch-weights
    image: {{ .Values.weights.syncImage | quote }}
    imagePullPolicy: Always
    command: ["aws", "s3", "sync", {{ .Values.weights.s3Uri | quote }}, {{ printf "%s/weights" .Values.cache.mountPath | quote }}, "--no-progress", "--region", {{ .Values.weights.region | quote }}]
    env:
      - name: HOME
        value: /tmp
    resources:
      requests: {cpu: "2", memory: 2Gi}
      limits: {cpu: "2", memory: 2Gi}
    securityContext:
      {{- include "ms.securityContext" . | nindent 6 }}
    volumeMounts:
      - name: tmp
        mountPath: /tmp
      - name: models
        mountPath: {{ .Values.cache.mountPath }}
{{- end }}
{{- end -}}

{{- define "ms.engineContainer" -}}
name: engine
image: {{ printf "%s:%s" .Values.image.repository .Values.image.tag | quote }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
{{- if eq .Values.engine "vllm" }}
{{- if gt (int .Values.nodesPerReplica) 1 }}
command: ["/bin/sh", "-c", "ray start --head --port=6379 && exec vllm serve \"$@\"", "--"]
{{- else }}
command: ["vllm", "serve"]
{{- end }}
{{- else }}
command: ["text-generation-launcher"]
{{- end }}
args:
  {{- include "ms.engineArgs" . | nindent 2 }}
ports:
  - name: http
    containerPort: {{ .Values.port }}
    protocol: TCP
env:
  {{- include "ms.env" . | nindent 2 }}
resources:
  {{- include "ms.resources" . | nindent 2 }}
securityContext:
  {{- include "ms.securityContext" . | nindent 2 }}
volumeMounts:
  {{- include "ms.volumeMounts" . | nindent 2 }}
startupProbe:
  httpGet:
    path: /health
    port: http
  periodSeconds: {{ .Values.probes.startup.periodSeconds }}
  failureThreshold: {{ .Values.probes.startup.failureThreshold }}
  timeoutSeconds: 5
readinessProbe:
  exec:
    command:
      - python3
      - -c
      - {{ include "ms.readinessScript" . | quote }}
  periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
  timeoutSeconds: {{ .Values.probes.readiness.timeoutSeconds }}
  failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
livenessProbe:
  httpGet:
    path: /health
    port: http
  periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
  timeoutSeconds: {{ .Values.probes.liveness.timeoutSeconds }}
  failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
{{- end -}}

{{- define "ms.podSpecCommon" -}}
serviceAccountName: {{ .Values.serviceAccount.name }}
automountServiceAccountToken: false
securityContext:
  {{- include "ms.podSecurityContext" . | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
terminationGracePeriodSeconds: 60
volumes:
  {{- include "ms.volumes" . | nindent 2 }}
{{- end -}}
